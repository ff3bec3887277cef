"""Configuration: ``params.yaml`` read once into one typed object per section.

``tsns.config.<section>`` holds the class of one section of ``params.yaml``
(:class:`tsns.config.importance.ImportanceConfig`, ...); a stage imports the
sections it reads, so a change to one section's class re-runs only the stages
that read it. :mod:`tsns.config.all` validates the whole file at once.
"""
