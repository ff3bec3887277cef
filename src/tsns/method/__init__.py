"""The paper's algorithm, with no file I/O.

* :mod:`~tsns.method.learners` -- the learners of q, one file each, registered by name;
* :mod:`~tsns.method.single` -- SingleTSNS: random samples, q, eq. 1, ranks;
* :mod:`~tsns.method.multi` -- MultiTSNS: pairings, alpha tuning, meta-importance
  (:mod:`~tsns.method.qcache` shares q between learners);
* :mod:`~tsns.method.waterfill` -- splitting a sample budget between sources;
* :mod:`~tsns.method.transfer` -- the transfer classifier and the target-leak guards;
* :mod:`~tsns.method.fingerprint` -- the share of selected neurons per layer;
* :mod:`~tsns.method.selectors` -- the scikit-learn selectors ``SingleTSNS`` and ``MultiTSNS``;
* :mod:`~tsns.method.validation` -- every check of a parameter or an input;
* :mod:`~tsns.method.stats` -- summaries over seeds;
* beside the paper: :mod:`~tsns.method.representations` (the blog's fixed representations),
  :mod:`~tsns.method.transferability` (predicting transfer from selected neurons),
  :mod:`~tsns.method.parallel` (where the fits run).
"""
