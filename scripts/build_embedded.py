"""Build the archives of ``data/embedded/`` from a mirror of the official releases (byte-identical every time).

    python scripts/build_embedded.py [--mirror ../shared/datasets] [--check]

Whole-file archives hold the official files of a dataset (every file its registry entry lists that the mirror
has), each checked against the registry's sha256 first. The IMDB archive holds the reviews that the documented
settings keep (``COVERS``: the default cap and the quick slices, seed 0) and ``manifest.json`` with their ranks
in the full release; its sha256 goes into ``src/tsns/datasets/embedded.py``. ``--check`` rebuilds in memory and
fails when a committed archive differs. See ``data/embedded/PROVENANCE.md``.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import lzma
import sys
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from tsns.datasets import load as loader  # noqa: E402
from tsns.datasets.embedded import EMBEDDED, MANIFEST  # noqa: E402
from tsns.datasets.registry import REGISTRY  # noqa: E402
from tsns.datasets.rows import drawn  # noqa: E402

#: (limit, seed) settings whose IMDB rows are embedded: data.caps.imdb of params.yaml, the documented slice
#: (data.limit=50) and smaller test slices.
COVERS = ((1000, 0), (100, 0), (50, 0), (20, 0), (6, 0))


def tar_xz(members: list[tuple[str, bytes]]) -> bytes:
    """A reproducible .tar.xz: PAX, mtime 0, uid/gid 0, mode 0644, xz -9e, CRC64."""
    out = io.BytesIO()
    with lzma.open(out, "wb", format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC64, preset=9 | lzma.PRESET_EXTREME) as xz, \
            tarfile.open(fileobj=xz, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime, ti.mode, ti.uid, ti.gid, ti.uname, ti.gname = len(data), 0, 0o644, 0, 0, "", ""
            tar.addfile(ti, io.BytesIO(data))
    return out.getvalue()


def whole_files(name: str, mirror: Path) -> bytes:
    spec, entry = REGISTRY[name], EMBEDDED[name]
    members = []
    for fs in spec.files:
        p = mirror / fs.path
        if not p.is_file():
            if fs.required:
                raise SystemExit(f"{p} is missing: point --mirror at a copy of the official releases")
            continue
        data = p.read_bytes()
        if fs.sha256 and hashlib.sha256(data).hexdigest() not in fs.sha256:
            raise SystemExit(f"{p} is not the official file (sha256 mismatch): use an unmodified mirror")
        members.append((fs.path[len(entry.prefix):], data))
    return tar_xz(members)


def imdb_rows(mirror: Path) -> bytes:
    df, prov = loader.load("imdb", mirror=mirror, allow_download=False)  # the full release, verified
    groups, wanted = {}, set()
    for (split, label), idx in df.groupby(["split", "label"], sort=True).indices.items():
        ranks = sorted(set().union(*(drawn(len(idx), lim, seed, split, int(label)).tolist() for lim, seed in COVERS)))
        groups[f"{split}:{int(label)}"] = {"n": len(idx), "ranks": ranks}
        for r in ranks:
            _, sp, pol, stem = df["id"].iloc[idx[r]].split(":")
            wanted.add(f"aclImdb/{sp}/{pol}/{stem}.txt")
    (fs,) = REGISTRY["imdb"].files
    found = {}
    with tarfile.open(mirror / fs.path, mode="r|*") as tar:
        for m in tar:
            key = m.name[2:] if m.name.startswith("./") else m.name
            if m.isfile() and key in wanted:
                found[key] = tar.extractfile(m).read()
    assert set(found) == wanted, sorted(wanted - set(found))[:3]
    manifest = {"release": REGISTRY["imdb"].release, "release_sha256": prov["files"][fs.path],
                "covers": [list(c) for c in COVERS], "groups": groups}
    members = [(MANIFEST, (json.dumps(manifest, sort_keys=True) + "\n").encode())]
    members += [(k, found[k]) for k in sorted(found)]
    return tar_xz(members)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mirror", type=Path, default=ROOT.parent / "shared" / "datasets")
    ap.add_argument("--check", action="store_true", help="fail when a committed archive differs from a rebuild")
    args = ap.parse_args()
    bad = []
    for archive in sorted({e.archive for e in EMBEDDED.values()}):
        names = [n for n, e in EMBEDDED.items() if e.archive == archive]
        data = imdb_rows(args.mirror) if EMBEDDED[names[0]].rows_sha256 else whole_files(names[0], args.mirror)
        if len(names) > 1:  # the Amazon archive: every domain's files in one, positive before negative (as first built)
            data = tar_xz([m for n in names for m in sorted(_members(whole_files(n, args.mirror)),
                                                            key=lambda m: "negative" in m[0])])
        path = ROOT / "data" / "embedded" / archive
        sha = hashlib.sha256(data).hexdigest()
        if args.check:
            if not path.is_file() or path.read_bytes() != data:
                bad.append(archive)
        else:
            path.write_bytes(data)
        print(f"{archive}: {len(data):,} bytes, sha256 {sha}")
    if bad:
        raise SystemExit(f"differ from a rebuild: {', '.join(bad)}")


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:xz") as tar:
        return [(m.name, tar.extractfile(m).read()) for m in tar]


if __name__ == "__main__":
    main()
