"""Meta Fine-Tuning (MFT, Wang et al. 2020, EMNLP): a related method to neuron selection.

MFT inserts a multi-domain training stage between pre-training and per-domain
fine-tuning.  A *meta-learner* (the encoder plus a label head, a domain embedding
and one domain classifier per selected layer) is trained on the training rows of
all K domains with

* the typicality-sensitive label classification loss ``L_TLC`` (instances weighted
  by their typicality score ``t_i^k``), and
* the skip-layer domain corruption loss ``L_SDC``: for every layer ``l`` in ``L_s``
  a domain classifier sees ``h_l(x) + E_D(k)`` (mean-pooled layer ``l`` plus the
  embedding of the *true* domain) and is trained against *corrupted* domain labels
  ``z_i`` (the batch's domain labels shuffled), so the encoder must hide domain
  information.

Afterwards the extra layers are dropped and the encoder is fine-tuned per domain
(:func:`fine_tune`).

Equation numbers
----------------
The paper prints no equation numbers; the numbers used in this module count its
display equations of section 3 in order of appearance:

====  =========================================================================
(1)   class prototype ``c_m^k`` = mean of ``E(x)`` over ``D_m^k`` (in-line, §3.2)
(2)   typicality ``t_i^k`` with one prototype per (domain, class) (§3.2)
(3)   typicality with several prototypes and memberships ``beta_n`` (§3.2)
(4)   ``L_TLC`` typicality-sensitive label classification loss (§3.2)
(5)   ``L_AD``  adversarial domain loss (§3.3, not used)
(6)   ``L_FD``  flipped domain loss (§3.3, not used)
(7)   ``h_l(x)`` mean pooling of layer ``l`` excluding [CLS] (§3.3)
(8)   ``L_TDC`` typicality-sensitive domain corruption loss, one layer (§3.3)
(9)   ``L_SDC`` skip-layer domain corruption loss, average over ``L_s`` (§3.3)
(10)  ``L = L_TLC + lambda * L_SDC`` written out (§3.4)
====  =========================================================================

Ambiguities resolved (see the function docstrings for details)
---------------------------------------------------------------
* Typicality is *not* rescaled after (2)/(3): the paper's only normalisation is
  the convex weighting ``alpha`` / ``(1 - alpha) / (K - 1)`` of cosines, so
  ``t`` lies in ``[-1, 1]`` and is used as is in (4) and (8)-(10).
* In (3) the sum over ``n`` runs over the prototypes (clusters) of the instance's
  own class ``m`` in the domain in question and ``beta_n`` is the fuzzy c-means
  membership (fuzzifier 2) of ``E(x)`` to those clusters; with one prototype it
  reduces to (2) exactly.
* Corruption follows Algorithm 1 line 10 and §3.4: the domain labels of each
  batch are shuffled (a random permutation), which approximates sampling ``z_i``
  from the MLE domain distribution; it keeps the batch's label multiset and may
  leave some labels unchanged ("may or may not be the same as k").
* ``h_l`` (7) averages the non-padding tokens of layer ``l`` except [CLS]
  (position 0); the paper writes the average up to ``Max`` but padding carries
  no text.  ``L_s`` indices count transformer layers from 1 (``{4, 8, 12}`` for
  BERT-base), i.e. ``hidden_states[l]`` of Hugging Face models.
* The label head reads the last layer's [CLS] vector (``f(x)`` in (4)) through
  dropout and one linear layer, as in Devlin et al.; optimiser AdamW
  (weight decay 0.01) with 10 % linear warm-up and linear decay (§4.1: "the
  optimizer and the reminder settings are the same as in Devlin et al.").
"""
