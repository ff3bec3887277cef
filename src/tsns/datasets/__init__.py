"""Datasets of Valipour et al. (2019), Table 1.

* :mod:`~tsns.datasets.spec` -- what a dataset is (files, downloads, checksums, labels);
* :mod:`~tsns.datasets.registry` -- one declarative entry per dataset;
* :mod:`~tsns.datasets.sources` -- the mirror folder, the embedded data, the official URL;
* :mod:`~tsns.datasets.parsers` -- one parser per official file format;
* :mod:`~tsns.datasets.load` -- a dataset from the first source that has it, as a normalised table;
* :mod:`~tsns.datasets.table` -- the normalised table: checks, checksum, parquet + sidecar.
"""
