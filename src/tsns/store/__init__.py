"""The pipeline's files: one store of paths (:mod:`tsns.store.paths`), the verified loaders every stage
reads through (:mod:`tsns.store.load`), the shared writer (:mod:`tsns.store.write`) and the on-disk cache of
importance matrices (:mod:`tsns.store.qcache`)."""
