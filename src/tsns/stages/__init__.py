"""One module per DVC stage, named after it; each has ``run(...)`` (the notebooks and the command line call it).

The stages and their order are listed in :mod:`tsns.stages.registry`.
"""
