"""Datasets of Valipour et al. (2019), Table 1: registry, parsers, sources, tables.

Every dataset of the paper is loaded from its *official* file format into one
normalised table (:data:`COLUMNS`) with a binary integer label:

=============  ===========  ======  ===============================================
name           task         pair    label = 1 / label = 0
=============  ===========  ======  ===============================================
books          sentiment    no      positive.review (4-5 stars) / negative (1-2)
dvd            sentiment    no      idem
electronics    sentiment    no      idem
kitchen        sentiment    no      idem (folder ``kitchen_&_housewares``)
imdb           sentiment    no      ``pos`` (rating >= 7) / ``neg`` (rating <= 4)
sst2           sentiment    no      ``1`` positive / ``0`` negative
rte            nli          yes     ``entailment`` / ``not_entailment``
mrpc           paraphrase   yes     ``1`` paraphrase / ``0`` not a paraphrase
scitail        nli          yes     ``entails`` / ``neutral``
snli           nli          yes     ``entailment`` / ``neutral``; contradiction and
                                    ``-`` (no gold label) pairs removed
mnli           nli          yes     ``entailment`` / ``neutral``; contradiction removed
qqp            paraphrase   yes     ``1`` duplicate / ``0`` not duplicate
=============  ===========  ======  ===============================================

Sources are tried in this order (:func:`load`):

1. a user mirror folder laid out like ``../shared/datasets`` (``mirror=``), every file
   checked against its known sha256 (mismatch: :class:`~tsns.errors.ChecksumError`);
2. data embedded in the repository under ``data/embedded/`` (the Amazon domains),
   byte-identical to the mirror files and checked member by member;
3. the official download URL, cached under ``cache_dir`` and checked against the
   archive checksum published by TensorFlow Datasets / Hugging Face datasets.

If none works a one-line :class:`~tsns.errors.DataUnavailableError` lists what was
tried and names the fix.

Text choices: Amazon ``text_a`` is the ``<review_text>`` field only (HTML entities
decoded, whitespace collapsed; the title is not prepended); IMDB ``<br />`` becomes a
space; GLUE / SciTail / SNLI texts are only stripped.  Bytes that are not valid UTF-8
are read as latin-1 (never an error).  A row whose text (or one text of a pair) is empty
after cleaning is dropped and counted in the provenance as ``dropped["empty_text"]``
(an Amazon review with an empty ``<review_text>`` falls back to its title first).
Duplicate texts present in the official releases are kept.  Per-dataset details (split choices, differences from the
paper such as SST-2's train set) are in :meth:`DatasetSpec.describe`.  Tables are saved as parquet with a JSON sidecar holding the
provenance and :func:`table_sha256`, so later stages can record which data they saw.
"""

from __future__ import annotations

import codecs
import csv
import dataclasses
import hashlib
import html
import io
import json
import logging
import os
import re
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import pandas as pd

from tsns.errors import ChecksumError, ConfigError, DataUnavailableError, TSNSError
from tsns.io import atomic_path, file_sha256

__all__ = [
    "COLUMNS",
    "SPLITS",
    "DatasetSpec",
    "Download",
    "FileSpec",
    "REGISTRY",
    "describe",
    "get_spec",
    "load",
    "read_table",
    "save_table",
    "table_sha256",
    "validate_labels",
]

logger = logging.getLogger(__name__)

#: Columns of every normalised table, in this order.
COLUMNS: tuple[str, ...] = ("id", "text_a", "text_b", "label", "split", "domain")
#: Allowed split names, in the order rows are sorted.
SPLITS: tuple[str, ...] = ("train", "dev", "test")

#: Folder of the data shipped in the repository (``<repo>/data/embedded``).
EMBEDDED_DIR: Path = Path(__file__).resolve().parents[2] / "data" / "embedded"

#: Seconds to wait for a connection / a read before a download attempt fails.
DOWNLOAD_TIMEOUT_S: float = 15.0

_CHUNK = 1 << 20


# --------------------------------------------------------------------------- specs
@dataclass(frozen=True)
class Download:
    """One official file or archive that can be downloaded.

    Attributes
    ----------
    url : str
        Official URL.
    sha256 : str or None
        Known sha256 of the downloaded bytes; ``None`` when no published checksum is
        known (the download is then accepted and its checksum recorded).
    filename : str
        Name of the cached copy under ``<cache_dir>/<dataset>/``.
    kind : str
        ``"file"`` (the download is the file itself), ``"zip"`` or ``"tar"``
        (members are read from the archive).
    """

    url: str
    sha256: str | None
    filename: str
    kind: str = "file"


@dataclass(frozen=True)
class FileSpec:
    """One file a dataset is read from.

    Attributes
    ----------
    path : str
        Path relative to a mirror folder (the ``../shared/datasets`` layout); also the
        key under which the parser finds the file.
    sha256 : tuple of str
        Accepted sha256 checksums of the file in a mirror / in the embedded archive;
        empty when none is known (the file is then accepted and its checksum recorded).
    split : str or None
        Split the file holds (``None`` when the parser decides, e.g. MRPC, IMDB).
    label : int or None
        Label of every record of the file (Amazon ``positive``/``negative`` files).
    required : bool
        A source that lacks a required file cannot provide the dataset; optional
        files are used when the chosen source has them.
    download : int or None
        Index into :attr:`DatasetSpec.downloads` of the official download holding the
        file; ``None`` when the file has no official URL.
    member : str or None
        Path of the file inside that archive; ``None`` when the download is the file.
    alt_paths : tuple of str
        Other accepted mirror-relative paths (e.g. the official IMDB tarball name).
    """

    path: str
    sha256: tuple[str, ...] = ()
    split: str | None = None
    label: int | None = None
    required: bool = True
    download: int | None = None
    member: str | None = None
    alt_paths: tuple[str, ...] = ()


@dataclass(frozen=True)
class DatasetSpec:
    """Everything needed to obtain and parse one dataset of the paper.

    Attributes
    ----------
    name : str
        Registry key, also the ``domain`` column of the table.
    title : str
        Human-readable dataset name.
    task : str
        ``"sentiment"``, ``"nli"`` or ``"paraphrase"``.
    pair : bool
        Sentence-pair dataset (``text_b`` filled) or single text.
    release : str
        Name of the official release, used in error messages.
    files : tuple of FileSpec
        Files read from a mirror / the embedded archive / the downloads.
    downloads : tuple of Download
        Official downloads (may be empty).
    parser : str
        Name of the parser in :data:`_PARSERS`.
    label_map : tuple of (str, int)
        Raw label value -> binary label.
    drop_labels : tuple of str
        Raw label values whose rows are removed (counted in provenance ``dropped``).
    embedded : str or None
        File name of the embedded archive under :data:`EMBEDDED_DIR` that holds the
        files (member name = ``path`` without ``embedded_prefix``).
    embedded_prefix : str
        Prefix of ``path`` that is not part of the embedded member names.
    notes : str
        Dataset-specific remarks (split choices, differences from the paper).
    homepage : str
        Dataset home page.
    label_doc : str
        The label mapping in words.
    """

    name: str
    title: str
    task: str
    pair: bool
    release: str
    files: tuple[FileSpec, ...]
    downloads: tuple[Download, ...]
    parser: str
    label_map: tuple[tuple[str, int], ...]
    drop_labels: tuple[str, ...] = ()
    embedded: str | None = None
    embedded_prefix: str = ""
    notes: str = ""
    homepage: str = ""
    label_doc: str = ""

    @property
    def labels(self) -> dict[str, int]:
        """Raw label value -> binary label, as a dict."""
        return dict(self.label_map)

    def describe(self) -> str:
        """Return a multi-line description: task, label mapping, splits, sources.

        Returns
        -------
        str
            Human-readable summary of the dataset and of how it is normalised.
        """
        pos = [k for k, v in self.label_map if v == 1]
        neg = [k for k, v in self.label_map if v == 0]
        lines = [
            f"{self.name}: {self.title} ({self.task}, {'sentence pair' if self.pair else 'single text'})",
            f"  label 1 <- {', '.join(map(repr, pos))}; label 0 <- {', '.join(map(repr, neg))}",
        ]
        if self.label_doc:
            lines.append(f"  labels: {self.label_doc}")
        if self.drop_labels:
            lines.append(f"  removed: rows labelled {', '.join(map(repr, self.drop_labels))}")
        for f in self.files:
            where = f"split {f.split!r}" if f.split else "splits set by the parser"
            sha = "sha256 known" if f.sha256 else "no sha256 known"
            req = "required" if f.required else "optional"
            lines.append(f"  file {f.path} ({where}; {req}; {sha})")
        for d in self.downloads:
            sha = "sha256 known" if d.sha256 else "no published sha256"
            lines.append(f"  official download {d.url} ({sha})")
        if self.embedded:
            lines.append(f"  embedded copy: data/embedded/{self.embedded}")
        if self.notes:
            lines.append(f"  notes: {self.notes}")
        return "\n".join(lines)


def _sha(*values: str) -> tuple[str, ...]:
    return tuple(values)


# Checksums of the mirror files: copied from ../shared/datasets/SHA256SUMS.
_AMAZON_SHA = {
    "books/negative": "562c58de7f739c9af2d62377ea2253ff73e89f69c84a332088f341cdb0e09660",
    "books/positive": "72c39d63dfd7edf77895de7c796f67e095f847f4b56bca0704aba3bbf57f23b9",
    "dvd/negative": "de1b539d29dc7edfbabf0ca4b1bce4e296d486533f3730012e4b49e36e762fa3",
    "dvd/positive": "fcf5207f79aa8af4910b5793c15fe90f25eb39501f9f4bdbd8f60a817224e28d",
    "electronics/negative": "571287120d63e289753231804f33169b2ec4348ca6d24fa0d781a3a08e6376ff",
    "electronics/positive": "98daefad1056ec8d98fe910bdb50ae282695b9c2b89c2bc1513b9d2203b38a11",
    "kitchen_&_housewares/negative": "0ad1fa1f4539b47933fcef01be674b1246d1dc01403197c1439004cbaf4b543e",
    "kitchen_&_housewares/positive": "90ebec2b5a6ac040e16836c32b8efbd92ce98804b916c6367f7ade3b8d536798",
}

# Official Amazon archive: no published checksum is known (none in torchtext,
# tensorflow-datasets or Hugging Face datasets), so the download is accepted
# unverified and its checksum recorded in the provenance.
_AMAZON_DOWNLOAD = Download(
    url="https://www.cs.jhu.edu/~mdredze/datasets/sentiment/domain_sentiment_data.tar.gz",
    sha256=None,
    filename="domain_sentiment_data.tar.gz",
    kind="tar",
)


def _amazon_spec(name: str, folder: str, title: str) -> DatasetSpec:
    files = tuple(
        FileSpec(
            path=f"amazon/sorted_data_acl/{folder}/{pol}.review",
            sha256=_sha(_AMAZON_SHA[f"{folder}/{pol}"]),
            split="train",
            label=lab,
            download=0,
            member=f"sorted_data_acl/{folder}/{pol}.review",
        )
        for pol, lab in (("negative", 0), ("positive", 1))
    )
    return DatasetSpec(
        name=name,
        title=f"Amazon product reviews, {title} (Blitzer et al. 2007)",
        task="sentiment",
        pair=False,
        release="Amazon multi-domain sentiment (domain_sentiment_data.tar.gz, sorted_data_acl/)",
        files=files,
        downloads=(_AMAZON_DOWNLOAD,),
        parser="amazon",
        label_map=(("positive", 1), ("negative", 0)),
        embedded="amazon_sorted_data_acl.tar.xz",
        embedded_prefix="amazon/",
        homepage="https://www.cs.jhu.edu/~mdredze/datasets/sentiment/",
        notes=(
            "all 2,000 labelled reviews (1,000 per label) in split 'train' (paper Table 1: "
            "2,000 each, used as source or target); the unlabeled.review files are not used. "
            "text_a = the <review_text> field only (the <title> is not prepended: the paper "
            "does not say it used titles); HTML entities (&quot; &amp; &lt; &#8217;) are "
            "decoded and whitespace runs collapsed; a review whose text is empty falls "
            "back to its title. Bytes are decoded per field as UTF-8, else latin-1."
        ),
    )


REGISTRY: dict[str, DatasetSpec] = {}

for _name, _folder, _title in (
    ("books", "books", "Books"),
    ("dvd", "dvd", "DVD"),
    ("electronics", "electronics", "Electronics"),
    ("kitchen", "kitchen_&_housewares", "Kitchen & housewares"),
):
    REGISTRY[_name] = _amazon_spec(_name, _folder, _title)

REGISTRY["imdb"] = DatasetSpec(
    name="imdb",
    title="Large Movie Review Dataset / MR (Maas et al. 2011)",
    task="sentiment",
    pair=False,
    release="IMDB aclImdb_v1.tar.gz",
    files=(
        FileSpec(
            path="imdb/aclImdb_v1_labeled.tar.gz",
            # mirror copy (labelled part only) and the official archive
            sha256=_sha(
                "eabd1a6dd706d60eaabf0ac2d887728f93c82e986df0c275499d3863ae8c7ce9",
                "c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
            ),
            download=0,
            member=None,
            alt_paths=("imdb/aclImdb_v1.tar.gz",),
        ),
    ),
    downloads=(
        # sha256 from tensorflow-datasets url_checksums/imdb_reviews.txt (84,125,825 bytes)
        Download(
            url="http://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
            sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
            filename="aclImdb_v1.tar.gz",
        ),
    ),
    parser="imdb",
    label_map=(("pos", 1), ("neg", 0)),
    homepage="https://ai.stanford.edu/~amaas/data/sentiment/",
    notes=(
        "the paper's 'MR' (25,000 training reviews); split 'train' = aclImdb/train "
        "(25,000), split 'test' = aclImdb/test (25,000); train/unsup and the .feat files are "
        "ignored. The archive is read as a stream, never extracted; '<br />' is replaced by "
        "a space and whitespace runs collapsed. id = '<split>:<pos|neg>:<ID>_<RATING>'."
    ),
)

# GLUE archives: sha256 from Hugging Face datasets datasets/glue/dataset_infos.json
# (download_checksums; the same values appear in tensorflow-datasets
# url_checksums/glue.txt for the older firebasestorage URLs of the same zips).
_GLUE = "https://dl.fbaipublicfiles.com/glue/data/"

REGISTRY["sst2"] = DatasetSpec(
    name="sst2",
    title="SST-Binary / SST-2 (Socher et al. 2013; GLUE)",
    task="sentiment",
    pair=False,
    release="GLUE SST-2 (SST-2.zip)",
    files=(
        FileSpec(
            "glue/SST-2/train.tsv",
            _sha("48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1"),
            split="train",
            download=0,
            member="SST-2/train.tsv",
        ),
        FileSpec(
            "glue/SST-2/dev.tsv",
            _sha("54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0"),
            split="dev",
            download=0,
            member="SST-2/dev.tsv",
        ),
        # Not part of GLUE (GLUE's test.tsv is unlabelled); no official URL: mirror only.
        FileSpec(
            "glue/SST-2/test_labeled.tsv",
            _sha("fcd46f967b7b8efd8b5398481dadf873886298d092195167af907fd532e81e1c"),
            split="test",
            required=False,
        ),
    ),
    downloads=(
        Download(
            url=_GLUE + "SST-2.zip",
            sha256="d67e16fb55739c1b32cdce9877596db1c127dc322d93c082281f64057c16deaa",
            filename="SST-2.zip",
            kind="zip",
        ),
    ),
    parser="sst2",
    label_map=(("1", 1), ("0", 0)),
    homepage="https://nlp.stanford.edu/sentiment/",
    notes=(
        "DIFFERS FROM THE PAPER: the paper's SST-Binary train set is the 6,920 sentence-level "
        "training sentences, which cannot be separated from GLUE's 67,349 phrases and "
        "sentences without the original treebank; here split 'train' = GLUE train (67,349), "
        "'dev' = GLUE dev (872), 'test' = test_labeled.tsv (1,821 labelled GLUE test "
        "sentences, not part of GLUE, mirror only: absent when loaded from the URL)."
    ),
)

REGISTRY["rte"] = DatasetSpec(
    name="rte",
    title="Recognizing Textual Entailment (GLUE RTE)",
    task="nli",
    pair=True,
    release="GLUE RTE (RTE.zip)",
    files=(
        FileSpec(
            "glue/RTE/train.tsv",
            _sha("81d25e323e1ab5b2ad7cd445f1a69db89f2b1c104f3e26915a9421aa4a5f4735"),
            split="train",
            download=0,
            member="RTE/train.tsv",
        ),
        FileSpec(
            "glue/RTE/dev.tsv",
            _sha("80230dfa1347282e7b532b06a1004a76a710087541189bf874223ddf0e3819fb"),
            split="dev",
            download=0,
            member="RTE/dev.tsv",
        ),
    ),
    downloads=(
        Download(
            url=_GLUE + "RTE.zip",
            sha256="6bf86de103ecd335f3441bd43574d23fef87ecc695977a63b82d5efb206556ee",
            filename="RTE.zip",
            kind="zip",
        ),
    ),
    parser="glue_pair",
    label_map=(("entailment", 1), ("not_entailment", 0)),
    homepage="https://aclweb.org/aclwiki/Recognizing_Textual_Entailment",
    notes=(
        "split 'train' = GLUE train (2,490), 'dev' = GLUE dev (277); GLUE's test.tsv (3,000) "
        "is unlabelled and is not read."
    ),
)

REGISTRY["mrpc"] = DatasetSpec(
    name="mrpc",
    title="Microsoft Research Paraphrase Corpus (GLUE MRPC)",
    task="paraphrase",
    pair=True,
    release="MSR paraphrase corpus as GLUE distributes it (msr_paraphrase_{train,test}.txt, mrpc_dev_ids.tsv)",
    files=(
        # these three mirror checksums equal the official ones published by
        # tensorflow-datasets (url_checksums/glue.txt) and Hugging Face datasets
        FileSpec(
            "glue/MRPC/msr_paraphrase_train.txt",
            _sha("60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89"),
            download=0,
        ),
        FileSpec(
            "glue/MRPC/dev_ids.tsv",
            _sha("971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7"),
            download=1,
        ),
        FileSpec(
            "glue/MRPC/msr_paraphrase_test.txt",
            _sha("a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784"),
            split="test",
            download=2,
        ),
    ),
    downloads=(
        Download(
            url="https://dl.fbaipublicfiles.com/senteval/senteval_data/msr_paraphrase_train.txt",
            sha256="60a9b09084528f0673eedee2b69cb941920f0b8cd0eeccefc464a98768457f89",
            filename="msr_paraphrase_train.txt",
        ),
        Download(
            url=_GLUE + "mrpc_dev_ids.tsv",
            sha256="971d7767d81b997fd9060ade0ec23c4fc31cbb226a55d1bd4a1bac474eb81dc7",
            filename="dev_ids.tsv",
        ),
        Download(
            url="https://dl.fbaipublicfiles.com/senteval/senteval_data/msr_paraphrase_test.txt",
            sha256="a04e271090879aaba6423d65b94950c089298587d9c084bf9cd7439bd785f784",
            filename="msr_paraphrase_test.txt",
        ),
    ),
    parser="mrpc",
    label_map=(("1", 1), ("0", 0)),
    homepage="https://www.microsoft.com/en-us/download/details.aspx?id=52398",
    notes=(
        "as GLUE builds it: 'train' = msr_paraphrase_train.txt minus the pairs listed in "
        "dev_ids.tsv (3,668), 'dev' = those pairs (408), 'test' = msr_paraphrase_test.txt "
        "(1,725). The mirror's train.tsv lacks one pair and is not used. Files start with a "
        "BOM and contain '\"': read as utf-8-sig with quoting disabled. Paper Table 1 lists "
        "3,917 training pairs, which matches no official split."
    ),
)

REGISTRY["scitail"] = DatasetSpec(
    name="scitail",
    title="SciTail (Khot et al. 2018)",
    task="nli",
    pair=True,
    release="SciTail (SciTailV1.1.zip, tsv_format/)",
    files=(
        FileSpec(
            "scitail/scitail_1.0_train.tsv",
            split="train",
            required=False,
            download=0,
            member="SciTailV1.1/tsv_format/scitail_1.0_train.tsv",
        ),
        FileSpec(
            "scitail/scitail_1.0_dev.tsv",
            split="dev",
            required=False,
            download=0,
            member="SciTailV1.1/tsv_format/scitail_1.0_dev.tsv",
        ),
        FileSpec(
            "scitail/scitail_1.0_test.tsv",
            _sha("5f6dd1d7ad603a5f07202675991163395a56bc7d2382b56d96742f3053647ab7"),
            split="test",
            download=0,
            member="SciTailV1.1/tsv_format/scitail_1.0_test.tsv",
        ),
    ),
    downloads=(
        # sha256 from Hugging Face datasets datasets/scitail/urls_checksums/checksums.txt
        # (14,174,621 bytes)
        Download(
            url="http://data.allenai.org.s3.amazonaws.com/downloads/SciTailV1.1.zip",
            sha256="3fccd37350a94ca280b75998568df85fc2fc62843a3198d644fcbf858e6943d5",
            filename="SciTailV1.1.zip",
            kind="zip",
        ),
    ),
    parser="scitail",
    label_map=(("entails", 1), ("neutral", 0)),
    homepage="https://allenai.org/data/scitail",
    notes=(
        "test (2,126: 842 entails) is the split the paper transfers to; train (23,596) and "
        "dev are optional and are loaded when the source has them (the shared mirror has the "
        "test split only). tsv: premise, hypothesis, label; no header."
    ),
)

REGISTRY["snli"] = DatasetSpec(
    name="snli",
    title="Stanford Natural Language Inference (Bowman et al. 2015)",
    task="nli",
    pair=True,
    release="SNLI 1.0 (snli_1.0.zip)",
    files=(
        FileSpec(
            "snli/snli_1.0_train.jsonl",
            split="train",
            required=False,
            download=0,
            member="snli_1.0/snli_1.0_train.jsonl",
        ),
        FileSpec(
            "snli/snli_1.0_dev.jsonl",
            _sha("a4a941d684dd401f8c1e0f3fd50fb67654335675246b888d208f296de98ca6a4"),
            split="dev",
            download=0,
            member="snli_1.0/snli_1.0_dev.jsonl",
        ),
        FileSpec(
            "snli/snli_1.0_test.jsonl",
            split="test",
            required=False,
            download=0,
            member="snli_1.0/snli_1.0_test.jsonl",
        ),
    ),
    downloads=(
        # sha256 from tensorflow-datasets url_checksums/snli.txt and Hugging Face datasets
        # datasets/snli/urls_checksums/checksums.txt (94,550,081 bytes)
        Download(
            url="https://nlp.stanford.edu/projects/snli/snli_1.0.zip",
            sha256="afb3d70a5af5d8de0d9d81e2637e0fb8c22d1235c2749d83125ca43dab0dbd3e",
            filename="snli_1.0.zip",
            kind="zip",
        ),
    ),
    parser="snli",
    label_map=(("entailment", 1), ("neutral", 0)),
    drop_labels=("contradiction", "-"),
    homepage="https://nlp.stanford.edu/projects/snli/",
    notes=(
        "contradiction pairs removed (paper Table 1 footnote) and pairs without a gold label "
        "('-') dropped: the official train split then has 366,180 pairs, the paper's number. "
        "The shared mirror has the dev split only (9,831 gold pairs -> 6,556 kept); train/test "
        "are optional and loaded when the source has them. id = '<split>:<line number>'."
    ),
)

REGISTRY["mnli"] = DatasetSpec(
    name="mnli",
    title="Multi-Genre Natural Language Inference (GLUE MNLI)",
    task="nli",
    pair=True,
    release="GLUE MNLI (MNLI.zip)",
    files=(
        # no checksum of the individual GLUE tsv files is known (only of the zip)
        FileSpec("glue/MNLI/train.tsv", split="train", download=0, member="MNLI/train.tsv"),
        FileSpec("glue/MNLI/dev_matched.tsv", split="dev", download=0, member="MNLI/dev_matched.tsv"),
    ),
    downloads=(
        Download(
            url=_GLUE + "MNLI.zip",
            sha256="e7c1d896d26ed6caf700110645df426cc2d8ebf02a5ab743d5a5c68ac1c83633",
            filename="MNLI.zip",
            kind="zip",
        ),
    ),
    parser="glue_pair",
    label_map=(("entailment", 1), ("neutral", 0)),
    drop_labels=("contradiction", "-"),
    homepage="https://cims.nyu.edu/~sbowman/multinli/",
    notes=(
        "classes limited to entailment / neutral (paper Table 1 footnote): contradiction "
        "removed, leaving 261,799 of GLUE's 392,702 training pairs (the paper's number); "
        "'dev' = dev_matched.tsv. Columns are found by header name (sentence1, sentence2, "
        "gold_label). Not in the shared mirror: supply the GLUE files or download."
    ),
)

REGISTRY["qqp"] = DatasetSpec(
    name="qqp",
    title="Quora Question Pairs (GLUE QQP)",
    task="paraphrase",
    pair=True,
    release="GLUE QQP (QQP-clean.zip)",
    files=(
        # no checksum of the individual GLUE tsv files is known (only of the zip)
        FileSpec("glue/QQP/train.tsv", split="train", download=0, member="QQP/train.tsv"),
        FileSpec("glue/QQP/dev.tsv", split="dev", download=0, member="QQP/dev.tsv"),
    ),
    downloads=(
        Download(
            url=_GLUE + "QQP-clean.zip",
            sha256="40e7c862c04eb26ee04b67fd900e76c45c6ba8e6d8fab4f8f1f8072a1a3fbae0",
            filename="QQP-clean.zip",
            kind="zip",
        ),
    ),
    parser="qqp",
    label_map=(("1", 1), ("0", 0)),
    homepage="https://quoradata.quora.com/First-Quora-Dataset-Release-Question-Pairs",
    notes=(
        "'train' = GLUE train, 'dev' = GLUE dev (the paper used GLUE dev as its test set, "
        "Table 1 footnote). Rows with a wrong column count or label (older QQP.zip releases "
        "have broken lines) are skipped and counted in provenance 'skipped_rows'. Not in the "
        "shared mirror: supply the GLUE files or download."
    ),
)

_LABEL_DOCS = {
    **{
        n: "1 = positive review (4-5 stars, positive.review), 0 = negative review (1-2 stars, negative.review)"
        for n in ("books", "dvd", "electronics", "kitchen")
    },
    "imdb": "1 = positive review (pos/, rating >= 7 of 10), 0 = negative review (neg/, rating <= 4)",
    "sst2": "1 = positive sentence, 0 = negative sentence (GLUE SST-2 labels)",
    "rte": "1 = entailment, 0 = not_entailment",
    "mrpc": "1 = paraphrase (Quality 1), 0 = not a paraphrase (Quality 0)",
    "scitail": "1 = entails, 0 = neutral",
    "snli": "1 = entailment, 0 = neutral (independent semantics); contradiction and '-' pairs removed",
    "mnli": "1 = entailment, 0 = neutral (independent semantics); contradiction pairs removed",
    "qqp": "1 = duplicate questions (is_duplicate 1), 0 = not duplicate",
}
for _n, _doc in _LABEL_DOCS.items():
    REGISTRY[_n] = dataclasses.replace(REGISTRY[_n], label_doc=_doc)

_ALIASES = {
    "mr": "imdb",
    "sst-2": "sst2",
    "sst_2": "sst2",
    "sst-binary": "sst2",
    "kitchen_&_housewares": "kitchen",
    "kitchen_and_housewares": "kitchen",
}


def get_spec(name: str) -> DatasetSpec:
    """Return the registry entry of a dataset.

    Parameters
    ----------
    name : str
        Registry name (case-insensitive; ``mr`` and ``sst-2`` are accepted aliases).

    Returns
    -------
    DatasetSpec

    Raises
    ------
    ConfigError
        If the name is unknown.
    """
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key not in REGISTRY:
        raise ConfigError(
            f"unknown dataset {name!r}: use one of {', '.join(REGISTRY)} "
            "(fix the dataset name in params.yaml or on the command line)"
        )
    return REGISTRY[key]


def describe(name: str) -> str:
    """Describe a dataset: task, label mapping, files, downloads and notes.

    Parameters
    ----------
    name : str
        Registry name.

    Returns
    -------
    str
        Multi-line description (see :meth:`DatasetSpec.describe`).
    """
    return get_spec(name).describe()


# --------------------------------------------------------------------- blobs
@dataclass
class _Blob:
    """A file obtained from some source: a path, bytes, or a member of a zip."""

    origin: str
    path: Path | None = None
    data: bytes | None = None
    zip_path: Path | None = None
    zip_member: str | None = None
    _sha: str | None = field(default=None, repr=False)

    @contextmanager
    def open(self) -> Iterator[IO[bytes]]:
        """Open the file for binary reading."""
        if self.data is not None:
            yield io.BytesIO(self.data)
        elif self.path is not None:
            with open(self.path, "rb") as fh:
                yield fh
        else:
            assert self.zip_path is not None and self.zip_member is not None
            with zipfile.ZipFile(self.zip_path) as zf, zf.open(self.zip_member) as fh:
                yield fh

    def sha256(self) -> str:
        """Return the sha256 of the file's bytes (computed once)."""
        if self._sha is None:
            h = hashlib.sha256()
            if self.data is not None:
                h.update(self.data)
            else:
                with self.open() as fh:
                    for chunk in iter(lambda: fh.read(_CHUNK), b""):
                        h.update(chunk)
            self._sha = h.hexdigest()
        return self._sha


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


def _verify(spec: DatasetSpec, fs: FileSpec, blob: _Blob, fix: str) -> None:
    if not fs.sha256:
        logger.warning(
            "%s: no known sha256 for %s; accepted unverified (sha256 %s recorded)",
            spec.name,
            fs.path,
            blob.sha256(),
        )
        return
    actual = blob.sha256()
    if actual not in fs.sha256:
        raise ChecksumError(
            _one_line(
                f"checksum mismatch for {blob.origin} (dataset {spec.name!r}): expected sha256 "
                f"{' or '.join(fs.sha256)}, got {actual}; {fix}"
            )
        )


# ------------------------------------------------------------------ sources
class _SourceMissing(Exception):
    """A source cannot provide a dataset (reason in the message)."""


def _from_mirror(spec: DatasetSpec, mirror: Path, verify: bool) -> tuple[dict[str, _Blob], str]:
    if not mirror.is_dir():
        raise _SourceMissing(f"mirror {mirror} (folder does not exist)")
    blobs: dict[str, _Blob] = {}
    missing = []
    for fs in spec.files:
        for rel in (fs.path, *fs.alt_paths):
            p = mirror / rel
            if p.is_file():
                blobs[fs.path] = _Blob(origin=str(p), path=p)
                break
        else:
            if fs.required:
                missing.append(fs.path)
    if missing:
        raise _SourceMissing(f"mirror {mirror} (missing {', '.join(missing)})")
    if verify:
        for fs in spec.files:
            if fs.path in blobs:
                _verify(
                    spec,
                    fs,
                    blobs[fs.path],
                    fix=(
                        "replace the file with the official release (see "
                        "../shared/datasets/SHA256SUMS) or point data.mirror at an unmodified copy"
                    ),
                )
    return blobs, str(mirror)


def _from_embedded(spec: DatasetSpec, verify: bool) -> tuple[dict[str, _Blob], str]:
    if not spec.embedded:
        raise _SourceMissing("embedded data (none for this dataset)")
    archive = Path(EMBEDDED_DIR) / spec.embedded
    if not archive.is_file():
        raise _SourceMissing(f"embedded archive {archive} (not found)")
    wanted = {}
    for fs in spec.files:
        member = fs.path[len(spec.embedded_prefix) :] if fs.path.startswith(spec.embedded_prefix) else fs.path
        wanted[member] = fs
    blobs: dict[str, _Blob] = {}
    try:
        with tarfile.open(archive, mode="r|xz") as tar:
            for m in tar:
                if m.isfile() and m.name in wanted:
                    fh = tar.extractfile(m)
                    assert fh is not None
                    fs = wanted[m.name]
                    blobs[fs.path] = _Blob(origin=f"{archive}:{m.name}", data=fh.read())
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ChecksumError(
            _one_line(
                f"embedded archive {archive} is unreadable ({exc}); restore it with "
                "`git checkout -- data/embedded` (see data/embedded/PROVENANCE.md)"
            )
        ) from exc
    missing = [fs.path for fs in spec.files if fs.required and fs.path not in blobs]
    if missing:
        raise _SourceMissing(f"embedded archive {archive} (missing {', '.join(missing)})")
    if verify:
        for fs in spec.files:
            if fs.path in blobs:
                _verify(
                    spec,
                    fs,
                    blobs[fs.path],
                    fix="restore the archive with `git checkout -- data/embedded` (see data/embedded/PROVENANCE.md)",
                )
    default = Path(__file__).resolve().parents[2] / "data" / "embedded"
    origin = f"data/embedded/{spec.embedded}" if Path(EMBEDDED_DIR).resolve() == default else str(archive)
    return blobs, origin


def _fetch_url(url: str, dest: Path, *, timeout: float = DOWNLOAD_TIMEOUT_S) -> str:
    """Download ``url`` to ``dest`` through a temporary file; return its sha256.

    The bytes go to a temporary file in ``dest``'s folder that is renamed to ``dest``
    only when the transfer completes; on any failure it is removed.

    Parameters
    ----------
    url : str
        URL (``http(s)://`` or ``file://``).
    dest : Path
        Final path of the download.
    timeout : float
        Seconds to wait for the connection and for each read.

    Returns
    -------
    str
        sha256 of the downloaded bytes.
    """
    from tqdm.auto import tqdm

    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out:
            req = urllib.request.Request(url, headers={"User-Agent": "tsns-data/0.1"})
            with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
                total = resp.headers.get("Content-Length")
                with tqdm(
                    total=int(total) if total and total.isdigit() else None,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=dest.name,
                    leave=False,
                ) as bar:
                    for chunk in iter(lambda: resp.read(_CHUNK), b""):
                        out.write(chunk)
                        h.update(chunk)
                        bar.update(len(chunk))
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return h.hexdigest()


def _find_member(names: Sequence[str], member: str) -> str | None:
    if member in names:
        return member
    hits = [n for n in names if n.endswith("/" + member) and "__MACOSX" not in n]
    return hits[0] if len(hits) == 1 else None


def _from_url(
    spec: DatasetSpec, cache_dir: Path, allow_download: bool, verify: bool
) -> tuple[dict[str, _Blob], str, dict[str, str]]:
    if not spec.downloads:
        raise _SourceMissing("official URL (none known)")
    folder = Path(cache_dir) / spec.name
    needed = sorted({fs.download for fs in spec.files if fs.download is not None})
    required = {fs.download for fs in spec.files if fs.download is not None and fs.required}
    got: dict[int, Path] = {}
    digests: dict[str, str] = {}
    problems: list[str] = []
    for i in needed:
        d = spec.downloads[i]
        dest = folder / d.filename
        if dest.is_file():
            digest = file_sha256(dest)
            if not verify or d.sha256 is None or digest == d.sha256:
                logger.info("%s: using cached download %s", spec.name, dest)
                got[i], digests[d.url] = dest, digest
                continue
            logger.warning(
                "%s: cached %s has sha256 %s, expected %s; fetching again", spec.name, dest, digest, d.sha256
            )
            dest.unlink()
        if not allow_download:
            problems.append(f"{d.url} (download disabled: allow_download=False)")
            continue
        logger.info("%s: downloading %s", spec.name, d.url)
        try:
            digest = _fetch_url(d.url, dest)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", None) or exc
            problems.append(f"{d.url} ({type(exc).__name__}: {_one_line(str(reason))})")
            continue
        if verify and d.sha256 is not None and digest != d.sha256:
            dest.unlink(missing_ok=True)
            raise ChecksumError(
                _one_line(
                    f"checksum mismatch for download {d.url} (dataset {spec.name!r}): expected "
                    f"sha256 {d.sha256}, got {digest}; the server copy changed or the transfer "
                    "was corrupted: retry, or put the official files in a mirror folder (data.mirror)"
                )
            )
        if d.sha256 is None:
            logger.warning("%s: no published sha256 for %s; accepted (sha256 %s recorded)", spec.name, d.url, digest)
        got[i], digests[d.url] = dest, digest
    if any(i not in got for i in required):
        raise _SourceMissing("official URL: " + "; ".join(problems))

    blobs: dict[str, _Blob] = {}
    missing: list[str] = []
    tar_wanted: dict[int, dict[str, FileSpec]] = {}
    for fs in spec.files:
        if fs.download is None or fs.download not in got:
            if fs.required:
                missing.append(fs.path)
            continue
        d, path = spec.downloads[fs.download], got[fs.download]
        if fs.member is None or d.kind == "file":
            blobs[fs.path] = _Blob(origin=str(path), path=path)
        elif d.kind == "zip":
            with zipfile.ZipFile(path) as zf:
                name = _find_member(zf.namelist(), fs.member)
            if name is None:
                if fs.required:
                    missing.append(f"{fs.member} in {path.name}")
                continue
            blobs[fs.path] = _Blob(origin=f"{path}:{name}", zip_path=path, zip_member=name)
        else:
            tar_wanted.setdefault(fs.download, {})[fs.member] = fs
    for i, wanted in tar_wanted.items():
        path = got[i]
        with tarfile.open(path, mode="r|*") as tar:
            for m in tar:
                if not m.isfile():
                    continue
                hit = next((k for k in wanted if m.name == k or m.name.endswith("/" + k)), None)
                if hit is not None and wanted[hit].path not in blobs:
                    fh = tar.extractfile(m)
                    assert fh is not None
                    blobs[wanted[hit].path] = _Blob(origin=f"{path}:{m.name}", data=fh.read())
        missing += [f"{k} in {path.name}" for k, fs in wanted.items() if fs.required and fs.path not in blobs]
    if missing:
        raise _SourceMissing(f"official URL (downloaded, but missing {', '.join(missing)})")
    return blobs, ", ".join(spec.downloads[i].url for i in sorted(got)), digests


# ------------------------------------------------------------------ parsers
@dataclass
class _Parsed:
    ids: list[str] = field(default_factory=list)
    text_a: list[str] = field(default_factory=list)
    text_b: list[str | None] = field(default_factory=list)
    label: list[int] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    skipped: int = 0
    dropped: Counter = field(default_factory=Counter)

    def drop_empty(self) -> None:
        """Count a row whose text is empty after cleaning (kept out of the table)."""
        self.dropped[EMPTY_TEXT] += 1

    def add(self, id_: str, a: str, b: str | None, label: int, split: str) -> None:
        self.ids.append(id_)
        self.text_a.append(a)
        self.text_b.append(b)
        self.label.append(int(label))
        self.split.append(split)


#: ``dropped`` reason of rows whose text (or one text of a pair) is empty after cleaning.
EMPTY_TEXT = "empty_text"

_WS = re.compile(r"\s+")
_BR = re.compile(r"<br\s*/?>", re.I)


def _clean(text: str) -> str:
    return _WS.sub(" ", text.replace("\ufeff", "")).strip()


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def _latin1_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: read bytes that are not valid UTF-8 as latin-1 (like :func:`_decode`)."""
    if isinstance(exc, UnicodeDecodeError):
        return exc.object[exc.start : exc.end].decode("latin-1"), exc.end
    raise exc


#: ``errors=`` name for text streams: undecodable bytes become latin-1 characters, never an exception.
_LATIN1_FALLBACK = "tsns-latin1-fallback"
codecs.register_error(_LATIN1_FALLBACK, _latin1_fallback)


_REVIEW_RE = re.compile(rb"<review>(.*?)</review>", re.S)


def _field(block: bytes, tag: bytes) -> str:
    m = re.search(rb"<" + tag + rb">(.*?)</" + tag + rb">", block, re.S)
    return _decode(m.group(1)) if m else ""


def _parse_amazon(spec: DatasetSpec, blobs: Mapping[str, _Blob]) -> _Parsed:
    out = _Parsed()
    for fs in spec.files:
        blob = blobs[fs.path]
        with blob.open() as fh:
            data = fh.read()
        pol = "positive" if fs.label == 1 else "negative"
        n_open = data.count(b"<review>")
        blocks = _REVIEW_RE.findall(data)
        out.skipped += n_open - len(blocks)
        for i, block in enumerate(blocks):
            text = _clean(html.unescape(_field(block, b"review_text")))
            if not text:
                text = _clean(html.unescape(_field(block, b"title")))
            if not text:
                out.drop_empty()
                continue
            assert fs.label is not None and fs.split is not None
            out.add(f"{spec.name}:{pol}:{i:04d}", text, None, fs.label, fs.split)
    return out


_IMDB_RE = re.compile(r"(?:^|/)aclImdb/(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def _parse_imdb(spec: DatasetSpec, blobs: Mapping[str, _Blob]) -> _Parsed:
    labels = spec.labels
    found = []
    (fs,) = spec.files
    with blobs[fs.path].open() as fh, tarfile.open(fileobj=fh, mode="r|*") as tar:
        for m in tar:
            if not m.isfile():
                continue
            mm = _IMDB_RE.search(m.name)
            if mm is None:
                continue
            member = tar.extractfile(m)
            assert member is not None
            text = _clean(_BR.sub(" ", _decode(member.read())))
            split, pol, num, rating = mm.groups()
            found.append((SPLITS.index(split), pol, int(num), rating, text))
    out = _Parsed()
    for split_rank, pol, num, rating, text in sorted(found, key=lambda r: (r[0], labels[r[1]], r[2])):
        split = SPLITS[split_rank]
        if not text:
            out.drop_empty()
            continue
        out.add(f"{spec.name}:{split}:{pol}:{num}_{rating}", text, None, labels[pol], split)
    return out


def _tsv_rows(blob: _Blob) -> Iterator[list[str]]:
    """Yield the rows of a tab-separated file, quoting disabled, BOM stripped, non-UTF-8 bytes as latin-1."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    with blob.open() as fh, io.TextIOWrapper(fh, encoding="utf-8-sig", errors=_LATIN1_FALLBACK, newline="") as text:
        yield from csv.reader(text, delimiter="\t", quoting=csv.QUOTE_NONE)


def _parse_sst2(spec: DatasetSpec, blobs: Mapping[str, _Blob]) -> _Parsed:
    out = _Parsed()
    labels = spec.labels
    for fs in spec.files:
        if fs.path not in blobs:
            continue
        rows = _tsv_rows(blobs[fs.path])
        header = next(rows, [])
        try:
            ti, li = header.index("sentence" if "sentence" in header else "content"), header.index("label")
        except ValueError:
            raise DataUnavailableError(
                _one_line(
                    f"{blobs[fs.path].origin} has header {header!r}, expected 'sentence<TAB>label' or "
                    "'label<TAB>content'; replace it with the official GLUE SST-2 file"
                )
            ) from None
        for k, row in enumerate(rows):
            if len(row) != len(header) or row[li].strip() not in labels:
                out.skipped += 1
                continue
            if not _clean(row[ti]):
                out.drop_empty()
                continue
            out.add(f"{spec.name}:{fs.split}:{k}", row[ti].strip(), None, labels[row[li].strip()], fs.split or "train")
    return out


def _header_index(header: list[str], names: Sequence[str], blob: _Blob, release: str) -> list[int]:
    try:
        return [header.index(n) for n in names]
    except ValueError:
        raise DataUnavailableError(
            _one_line(
                f"{blob.origin} has columns {header!r}, expected {list(names)!r}; "
                f"replace it with the official {release} file"
            )
        ) from None


def _pair_rows(
    spec: DatasetSpec,
    out: _Parsed,
    fs: FileSpec,
    rows: Iterator[list[str]],
    n_cols: int,
    cols: tuple[int | None, int, int, int],
) -> None:
    """Add the rows of one pair-dataset file; ``cols`` = (id, text_a, text_b, label)."""
    labels, drop = spec.labels, set(spec.drop_labels)
    id_i, a_i, b_i, l_i = cols
    for k, row in enumerate(rows):
        if len(row) != n_cols:
            out.skipped += 1
            continue
        lab = row[l_i].strip()
        if lab in drop:
            out.dropped["no_gold_label" if lab == "-" else lab] += 1
            continue
        a, b = row[a_i].strip(), row[b_i].strip()
        if lab not in labels:
            out.skipped += 1
            continue
        if not _clean(a) or not _clean(b):
            out.drop_empty()
            continue
        rid = row[id_i].strip() if id_i is not None else str(k)
        out.add(f"{spec.name}:{fs.split}:{rid}", a, b, labels[lab], fs.split or "train")


def _parse_glue_pair(spec: DatasetSpec, blobs: Mapping[str, _Blob]) -> _Parsed:
    """RTE (index sentence1 sentence2 label) and MNLI (... sentence1 sentence2 ... gold_label)."""
    out = _Parsed()
    for fs in spec.files:
        if fs.path not in blobs:
            continue
        rows = _tsv_rows(blobs[fs.path])
        header = next(rows, [])
        label_col = "gold_label" if "gold_label" in header else "label"
        id_i, a_i, b_i, l_i = _header_index(
            header, ["index", "sentence1", "sentence2", label_col], blobs[fs.path], spec.release
        )
        _pair_rows(spec, out, fs, rows, len(header), (id_i, a_i, b_i, l_i))
    return out


def _parse_qqp(spec: DatasetSpec, blobs: Mapping[str, _Blob]) -> _Parsed:
    out = _Parsed()
    for fs in spec.files:
        if fs.path not in blobs:
            continue
        rows = _tsv_rows(blobs[fs.path])
        header = next(rows, [])
        cols = _header_index(header, ["id", "question1", "question2", "is_duplicate"], blobs[fs.path], spec.release)
        before = out.skipped
        _pair_rows(spec, out, fs, rows, len(header), tuple(cols))  # type: ignore[arg-type]
        if out.skipped > before:
            logger.warning("%s: skipped %d malformed rows of %s", spec.name, out.skipped - before, fs.path)
    return out


def _parse_scitail(spec: DatasetSpec, blobs: Mapping[str, _Blob]) -> _Parsed:
    out = _Parsed()
    for fs in spec.files:
        if fs.path in blobs:
            _pair_rows(spec, out, fs, _tsv_rows(blobs[fs.path]), 3, (None, 0, 1, 2))
    return out


def _parse_mrpc(spec: DatasetSpec, blobs: Mapping[str, _Blob]) -> _Parsed:
    train_fs, dev_fs, test_fs = spec.files
    dev_ids = {tuple(x.strip() for x in row) for row in _tsv_rows(blobs[dev_fs.path]) if len(row) == 2}
    labels = spec.labels
    out = _Parsed()
    seen_dev = set()
    for fs in (train_fs, test_fs):
        rows = _tsv_rows(blobs[fs.path])
        header = next(rows, [])
        q_i, i1, i2, a_i, b_i = _header_index(
            header, ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"], blobs[fs.path], spec.release
        )
        for row in rows:
            if len(row) != len(header) or row[q_i].strip() not in labels:
                out.skipped += 1
                continue
            key = (row[i1].strip(), row[i2].strip())
            if fs is test_fs:
                split = "test"
            elif key in dev_ids:
                split = "dev"
                seen_dev.add(key)
            else:
                split = "train"
            if not _clean(row[a_i]) or not _clean(row[b_i]):
                out.drop_empty()
                continue
            out.add(
                f"{spec.name}:{split}:{key[0]}-{key[1]}",
                row[a_i].strip(),
                row[b_i].strip(),
                labels[row[q_i].strip()],
                split,
            )
    if len(seen_dev) != len(dev_ids):
        logger.warning(
            "%s: %d dev ids of dev_ids.tsv not found in msr_paraphrase_train.txt",
            spec.name,
            len(dev_ids) - len(seen_dev),
        )
    return out


def _parse_snli(spec: DatasetSpec, blobs: Mapping[str, _Blob]) -> _Parsed:
    out = _Parsed()
    labels, drop = spec.labels, set(spec.drop_labels)
    for fs in spec.files:
        if fs.path not in blobs:
            continue
        with blobs[fs.path].open() as fh, io.TextIOWrapper(fh, encoding="utf-8-sig", errors=_LATIN1_FALLBACK) as text:
            for k, line in enumerate(text):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                    lab = str(rec["gold_label"]).strip()
                    a, b = str(rec["sentence1"] or "").strip(), str(rec["sentence2"] or "").strip()
                except (json.JSONDecodeError, KeyError, TypeError):
                    out.skipped += 1
                    continue
                if lab in drop:
                    out.dropped["no_gold_label" if lab == "-" else lab] += 1
                    continue
                if lab not in labels:
                    out.skipped += 1
                    continue
                if not _clean(a) or not _clean(b):
                    out.drop_empty()
                    continue
                out.add(f"{spec.name}:{fs.split}:{k}", a, b, labels[lab], fs.split or "train")
    return out


_PARSERS: dict[str, Callable[[DatasetSpec, Mapping[str, _Blob]], _Parsed]] = {
    "amazon": _parse_amazon,
    "imdb": _parse_imdb,
    "sst2": _parse_sst2,
    "glue_pair": _parse_glue_pair,
    "qqp": _parse_qqp,
    "mrpc": _parse_mrpc,
    "scitail": _parse_scitail,
    "snli": _parse_snli,
}


def _to_frame(spec: DatasetSpec, parsed: _Parsed) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "id": pd.Series(parsed.ids, dtype=object),
            "text_a": pd.Series(parsed.text_a, dtype=object),
            "text_b": pd.Series(parsed.text_b if spec.pair else [None] * len(parsed.ids), dtype=object),
            "label": pd.Series(parsed.label, dtype="int64"),
            "split": pd.Series(parsed.split, dtype=object),
            "domain": pd.Series([spec.name] * len(parsed.ids), dtype=object),
        },
        columns=list(COLUMNS),
    )
    rank = df["split"].map({s: i for i, s in enumerate(SPLITS)})
    order = np.argsort(rank.to_numpy(), kind="stable")
    df = df.iloc[order].reset_index(drop=True)
    dup = df["id"].duplicated()
    if dup.any():
        raise TSNSError(
            _one_line(
                f"dataset {spec.name!r}: {int(dup.sum())} duplicate ids (first {df['id'][dup].iloc[0]!r}); "
                "the input files are not the official release: replace them"
            )
        )
    return df


def _apply_limit(df: pd.DataFrame, limit: int, seed: int) -> pd.DataFrame:
    keep = np.zeros(len(df), dtype=bool)
    for (split, label), idx in df.groupby(["split", "label"], sort=True).indices.items():
        if len(idx) <= limit:
            keep[idx] = True
            continue
        key = zlib.crc32(f"{split}:{int(label)}".encode())
        rng = np.random.default_rng([int(seed), key])
        keep[np.sort(rng.choice(idx, size=limit, replace=False))] = True
    return df.loc[keep].reset_index(drop=True)


def _counts(df: pd.DataFrame) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for (split, label), n in df.groupby(["split", "label"], sort=False).size().items():
        out.setdefault(str(split), {})[str(int(label))] = int(n)
    return {s: dict(sorted(out[s].items())) for s in SPLITS if s in out}


# --------------------------------------------------------------------- load
def load(
    name: str,
    *,
    mirror: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] = Path("data/raw"),
    allow_download: bool = True,
    limit: int | None = None,
    seed: int = 0,
    verify: bool = True,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load one dataset of the paper as a normalised table.

    Sources are tried in order: the ``mirror`` folder, the data embedded in the
    repository, the official URL (cached in ``cache_dir``).

    Parameters
    ----------
    name : str
        Registry name (see :data:`REGISTRY`).
    mirror : path-like, optional
        Folder laid out like ``../shared/datasets`` (same relative paths).
    cache_dir : path-like, default ``data/raw``
        Folder for downloads (``<cache_dir>/<name>/<file>``); a cached download with a
        matching checksum is reused even when ``allow_download`` is false.
    allow_download : bool, default True
        Whether the official URL may be fetched.
    limit : int, optional
        Keep at most ``limit`` rows per (split, label), drawn with a seeded RNG; the
        original row order is preserved.
    seed : int, default 0
        Seed of the ``limit`` draw.
    verify : bool, default True
        Check every file against its known sha256 (tests turn this off for fixtures;
        checksums are recorded in the provenance either way).

    Returns
    -------
    df : pandas.DataFrame
        Columns :data:`COLUMNS`; ``label`` int64 in {0, 1}; rows ordered by split
        (train, dev, test), then file order.
    provenance : dict
        ``dataset``, ``source`` (``'mirror'|'embedded'|'url'``), ``origin``, ``files``
        ({relative path: sha256}), ``downloads`` ({url: sha256}), ``verified``,
        ``n_rows``, ``n_rows_before_limit``, ``rows_per_split_label``,
        ``skipped_rows`` (malformed), ``dropped`` ({reason: count}: labels the paper
        removes, and ``"empty_text"`` for rows whose text, or one text of a pair, is empty
        after cleaning), ``limit``, ``seed``.

    Raises
    ------
    ConfigError
        Unknown dataset name or invalid ``limit``.
    ChecksumError
        A file does not match its known checksum.
    DataUnavailableError
        No source can provide the dataset (one line listing what was tried).
    """
    spec = get_spec(name)
    if limit is not None and (not isinstance(limit, (int, np.integer)) or isinstance(limit, bool) or limit < 1):
        raise ConfigError(f"limit must be a positive integer or None, got {limit!r}: fix data.limit in params.yaml")
    attempts: list[str] = []
    blobs: dict[str, _Blob] | None = None
    source = origin = ""
    downloads: dict[str, str] = {}

    if mirror is not None:
        try:
            blobs, origin = _from_mirror(spec, Path(mirror), verify)
            source = "mirror"
        except _SourceMissing as exc:
            attempts.append(str(exc))
    else:
        attempts.append("mirror (none given)")
    if blobs is None:
        try:
            blobs, origin = _from_embedded(spec, verify)
            source = "embedded"
        except _SourceMissing as exc:
            attempts.append(str(exc))
    if blobs is None:
        try:
            blobs, origin, downloads = _from_url(spec, Path(cache_dir), allow_download, verify)
            source = "url"
        except _SourceMissing as exc:
            attempts.append(str(exc))
    if blobs is None:
        req = [fs.path for fs in spec.files if fs.required]
        where = str(mirror) if mirror is not None else "<mirror>"
        fix = (
            f"put the official {spec.release} files ({', '.join(req)}) under {where} "
            "(same relative paths) or set data.mirror to a folder that has them"
        )
        if spec.downloads:
            fix += ", or allow downloads (allow_download=True) on a machine with internet access"
        raise DataUnavailableError(
            _one_line(f"dataset {spec.name!r} is not available: tried {'; '.join(attempts)}; fix: {fix}")
        )
    logger.info("%s: reading from %s (%s)", spec.name, source, origin)

    parsed = _PARSERS[spec.parser](spec, blobs)
    df = _to_frame(spec, parsed)
    n_before = len(df)
    if parsed.skipped:
        logger.warning("%s: skipped %d malformed rows", spec.name, parsed.skipped)
    if limit is not None:
        df = _apply_limit(df, int(limit), seed)
    validate_labels(df, spec.name)
    provenance: dict[str, Any] = {
        "dataset": spec.name,
        "task": spec.task,
        "pair": spec.pair,
        "source": source,
        "origin": origin,
        "files": {p: blobs[p].sha256() for p in sorted(blobs)},
        "downloads": downloads,
        "verified": bool(verify),
        "n_rows": int(len(df)),
        "n_rows_before_limit": int(n_before),
        "rows_per_split_label": _counts(df),
        "skipped_rows": int(parsed.skipped),
        "dropped": {k: int(v) for k, v in sorted(parsed.dropped.items())},
        "limit": None if limit is None else int(limit),
        "seed": int(seed),
    }
    return df, provenance


def validate_labels(df: pd.DataFrame, name: str) -> None:
    """Check that a table has rows of both classes.

    Parameters
    ----------
    df : pandas.DataFrame
        Table with a ``label`` column.
    name : str
        Dataset name, used in the message.

    Raises
    ------
    DataUnavailableError
        If the table is empty.
    TSNSError
        If it holds a single class.
    """
    if len(df) == 0:
        raise DataUnavailableError(
            f"dataset {name!r} has no rows: check the source files (or data.limit / split filters) "
            "and re-run `dvc repro download`"
        )
    classes = sorted(int(x) for x in pd.unique(df["label"]))
    if len(classes) < 2:
        raise TSNSError(
            f"dataset {name!r} has a single class ({classes[0]}) in {len(df)} rows: a binary task needs "
            "both labels; check the source files, the label mapping and data.limit / split filters"
        )


# ----------------------------------------------------------------- tables
def _schema_problem(df: pd.DataFrame) -> str | None:
    cols = list(df.columns)
    missing = [c for c in COLUMNS if c not in cols]
    if missing:
        return f"missing column(s) {', '.join(missing)}"
    extra = [c for c in cols if c not in COLUMNS]
    if extra:
        return f"unexpected column(s) {', '.join(map(str, extra))}"
    if len(df) == 0:
        return "the table is empty"
    lab = df["label"]
    if lab.isna().any():
        return "missing labels"
    try:
        values = set(int(v) for v in pd.unique(lab))
        if not all(float(v) == int(v) for v in pd.unique(lab)):
            raise ValueError
    except (TypeError, ValueError):
        return f"non-integer labels {sorted(map(str, pd.unique(lab)))[:5]}"
    if not values <= {0, 1}:
        return f"label values {sorted(values)} outside {{0, 1}}"
    for c in ("id", "text_a", "split", "domain"):
        if df[c].isna().any():
            return f"missing values in column {c}"
    bad_splits = set(map(str, pd.unique(df["split"]))) - set(SPLITS)
    if bad_splits:
        return f"unknown split(s) {sorted(bad_splits)}"
    if df["id"].duplicated().any():
        return "duplicate ids"
    return None


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    out = df.loc[:, list(COLUMNS)].copy()
    for c in ("id", "text_a", "text_b", "split", "domain"):
        col = out[c].astype(object)
        out[c] = col.where(col.notna(), None)
    out["label"] = out["label"].astype("int64")
    return out.reset_index(drop=True)


def table_sha256(df: pd.DataFrame) -> str:
    """Return the sha256 of a canonical serialisation of a table.

    Each row becomes the compact JSON array ``[id, text_a, text_b, label, split,
    domain]`` (``text_b`` null when missing, label an integer, UTF-8, no ASCII
    escaping); rows are joined by ``\\n`` in table order.  The hash therefore depends
    on the content and row order only, not on dtypes or the parquet encoding.

    Parameters
    ----------
    df : pandas.DataFrame
        Table with the columns :data:`COLUMNS`.

    Returns
    -------
    str
        Hex sha256.
    """
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise TSNSError(f"cannot hash table: missing column(s) {', '.join(missing)}; build it with tsns.data.load")
    h = hashlib.sha256()
    cols = [df[c].tolist() for c in COLUMNS]
    for i, (id_, a, b, lab, split, dom) in enumerate(zip(*cols, strict=True)):
        if b is not None and not isinstance(b, str) and pd.isna(b):
            b = None
        row = [str(id_), str(a), b if b is None else str(b), int(lab), str(split), str(dom)]
        if i:
            h.update(b"\n")
        h.update(json.dumps(row, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return h.hexdigest()


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def save_table(df: pd.DataFrame, path: str | os.PathLike[str], provenance: Mapping[str, Any]) -> None:
    """Write a table as parquet plus a JSON sidecar, atomically.

    The sidecar ``path.with_suffix('.json')`` holds ``provenance`` plus
    ``table_sha256`` and ``table_n_rows``.  Both files are written to temporary names
    in the destination folder and moved into place with :func:`os.replace`; a failure
    leaves no partial file.

    Parameters
    ----------
    df : pandas.DataFrame
        Normalised table (columns :data:`COLUMNS`).
    path : path-like
        Parquet destination; parent folders are created.
    provenance : mapping
        JSON-serialisable provenance (as returned by :func:`load`).

    Raises
    ------
    TSNSError
        If the table does not follow the schema or provenance is not serialisable.
    """
    path = Path(path)
    problem = _schema_problem(df)
    if problem:
        raise TSNSError(f"refusing to save {path}: {problem}; build the table with tsns.data.load")
    table = _canonical(df)
    meta = dict(provenance)
    meta["table_sha256"] = table_sha256(table)
    meta["table_n_rows"] = int(len(table))
    try:
        meta_text = json.dumps(meta, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    except (TypeError, ValueError) as exc:
        raise TSNSError(f"provenance for {path} is not JSON-serialisable ({exc}); pass plain dicts/str/int") from exc
    side = _sidecar(path)
    # both files reach their final names only when both were written in full
    with atomic_path(path, suffix=".parquet") as tmp_pq, atomic_path(side) as tmp_js:
        table.to_parquet(tmp_pq, index=False)
        tmp_js.write_text(meta_text, encoding="utf-8")


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a table written by :func:`save_table`, validating schema and checksum.

    Parameters
    ----------
    path : path-like
        Parquet file; its sidecar ``path.with_suffix('.json')`` must exist.

    Returns
    -------
    pandas.DataFrame
        The table, columns :data:`COLUMNS`, ``label`` int64.

    Raises
    ------
    DataUnavailableError
        If the parquet file or its sidecar is missing.
    TSNSError
        If the schema is wrong (missing/extra column, labels outside {0, 1}, empty).
    ChecksumError
        If the content does not match the sidecar's ``table_sha256``.
    """
    path = Path(path)
    side = _sidecar(path)
    if not path.is_file():
        raise DataUnavailableError(f"table {path} does not exist: run `dvc repro download` first")
    if not side.is_file():
        raise DataUnavailableError(f"table {path} has no sidecar {side.name}: re-run `dvc repro download`")
    try:
        df = pd.read_parquet(path)
        meta = json.loads(side.read_text(encoding="utf-8"))
    except Exception as exc:  # noqa: BLE001 - any reader failure means a corrupt file
        raise ChecksumError(
            _one_line(f"cannot read {path} or its sidecar ({exc}); re-run `dvc repro download`")
        ) from exc
    problem = _schema_problem(df)
    if problem:
        raise TSNSError(f"table {path} is invalid: {problem}; re-run `dvc repro download`")
    df = _canonical(df)
    expected = meta.get("table_sha256")
    actual = table_sha256(df)
    if expected != actual:
        raise ChecksumError(
            f"table {path} does not match its sidecar (table_sha256 {expected} recorded, {actual} found): "
            "re-run `dvc repro download`"
        )
    return df
