"""What a dataset is: its files, downloads, checksums, parser and label mapping (the registry's entry type)."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path



logger = logging.getLogger(__name__)

#: Columns of every normalised table, in this order.
COLUMNS: tuple[str, ...] = ("id", "text_a", "text_b", "label", "split", "domain")
#: Allowed split names, in the order rows are sorted.
SPLITS: tuple[str, ...] = ("train", "dev", "test")

#: Folder of the data shipped in the repository (``<repo>/data/embedded``).
EMBEDDED_DIR: Path = Path(__file__).resolve().parents[3] / "data" / "embedded"

#: Seconds to wait for a connection / a read before a download attempt fails.
DOWNLOAD_TIMEOUT_S: float = 15.0

CHUNK = 1 << 20


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
        Name of the parser in :data:`PARSERS`.
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


def one_line(msg: str) -> str:
    return " ".join(str(msg).split())
