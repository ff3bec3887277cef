"""Where a dataset's files come from: a mirror folder, the data embedded in the repository, or the official URL,
every file checked against its known sha256."""
from __future__ import annotations

import hashlib
import io
import logging
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


from ..errors import ChecksumError
from ..io import file_sha256
from .embedded import EMBEDDED, MANIFEST, Embedded, read_manifest, uncovered
from .spec import CHUNK, DOWNLOAD_TIMEOUT_S, EMBEDDED_DIR, DatasetSpec, FileSpec, one_line

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------- blobs
@dataclass
class Blob:
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
                    for chunk in iter(lambda: fh.read(CHUNK), b""):
                        h.update(chunk)
            self._sha = h.hexdigest()
        return self._sha


def verify_blob(spec: DatasetSpec, fs: FileSpec, blob: Blob, fix: str) -> None:
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
            one_line(
                f"checksum mismatch for {blob.origin} (dataset {spec.name!r}): expected sha256 "
                f"{' or '.join(fs.sha256)}, got {actual}; {fix}"
            )
        )


# ------------------------------------------------------------------ sources
class SourceMissing(Exception):
    """A source cannot provide a dataset (reason in the message)."""


def from_mirror(spec: DatasetSpec, mirror: Path, verify: bool) -> tuple[dict[str, Blob], str]:
    if not mirror.is_dir():
        raise SourceMissing(f"mirror {mirror} (folder does not exist)")
    blobs: dict[str, Blob] = {}
    missing = []
    for fs in spec.files:
        for rel in (fs.path, *fs.alt_paths):
            p = mirror / rel
            if p.is_file():
                blobs[fs.path] = Blob(origin=str(p), path=p)
                break
        else:
            if fs.required:
                missing.append(fs.path)
    if missing:
        raise SourceMissing(f"mirror {mirror} (missing {', '.join(missing)})")
    if verify:
        for fs in spec.files:
            if fs.path in blobs:
                verify_blob(
                    spec,
                    fs,
                    blobs[fs.path],
                    fix=(
                        "replace the file with the official release (see "
                        "../shared/datasets/SHA256SUMS) or point data.mirror at an unmodified copy"
                    ),
                )
    return blobs, str(mirror)


def from_embedded(spec: DatasetSpec, verify: bool, limit: int | None = None,
                  seed: int = 0) -> tuple[dict[str, Blob], str, dict | None]:
    """The dataset's files from ``data/embedded/`` (:mod:`tsns.datasets.embedded`).

    Returns the blobs, the origin and, for a rows archive, its manifest (None for whole files). A rows archive
    that lacks some row ``limit`` and ``seed`` keep raises :class:`SourceMissing`, so the next source is tried.
    """
    entry = EMBEDDED.get(spec.name)
    if entry is None:
        raise SourceMissing("embedded data (none for this dataset)")
    archive = Path(EMBEDDED_DIR) / entry.archive
    if not archive.is_file():
        raise SourceMissing(f"embedded archive {archive} (not found)")
    fix = "restore it with `git checkout -- data/embedded` (see data/embedded/PROVENANCE.md)"
    default = Path(__file__).resolve().parents[3] / "data" / "embedded"
    origin = f"data/embedded/{entry.archive}" if Path(EMBEDDED_DIR).resolve() == default.resolve() else str(archive)
    if entry.rows_sha256 is not None:
        return _embedded_rows(spec, entry, archive, origin, verify, limit, seed, fix)
    wanted = {}
    for fs in spec.files:
        member = fs.path[len(entry.prefix) :] if fs.path.startswith(entry.prefix) else fs.path
        wanted[member] = fs
    blobs: dict[str, Blob] = {}
    try:
        with tarfile.open(archive, mode="r|xz") as tar:
            for m in tar:
                if m.isfile() and m.name in wanted:
                    fh = tar.extractfile(m)
                    assert fh is not None
                    fs = wanted[m.name]
                    blobs[fs.path] = Blob(origin=f"{archive}:{m.name}", data=fh.read())
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ChecksumError(one_line(f"embedded archive {archive} is unreadable ({exc}); {fix}")) from exc
    missing = [fs.path for fs in spec.files if fs.required and fs.path not in blobs]
    if missing:
        raise SourceMissing(f"embedded archive {archive} (missing {', '.join(missing)})")
    if verify:
        for fs in spec.files:
            if fs.path in blobs:
                verify_blob(spec, fs, blobs[fs.path], fix="restore the archive with `git checkout -- data/embedded` "
                            "(see data/embedded/PROVENANCE.md)")
    return blobs, origin, None


def _embedded_rows(spec: DatasetSpec, entry: Embedded, archive: Path, origin: str, verify: bool,
                   limit: int | None, seed: int, fix: str) -> tuple[dict[str, Blob], str, dict]:
    """A rows archive: checked as a whole against its recorded sha256, then its manifest against the setting."""
    data = archive.read_bytes()
    blob = Blob(origin=str(archive), data=data)
    if verify and blob.sha256() != entry.rows_sha256:
        raise ChecksumError(one_line(
            f"checksum mismatch for {archive} (dataset {spec.name!r}): expected sha256 {entry.rows_sha256}, "
            f"got {blob.sha256()}; {fix}"))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:xz") as tar:
            fh = tar.extractfile(MANIFEST)
            assert fh is not None
            manifest = read_manifest(fh.read())
    except (tarfile.TarError, OSError, EOFError, KeyError, ValueError, AssertionError) as exc:
        raise ChecksumError(one_line(f"embedded archive {archive} is unreadable ({exc}); {fix}")) from exc
    why = uncovered(manifest, limit, seed)
    if why is not None:
        raise SourceMissing(f"embedded archive {archive} ({why})")
    (fs,) = spec.files
    return {fs.path: blob}, origin, manifest


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
    from tqdm import tqdm

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
                    for chunk in iter(lambda: resp.read(CHUNK), b""):
                        out.write(chunk)
                        h.update(chunk)
                        bar.update(len(chunk))
        os.chmod(tmp, 0o644)
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


def from_url(
    spec: DatasetSpec, cache_dir: Path, allow_download: bool, verify: bool
) -> tuple[dict[str, Blob], str, dict[str, str]]:
    if not spec.downloads:
        raise SourceMissing("official URL (none known)")
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
            problems.append(f"{d.url} ({type(exc).__name__}: {one_line(str(reason))})")
            continue
        if verify and d.sha256 is not None and digest != d.sha256:
            dest.unlink(missing_ok=True)
            raise ChecksumError(
                one_line(
                    f"checksum mismatch for download {d.url} (dataset {spec.name!r}): expected "
                    f"sha256 {d.sha256}, got {digest}; the server copy changed or the transfer "
                    "was corrupted: retry, or put the official files in a mirror folder (data.mirror)"
                )
            )
        if d.sha256 is None:
            logger.warning("%s: no published sha256 for %s; accepted (sha256 %s recorded)", spec.name, d.url, digest)
        got[i], digests[d.url] = dest, digest
    if any(i not in got for i in required):
        raise SourceMissing("official URL: " + "; ".join(problems))

    blobs: dict[str, Blob] = {}
    missing: list[str] = []
    tar_wanted: dict[int, dict[str, FileSpec]] = {}
    for fs in spec.files:
        if fs.download is None or fs.download not in got:
            if fs.required:
                missing.append(fs.path)
            continue
        d, path = spec.downloads[fs.download], got[fs.download]
        if fs.member is None or d.kind == "file":
            blobs[fs.path] = Blob(origin=str(path), path=path)
        elif d.kind == "zip":
            with zipfile.ZipFile(path) as zf:
                name = _find_member(zf.namelist(), fs.member)
            if name is None:
                if fs.required:
                    missing.append(f"{fs.member} in {path.name}")
                continue
            blobs[fs.path] = Blob(origin=f"{path}:{name}", zip_path=path, zip_member=name)
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
                    blobs[wanted[hit].path] = Blob(origin=f"{path}:{m.name}", data=fh.read())
        missing += [f"{k} in {path.name}" for k, fs in wanted.items() if fs.required and fs.path not in blobs]
    if missing:
        raise SourceMissing(f"official URL (downloaded, but missing {', '.join(missing)})")
    if verify:  # every file inside the archives against its own known checksum, as from a mirror
        for fs in spec.files:
            if fs.path in blobs:
                verify_blob(spec, fs, blobs[fs.path],
                            fix=f"delete {folder} and retry, or put the official files in a mirror folder (data.mirror)")
    return blobs, ", ".join(spec.downloads[i].url for i in sorted(got)), digests


