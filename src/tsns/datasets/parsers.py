"""One parser per official file format: each reads a dataset's files into rows of the normalised table."""
from __future__ import annotations

import codecs
import csv
import html
import io
import json
import logging
import re
import tarfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field


from ..errors import DataUnavailableError
from .sources import Blob
from .spec import SPLITS, DatasetSpec, FileSpec, one_line

logger = logging.getLogger(__name__)

# ------------------------------------------------------------------ parsers
@dataclass
class Parsed:
    ids: list[str] = field(default_factory=list)
    text_a: list[str] = field(default_factory=list)
    text_b: list[str | None] = field(default_factory=list)
    label: list[int] = field(default_factory=list)
    split: list[str] = field(default_factory=list)
    skipped: int = 0
    dropped: Counter = field(default_factory=Counter)
    first_bad: str | None = None  # where the first malformed row is, for the error that a bad file gets

    def bad(self, where: str, n: int = 1) -> None:
        """Count ``n`` malformed rows (wrong number of columns, unparsable record) found at ``where``."""
        self.skipped += n
        if self.first_bad is None:
            self.first_bad = where

    def drop_empty(self) -> None:
        """Count a row whose text is empty after cleaning (kept out of the table)."""
        self.dropped[EMPTY_TEXT] += 1

    def add(self, id_: str, a: str, b: str | None, label: int, split: str) -> None:
        self.ids.append(id_)
        self.text_a.append(a)
        self.text_b.append(b)
        self.label.append(int(label))
        self.split.append(split)


def unknown_label(spec: DatasetSpec, path: str, row: int, label: str):
    """The error of a label outside the dataset's label set: the file is not the official release."""
    return DataUnavailableError(one_line(
        f"{path} data row {row} has label {label!r}, not one of {sorted(spec.labels)} (or the dropped "
        f"{sorted(spec.drop_labels)}): replace it with the official {spec.release} file"))


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


def _parse_amazon(spec: DatasetSpec, blobs: Mapping[str, Blob]) -> Parsed:
    out = Parsed()
    for fs in spec.files:
        blob = blobs[fs.path]
        with blob.open() as fh:
            data = fh.read()
        pol = "positive" if fs.label == 1 else "negative"
        n_open = data.count(b"<review>")
        blocks = _REVIEW_RE.findall(data)
        if n_open > len(blocks):
            out.bad(f"{fs.path}: a <review> without its closing tag", n_open - len(blocks))
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


def _parse_imdb(spec: DatasetSpec, blobs: Mapping[str, Blob]) -> Parsed:
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
    out = Parsed()
    for split_rank, pol, num, rating, text in sorted(found, key=lambda r: (r[0], labels[r[1]], r[2])):
        split = SPLITS[split_rank]
        if not text:
            out.drop_empty()
            continue
        out.add(f"{spec.name}:{split}:{pol}:{num}_{rating}", text, None, labels[pol], split)
    return out


def _tsv_rows(blob: Blob) -> Iterator[list[str]]:
    """Yield the rows of a tab-separated file, quoting disabled, BOM stripped, non-UTF-8 bytes as latin-1."""
    csv.field_size_limit(max(csv.field_size_limit(), 1 << 30))
    with blob.open() as fh, io.TextIOWrapper(fh, encoding="utf-8-sig", errors=_LATIN1_FALLBACK, newline="") as text:
        yield from csv.reader(text, delimiter="\t", quoting=csv.QUOTE_NONE)


def _parse_sst2(spec: DatasetSpec, blobs: Mapping[str, Blob]) -> Parsed:
    out = Parsed()
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
                one_line(
                    f"{blobs[fs.path].origin} has header {header!r}, expected 'sentence<TAB>label' or "
                    "'label<TAB>content'; replace it with the official GLUE SST-2 file"
                )
            ) from None
        for k, row in enumerate(rows):
            if len(row) != len(header):
                out.bad(f"{fs.path} data row {k + 1}: {len(row)} columns, expected {len(header)}")
                continue
            if row[li].strip() not in labels:
                raise unknown_label(spec, fs.path, k + 1, row[li].strip())
            if not _clean(row[ti]):
                out.drop_empty()
                continue
            out.add(f"{spec.name}:{fs.split}:{k}", row[ti].strip(), None, labels[row[li].strip()], fs.split or "train")
    return out


def _header_index(header: list[str], names: Sequence[str], blob: Blob, release: str) -> list[int]:
    try:
        return [header.index(n) for n in names]
    except ValueError:
        raise DataUnavailableError(
            one_line(
                f"{blob.origin} has columns {header!r}, expected {list(names)!r}; "
                f"replace it with the official {release} file"
            )
        ) from None


def _pair_rows(
    spec: DatasetSpec,
    out: Parsed,
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
            out.bad(f"{fs.path} data row {k + 1}: {len(row)} columns, expected {n_cols}")
            continue
        lab = row[l_i].strip()
        if lab in drop:
            out.dropped["no_gold_label" if lab == "-" else lab] += 1
            continue
        a, b = row[a_i].strip(), row[b_i].strip()
        if lab not in labels:
            raise unknown_label(spec, fs.path, k + 1, lab)
        if not _clean(a) or not _clean(b):
            out.drop_empty()
            continue
        rid = row[id_i].strip() if id_i is not None else str(k)
        out.add(f"{spec.name}:{fs.split}:{rid}", a, b, labels[lab], fs.split or "train")


def _parse_glue_pair(spec: DatasetSpec, blobs: Mapping[str, Blob]) -> Parsed:
    """RTE (index sentence1 sentence2 label) and MNLI (... sentence1 sentence2 ... gold_label)."""
    out = Parsed()
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


def _parse_qqp(spec: DatasetSpec, blobs: Mapping[str, Blob]) -> Parsed:
    out = Parsed()
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


def _parse_scitail(spec: DatasetSpec, blobs: Mapping[str, Blob]) -> Parsed:
    out = Parsed()
    for fs in spec.files:
        if fs.path in blobs:
            _pair_rows(spec, out, fs, _tsv_rows(blobs[fs.path]), 3, (None, 0, 1, 2))
    return out


def _parse_mrpc(spec: DatasetSpec, blobs: Mapping[str, Blob]) -> Parsed:
    train_fs, dev_fs, test_fs = spec.files
    dev_ids = {tuple(x.strip() for x in row) for row in _tsv_rows(blobs[dev_fs.path]) if len(row) == 2}
    labels = spec.labels
    out = Parsed()
    seen_dev = set()
    for fs in (train_fs, test_fs):
        rows = _tsv_rows(blobs[fs.path])
        header = next(rows, [])
        q_i, i1, i2, a_i, b_i = _header_index(
            header, ["Quality", "#1 ID", "#2 ID", "#1 String", "#2 String"], blobs[fs.path], spec.release
        )
        for k, row in enumerate(rows):
            if len(row) != len(header):
                out.bad(f"{fs.path} data row {k + 1}: {len(row)} columns, expected {len(header)}")
                continue
            if row[q_i].strip() not in labels:
                raise unknown_label(spec, fs.path, k + 1, row[q_i].strip())
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


def _parse_snli(spec: DatasetSpec, blobs: Mapping[str, Blob]) -> Parsed:
    out = Parsed()
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
                except (json.JSONDecodeError, KeyError, TypeError) as exc:
                    out.bad(f"{fs.path} line {k + 1}: {type(exc).__name__}")
                    continue
                if lab in drop:
                    out.dropped["no_gold_label" if lab == "-" else lab] += 1
                    continue
                if lab not in labels:
                    raise unknown_label(spec, fs.path, k + 1, lab)
                if not _clean(a) or not _clean(b):
                    out.drop_empty()
                    continue
                out.add(f"{spec.name}:{fs.split}:{k}", a, b, labels[lab], fs.split or "train")
    return out


PARSERS: dict[str, Callable[[DatasetSpec, Mapping[str, Blob]], Parsed]] = {
    "amazon": _parse_amazon,
    "imdb": _parse_imdb,
    "sst2": _parse_sst2,
    "glue_pair": _parse_glue_pair,
    "qqp": _parse_qqp,
    "mrpc": _parse_mrpc,
    "scitail": _parse_scitail,
    "snli": _parse_snli,
}


