"""The data shipped in data/embedded: a clone with neither the mirror nor network loads every default dataset, with
the same rows the official releases give; the IMDB rows archive serves exactly the settings it was built for."""
from __future__ import annotations

import shutil
import urllib.error
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from tsns.datasets import embedded, sources
from tsns.datasets import load as loader
from tsns.datasets.rows import drawn
from tsns.errors import ChecksumError, DataUnavailableError

REPO = Path(__file__).resolve().parents[1]
MIRROR = (REPO / ".." / "shared" / "datasets").resolve()
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
DEFAULTS = PARAMS["data"]["datasets"]


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    def refuse(url, dest, **kw):
        raise urllib.error.URLError(f"network disabled in tests ({url})")

    monkeypatch.setattr(sources, "_fetch_url", refuse)


def _limit(name: str) -> int | None:
    cap, limit = PARAMS["data"]["caps"].get(name), PARAMS["data"]["limit"]
    given = [v for v in (cap, limit) if v is not None]
    return min(given) if given else None


def test_every_default_dataset_is_embedded():
    assert set(DEFAULTS) <= set(embedded.EMBEDDED)
    for entry in embedded.EMBEDDED.values():
        assert (REPO / "data" / "embedded" / entry.archive).is_file(), entry.archive


def test_the_default_download_stages_run_with_no_mirror_and_no_network(tmp_path):
    """A fresh clone without ../shared/datasets: every default dataset comes from data/embedded, verified."""
    from tsns.stages import download

    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update(mirror=str(tmp_path / "no-mirror"), allow_download=False)
    for name in DEFAULTS:
        df, prov = download.run(name, params=params, root=tmp_path)
        assert prov["source"] == "embedded" and prov["verified"] is True, (name, prov["source"])
        assert prov["origin"] == f"data/embedded/{embedded.EMBEDDED[name].archive}"
        assert (tmp_path / "data" / "processed" / f"{name}.parquet").is_file()
        assert df["label"].nunique() == 2


@pytest.mark.skipif(not MIRROR.is_dir(), reason=f"dataset mirror {MIRROR} not present")
@pytest.mark.parametrize("name", ["imdb", "sst2", "mrpc", "snli"])
def test_embedded_rows_equal_the_official_release(name):
    """Same table from data/embedded as from the official files, at the default caps and at the quick slice."""
    for limit in {_limit(name), 50}:
        a, pa = loader.load(name, mirror=MIRROR, allow_download=False, limit=limit)
        b, pb = loader.load(name, mirror=None, allow_download=False, limit=limit)
        assert pa["source"] == "mirror" and pb["source"] == "embedded"
        pd.testing.assert_frame_equal(a, b)
        assert pa["n_rows_before_limit"] == pb["n_rows_before_limit"]


def test_imdb_rows_refuse_a_setting_they_were_not_built_for():
    with pytest.raises(DataUnavailableError) as ei:
        loader.load("imdb", mirror=None, allow_download=False, limit=30)
    msg = str(ei.value)
    assert "\n" not in msg and "not those of limit=30 seed=0" in msg and "put the official" in msg
    with pytest.raises(DataUnavailableError, match="not the whole release"):
        loader.load("imdb", mirror=None, allow_download=False, limit=None)
    with pytest.raises(DataUnavailableError, match="not those of limit=50 seed=1"):
        loader.load("imdb", mirror=None, allow_download=False, limit=50, seed=1)


def test_a_corrupted_rows_archive_is_refused(tmp_path, monkeypatch):
    folder = tmp_path / "embedded"
    folder.mkdir()
    data = bytearray((REPO / "data" / "embedded" / "imdb_rows.tar.xz").read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / "imdb_rows.tar.xz").write_bytes(bytes(data))
    monkeypatch.setattr(sources, "EMBEDDED_DIR", folder)
    with pytest.raises(ChecksumError) as ei:
        loader.load("imdb", mirror=None, allow_download=False, limit=1000)
    assert "\n" not in str(ei.value) and "git checkout -- data/embedded" in str(ei.value)


def test_a_corrupted_member_of_a_whole_file_archive_is_refused(tmp_path, monkeypatch):
    import io
    import tarfile

    folder = tmp_path / "embedded"
    folder.mkdir()
    with tarfile.open(REPO / "data" / "embedded" / "glue_rte.tar.xz", "r:xz") as tar:
        members = [(m, tar.extractfile(m).read()) for m in tar]
    with tarfile.open(folder / "glue_rte.tar.xz", "w:xz") as tar:
        for m, data in members:
            data = data.replace(b"entailment", b"entailmant", 1) if m.name.endswith("dev.tsv") else data
            tar.addfile(m, io.BytesIO(data))
    monkeypatch.setattr(sources, "EMBEDDED_DIR", folder)
    with pytest.raises(ChecksumError, match="RTE/dev.tsv"):
        loader.load("rte", mirror=None, allow_download=False)


def test_the_draw_is_the_one_the_committed_tables_were_made_with():
    """drawn() must keep the rows the former inline draw kept (rng.choice over the group's row indices)."""
    for n, limit, seed, split, label in ((12500, 1000, 0, "train", 1), (67349, 50, 3, "dev", 0), (7, 6, 0, "test", 1)):
        idx = np.arange(n) * 2 + 11
        rng = np.random.default_rng([seed, zlib.crc32(f"{split}:{label}".encode())])
        before = np.sort(rng.choice(idx, size=limit, replace=False))
        np.testing.assert_array_equal(idx[drawn(n, limit, seed, split, label)], before)
    np.testing.assert_array_equal(drawn(5, 6, 0, "train", 0), np.arange(5))


def test_missing_archive_falls_through_to_the_next_source(tmp_path, monkeypatch):
    folder = tmp_path / "embedded"
    shutil.copytree(REPO / "data" / "embedded", folder)
    (folder / "snli_1.0_dev.tar.xz").unlink()
    monkeypatch.setattr(sources, "EMBEDDED_DIR", folder)
    with pytest.raises(DataUnavailableError, match="snli_1.0_dev.tar.xz \\(not found\\)"):
        loader.load("snli", mirror=None, allow_download=False)
