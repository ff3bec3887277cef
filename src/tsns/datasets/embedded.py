"""The data shipped in ``data/embedded/``: which archive holds which dataset, so that the default pipeline runs
with no mirror and no network.

Every archive is a ``.tar.xz`` written by ``scripts/build_embedded.py`` from the official files (byte for byte,
member name = the file's path in the official layout without its first folder). Two kinds:

* **whole files** -- the official files themselves; each member is checked against the registry's sha256 of
  the official file, exactly as a mirror copy is;
* **rows** -- for a release too large to ship (IMDB, 84 MB), the reviews that the documented ``limit``/``seed``
  settings keep, plus ``manifest.json`` (each kept review's rank among the release's rows of its split and
  label, and every group's size in the full release). The loader draws the same rows as from the full release
  (:func:`tsns.datasets.rows.drawn`); a setting whose rows are not all in the archive is refused, so the other
  sources are tried. The archive is checked against the sha256 recorded here when it was built.

See ``data/embedded/PROVENANCE.md`` for where each file comes from and its licence.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from .rows import drawn

#: Name of the rows manifest inside a ``rows`` archive.
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Embedded:
    """One dataset's embedded copy.

    Attributes
    ----------
    archive : str
        File name under ``data/embedded/``.
    prefix : str
        Leading folder of the registry paths that the member names leave out (``"glue/"``).
    rows_sha256 : str or None
        For a ``rows`` archive: its sha256 as built (None: a whole-files archive).
    """

    archive: str
    prefix: str
    rows_sha256: str | None = None


EMBEDDED: dict[str, Embedded] = {
    **{name: Embedded("amazon_sorted_data_acl.tar.xz", "amazon/") for name in ("books", "dvd", "electronics", "kitchen")},
    "sst2": Embedded("glue_sst2.tar.xz", "glue/"),
    "rte": Embedded("glue_rte.tar.xz", "glue/"),
    "mrpc": Embedded("glue_mrpc.tar.xz", "glue/"),
    "snli": Embedded("snli_1.0_dev.tar.xz", "snli/"),
    "scitail": Embedded("scitail_1.0_test.tar.xz", "scitail/"),
    "imdb": Embedded("imdb_rows.tar.xz", "imdb/",
                     rows_sha256="278a376f8d712abaa5ff4e94ad9f8f56b5db489a9ccdde2e972e5ec025ad5ea8"),
}


def uncovered(manifest: dict, limit: int | None, seed: int) -> str | None:
    """Why the rows of ``manifest`` cannot give what ``limit`` and ``seed`` keep of the full release, or None.

    Parameters
    ----------
    manifest : dict
        ``groups``: {``"<split>:<label>"``: {``n``: rows in the full release, ``ranks``: the ranks (0-based,
        in release order) of the rows in the archive}}; ``covers``: the (limit, seed) pairs it was built for.
    limit : int or None
        Rows kept per (split, label); None = all.
    seed : int
    """
    said = ", ".join(f"limit={lim} seed={s}" for lim, s in manifest["covers"])
    if limit is None:
        return f"it holds only the rows of {said}, not the whole release"
    for key, group in manifest["groups"].items():
        split, label = key.split(":")
        need = drawn(int(group["n"]), int(limit), int(seed), split, int(label))
        if not set(need.tolist()) <= set(group["ranks"]):
            return f"it holds only the rows of {said}, not those of limit={limit} seed={seed}"
    return None


def read_manifest(data: bytes) -> dict:
    """The rows manifest from its bytes."""
    return json.loads(data.decode("utf-8"))
