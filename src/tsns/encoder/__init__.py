"""The encoder: loading a model (:mod:`~tsns.encoder.model`), tokenising with a truncation strategy
(:mod:`~tsns.encoder.tokenize`), extracting the activations of every layer (:mod:`~tsns.encoder.extract`)
and the activation file format (:mod:`~tsns.encoder.activations`, no torch needed to read it)."""
