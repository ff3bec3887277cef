"""Tests of tsns.datasets: registry, parsers, sources, checksums, tables.

Fixtures under tests/fixtures/data are laid out like the dataset mirror and cut from the
real files (see tests/fixtures/data/make_fixtures.py); since their checksums differ from
the official ones, the ``fixture_registry`` fixture swaps the registry's checksums for
the fixtures' own, so verification still runs (and passes) on them.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import urllib.error
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tsns.datasets import load as loader
from tsns.datasets import registry, sources
from tsns.datasets import table as dtable
from tsns.datasets import spec as dspec
from tsns.errors import ChecksumError, ConfigError, DataUnavailableError, TSNSError

FIX = Path(__file__).resolve().parent / "fixtures" / "data"
# the shared mirror lives next to the repository: <repo>/../shared/datasets
MIRROR = (Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets").resolve()
needs_mirror = pytest.mark.skipif(not MIRROR.is_dir(), reason=f"dataset mirror {MIRROR} not present")

NAMES = ["books", "dvd", "electronics", "kitchen", "imdb", "sst2", "rte", "mrpc", "scitail", "snli", "mnli", "qqp"]
REAL_FETCH = sources._fetch_url  # kept before the autouse fixture replaces it
FIXTURE_NAMES = ["books", "kitchen", "imdb", "sst2", "rte", "mrpc", "scitail", "snli", "mnli", "qqp"]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_line(exc: BaseException) -> str:
    msg = str(exc)
    assert "\n" not in msg, msg
    return msg


@pytest.fixture(autouse=True)
def no_network(monkeypatch):
    """No test may reach the network: the real fetch is replaced unless a test restores it."""

    def refuse(url, dest, **kw):
        raise urllib.error.URLError(f"network disabled in tests ({url})")

    monkeypatch.setattr(sources, "_fetch_url", refuse)


@pytest.fixture
def fixture_registry(monkeypatch):
    """Registry whose mirror checksums are those of the fixture files."""
    for name, spec in list(registry.REGISTRY.items()):
        files = []
        for fs in spec.files:
            p = FIX / fs.path
            files.append(dataclasses.replace(fs, sha256=(_sha(p),) if p.is_file() else ()))
        monkeypatch.setitem(registry.REGISTRY, name, dataclasses.replace(spec, files=tuple(files)))
    return registry.REGISTRY


def _load_fix(name, **kw):
    kw.setdefault("allow_download", False)
    kw.setdefault("max_malformed", 0.2)  # the tiny QQP fixture has 1 malformed row in 7
    return loader.load(name, mirror=FIX, **kw)


def _counts(df):
    return {(s, int(lab)): int(n) for (s, lab), n in df.groupby(["split", "label"]).size().items()}


# ------------------------------------------------------------------ registry
def test_registry_names_and_fields():
    assert sorted(registry.REGISTRY) == sorted(NAMES)
    for name, spec in registry.REGISTRY.items():
        assert spec.name == name
        assert spec.task in {"sentiment", "nli", "paraphrase"}
        assert spec.pair == (spec.task != "sentiment")
        assert sorted(set(spec.labels.values())) == [0, 1]
        assert spec.files and all(fs.path for fs in spec.files)
        for fs in spec.files:
            assert all(re.fullmatch(r"[0-9a-f]{64}", s) for s in fs.sha256)
            assert fs.download is None or 0 <= fs.download < len(spec.downloads)
        for d in spec.downloads:
            assert d.url.startswith(("http://", "https://"))
            assert d.sha256 is None or re.fullmatch(r"[0-9a-f]{64}", d.sha256)
        text = spec.describe()
        assert name in text and "label 1 <-" in text and "label 0 <-" in text and "labels: 1 = " in text
        assert registry.describe(name) == text
    assert registry.REGISTRY["kitchen"].files[0].path.startswith("amazon/sorted_data_acl/kitchen_&_housewares/")
    assert set(registry.REGISTRY["snli"].drop_labels) == {"contradiction", "-"}
    assert "contradiction" in registry.REGISTRY["mnli"].drop_labels
    assert registry.get_spec("MR").name == "imdb" and registry.get_spec("SST-2").name == "sst2"


@needs_mirror
def test_registry_checksums_match_mirror_sha256sums():
    sums = {}
    for line in (MIRROR / "SHA256SUMS").read_text().splitlines():
        digest, rel = line.split(maxsplit=1)
        sums[rel.removeprefix("./")] = digest
    seen = set()
    for spec in registry.REGISTRY.values():
        for fs in spec.files:
            if fs.path in sums:
                assert sums[fs.path] in fs.sha256, fs.path
                seen.add(fs.path)
    # every mirrored file the loaders read has its checksum in the code
    assert len(seen) >= 8 + 1 + 3 + 2 + 3 + 1 + 1


def test_unknown_dataset_raises_config_error():
    with pytest.raises(ConfigError) as ei:
        loader.load("cola", allow_download=False)
    msg = _one_line(ei.value)
    assert "cola" in msg and "books" in msg and "qqp" in msg


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_bad_limit_raises_config_error(bad):
    with pytest.raises(ConfigError):
        loader.load("books", limit=bad, allow_download=False)


# ------------------------------------------------------------------- parsers
def test_amazon_fixture(fixture_registry):
    df, prov = _load_fix("books")
    assert prov["source"] == "mirror" and prov["verified"] is True
    assert len(df) == 8 and _counts(df) == {("train", 0): 4, ("train", 1): 4}
    assert set(df["domain"]) == {"books"} and df["text_b"].isna().all()
    assert df["id"].tolist()[:2] == ["books:negative:0000", "books:negative:0001"]
    texts = dict(zip(df["id"], df["text_a"], strict=True))
    # unescaped '&' survives, the title is not prepended, whitespace is collapsed
    amp = texts["books:positive:0001"]
    assert amp.startswith("Very good, easy, light & funny read! Although")
    assert '"Running with Scissors"' in amp
    # HTML entities decoded: &lt; -> '<', &quot; -> '"'
    assert "<" in texts["books:positive:0002"] and "&lt;" not in texts["books:positive:0002"]
    assert not df["text_a"].str.contains("&quot;|&lt;|&amp;", regex=True).any()
    # U+FFFD of the (already lossy) copy is kept as is
    assert "\ufffd" in texts["books:positive:0003"]
    assert not df["text_a"].str.contains("<review_text>|</title>", regex=True).any()
    assert prov["files"] == {fs.path: _sha(FIX / fs.path) for fs in registry.REGISTRY["books"].files}


def test_amazon_kitchen_folder(fixture_registry):
    df, _ = _load_fix("kitchen")
    assert len(df) == 4 and set(df["domain"]) == {"kitchen"}
    assert df["id"].str.startswith("kitchen:").all()


def test_amazon_latin1_and_unterminated_block(tmp_path):
    folder = tmp_path / "amazon" / "sorted_data_acl" / "books"
    folder.mkdir(parents=True)
    pos = (
        b"<review>\n<title>\nCaf\xe9 & more\n</title>\n<review_text>\nA na\xefve <b> & d\xe9j\xe0 vu &quot;story&quot;\n"
        b"</review_text>\n</review>\n<review>\n<title>\nbroken\n</title>\n<review_text>\nno end\n"
    )
    neg = b"<review>\n<title>\nBad\n</title>\n<review_text>\n\n</review_text>\n</review>\n"
    (folder / "positive.review").write_bytes(pos)
    (folder / "negative.review").write_bytes(neg)
    with pytest.raises(DataUnavailableError, match=r"books: 1 of 3 rows are malformed \(first: amazon/sorted_data_acl/"
                                                     r"books/positive.review: a <review> without its closing tag\)"):
        loader.load("books", mirror=tmp_path, allow_download=False, verify=False)  # 33 % > the default 1 %
    df, prov = loader.load("books", mirror=tmp_path, allow_download=False, verify=False, max_malformed=0.5)
    assert df["text_a"].tolist() == ["Bad", 'A naïve <b> & déjà vu "story"']  # empty text -> title
    assert prov["skipped_rows"] == 1  # the unterminated <review>
    assert prov["verified"] is False and len(prov["files"]) == 2


def test_a_label_outside_the_label_set_is_refused_naming_the_row(tmp_path):
    folder = tmp_path / "glue" / "SST-2"
    folder.mkdir(parents=True)
    rows = "sentence\tlabel\n" + "".join(f"good {i}\t1\nbad {i}\t0\n" for i in range(50)) + "odd\t7\n"
    (folder / "train.tsv").write_text(rows)
    (folder / "dev.tsv").write_text("sentence\tlabel\nfine\t1\nawful\t0\n")
    with pytest.raises(DataUnavailableError, match=r"SST-2/train.tsv data row 101 has label '7', not one of"):
        loader.load("sst2", mirror=tmp_path, allow_download=False, verify=False)


def test_a_few_malformed_rows_are_skipped_many_fail(tmp_path):
    folder = tmp_path / "glue" / "SST-2"
    folder.mkdir(parents=True)
    good = "".join(f"good {i}\t1\nbad {i}\t0\n" for i in range(100))
    (folder / "dev.tsv").write_text("sentence\tlabel\nfine\t1\nawful\t0\n")
    (folder / "train.tsv").write_text("sentence\tlabel\n" + good + "three\tcolumns\there\n")  # 1 of 203
    df, prov = loader.load("sst2", mirror=tmp_path, allow_download=False, verify=False)
    assert prov["skipped_rows"] == 1 and len(df) == 202
    (folder / "train.tsv").write_text("sentence\tlabel\n" + good + "x\ty\tz\n" * 10)  # 10 of 212
    with pytest.raises(DataUnavailableError, match=r"10 of 212 rows are malformed \(first: glue/SST-2/train.tsv data "
                                                   r"row 201: 3 columns, expected 2\).*data.max_malformed=0.01"):
        loader.load("sst2", mirror=tmp_path, allow_download=False, verify=False)


def test_imdb_fixture(fixture_registry):
    df, prov = _load_fix("imdb")
    assert _counts(df) == {("train", 0): 2, ("train", 1): 2, ("test", 0): 2, ("test", 1): 2}
    assert df["split"].tolist() == ["train"] * 4 + ["test"] * 4
    assert df["label"].tolist() == [0, 0, 1, 1, 0, 0, 1, 1]
    assert not df["text_a"].str.contains("<br", regex=False).any()
    assert not df["text_a"].str.contains("unlabelled review", regex=False).any()
    assert df["id"].str.fullmatch(r"imdb:(train|test):(pos|neg):\d+_\d+").all()
    # rating in the file name agrees with the label
    ratings = df["id"].str.extract(r"_(\d+)$")[0].astype(int)
    assert ((ratings >= 7) == (df["label"] == 1)).all()
    assert prov["files"] == {"imdb/aclImdb_v1_labeled.tar.gz": _sha(FIX / "imdb/aclImdb_v1_labeled.tar.gz")}


def test_sst2_fixture(fixture_registry):
    df, _ = _load_fix("sst2")
    assert _counts(df) == {
        ("train", 0): 5,
        ("train", 1): 1,
        ("dev", 0): 1,
        ("dev", 1): 3,
        ("test", 0): 3,
        ("test", 1): 2,
    }
    assert df["text_a"].iloc[0] == "hide new secretions from the parental units"  # trailing space stripped
    assert df["text_a"].str.contains("crème brûlée", regex=False).any()


def test_sst2_without_test_labeled(tmp_path, fixture_registry):
    (tmp_path / "glue" / "SST-2").mkdir(parents=True)
    for f in ("train.tsv", "dev.tsv"):
        (tmp_path / "glue" / "SST-2" / f).write_bytes((FIX / "glue" / "SST-2" / f).read_bytes())
    df, prov = loader.load("sst2", mirror=tmp_path, allow_download=False)
    assert set(df["split"]) == {"train", "dev"}
    assert "glue/SST-2/test_labeled.tsv" not in prov["files"]


def test_rte_fixture(fixture_registry):
    df, _ = _load_fix("rte")
    assert _counts(df) == {("train", 0): 1, ("train", 1): 4, ("dev", 0): 2, ("dev", 1): 1}
    first = df.iloc[0]
    assert first["id"] == "rte:train:0" and first["label"] == 0
    assert first["text_a"] == "No Weapons of Mass Destruction Found in Iraq Yet."
    assert first["text_b"] == "Weapons of Mass Destruction Found in Iraq."
    assert df["text_a"].str.contains('"extensive"', regex=False).any()  # quotes kept, not parsed


def test_mrpc_fixture_split_logic(fixture_registry):
    df, prov = _load_fix("mrpc")
    dev_ids = [tuple(line.split("\t")) for line in (FIX / "glue/MRPC/dev_ids.tsv").read_text().splitlines()]
    assert len(dev_ids) == 2
    assert (df["split"] == "dev").sum() == 2 and (df["split"] == "train").sum() == 6
    assert (df["split"] == "test").sum() == 4
    assert sorted(df.loc[df["split"] == "dev", "id"]) == sorted(f"mrpc:dev:{a}-{b}" for a, b in dev_ids)
    assert not df["id"].str.contains("\ufeff").any() and not df["text_a"].str.contains("\ufeff").any()
    amrozi = df.loc[df["id"] == "mrpc:train:702876-702977"].iloc[0]
    assert amrozi["label"] == 1 and '" the witness "' in amrozi["text_a"]
    assert df["split"].tolist() == sorted(df["split"], key=dspec.SPLITS.index)  # grouped by split
    assert prov["skipped_rows"] == 0


def test_scitail_fixture(fixture_registry):
    df, prov = _load_fix("scitail")
    assert _counts(df) == {("test", 0): 3, ("test", 1): 3}
    assert df["text_b"].notna().all()
    assert set(prov["files"]) == {"scitail/scitail_1.0_test.tsv"}  # train/dev optional, absent


def test_snli_fixture_drops_contradiction_and_no_gold(fixture_registry):
    df, prov = _load_fix("snli")
    assert _counts(df) == {("dev", 0): 2, ("dev", 1): 2}
    assert prov["dropped"] == {"contradiction": 2, "no_gold_label": 1}
    assert "The two women are sisters." not in df["text_b"].tolist()
    # ids keep the line number of the file, so they stay stable when rows are dropped
    assert df["id"].tolist() == ["snli:dev:0", "snli:dev:1", "snli:dev:4", "snli:dev:5"]


def test_mnli_fixture(fixture_registry):
    df, prov = _load_fix("mnli")
    assert _counts(df) == {("train", 0): 2, ("train", 1): 3, ("dev", 0): 1, ("dev", 1): 1}
    assert prov["dropped"] == {"contradiction": 3}
    assert df.iloc[0]["text_a"] == "Conceptually cream skimming has two basic dimensions."
    assert df.iloc[0]["text_b"] == "Product and geography are what make cream skimming work."
    assert not df["text_a"].str.startswith("(").any()  # not the parse columns


def test_qqp_fixture_skips_malformed_rows(fixture_registry):
    df, prov = _load_fix("qqp")
    assert _counts(df) == {("train", 0): 2, ("train", 1): 2, ("dev", 0): 1, ("dev", 1): 1}
    assert prov["skipped_rows"] == 1
    assert "qqp:train:201841" not in set(df["id"])


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_normalised_schema(name, fixture_registry):
    df, prov = _load_fix(name)
    spec = registry.REGISTRY[name]
    assert list(df.columns) == list(dspec.COLUMNS)
    assert df["label"].dtype == np.int64 and set(df["label"]) <= {0, 1}
    assert set(df["split"]) <= set(dspec.SPLITS)
    assert (df["domain"] == name).all()
    assert df["id"].is_unique and df["id"].str.startswith(f"{name}:").all()
    assert all(isinstance(x, str) and x for x in df["text_a"])
    if spec.pair:
        assert all(isinstance(x, str) and x for x in df["text_b"])
    else:
        assert df["text_b"].isna().all()
    ranks = df["split"].map(dspec.SPLITS.index).to_numpy()
    assert (np.diff(ranks) >= 0).all()
    # provenance
    json.dumps(prov)
    assert prov["dataset"] == name and prov["n_rows"] == len(df)
    assert sum(n for d in prov["rows_per_split_label"].values() for n in d.values()) == len(df)
    assert prov["limit"] is None and prov["seed"] == 0
    # stable
    df2, _ = _load_fix(name)
    pd.testing.assert_frame_equal(df, df2)
    assert dtable.table_sha256(df) == dtable.table_sha256(df2)


# --------------------------------------------------------------------- limit
def test_limit_is_deterministic_and_order_preserving():
    full, _ = loader.load("books", allow_download=False)
    a, pa = loader.load("books", allow_download=False, limit=10, seed=0)
    b, _ = loader.load("books", allow_download=False, limit=10, seed=0)
    c, _ = loader.load("books", allow_download=False, limit=10, seed=1)
    pd.testing.assert_frame_equal(a, b)
    assert set(a["id"]) != set(c["id"])
    assert _counts(a) == {("train", 0): 10, ("train", 1): 10}
    pos = full.reset_index().set_index("id").loc[a["id"], "index"].to_numpy()
    assert (np.diff(pos) > 0).all()  # original order kept
    assert pa["limit"] == 10 and pa["n_rows"] == 20 and pa["n_rows_before_limit"] == 2000


def test_limit_larger_than_group_keeps_everything(fixture_registry):
    full, _ = _load_fix("sst2")
    lim, _ = _load_fix("sst2", limit=3)
    assert _counts(lim) == {k: min(v, 3) for k, v in _counts(full).items()}
    lim2, _ = _load_fix("sst2", limit=2, seed=7)
    assert all(v <= 2 for v in _counts(lim2).values())


# ------------------------------------------------------------------ checksums
def test_checksum_mismatch_raises(fixture_registry, monkeypatch):
    spec = registry.REGISTRY["rte"]
    bad = dataclasses.replace(spec.files[0], sha256=("0" * 64,))
    monkeypatch.setitem(registry.REGISTRY, "rte", dataclasses.replace(spec, files=(bad, *spec.files[1:])))
    with pytest.raises(ChecksumError) as ei:
        _load_fix("rte")
    msg = _one_line(ei.value)
    assert "glue/RTE/train.tsv" in msg and "0" * 64 in msg and _sha(FIX / "glue/RTE/train.tsv") in msg


def test_real_registry_rejects_fixture_files():
    # default verify=True with the official checksums: the cut fixture is not the release
    with pytest.raises(ChecksumError):
        loader.load("mrpc", mirror=FIX, allow_download=False)
    df, prov = loader.load("mrpc", mirror=FIX, allow_download=False, verify=False)
    assert len(df) == 12 and prov["verified"] is False


def test_embedded_member_checksum_verified(monkeypatch):
    spec = registry.REGISTRY["books"]
    bad = dataclasses.replace(spec.files[1], sha256=("f" * 64,))
    monkeypatch.setitem(registry.REGISTRY, "books", dataclasses.replace(spec, files=(spec.files[0], bad)))
    with pytest.raises(ChecksumError) as ei:
        loader.load("books", allow_download=False)
    msg = _one_line(ei.value)
    assert "positive.review" in msg and "git checkout" in msg


# ------------------------------------------------------------------- sources
def test_unavailable_without_download(tmp_path):
    with pytest.raises(DataUnavailableError) as ei:
        loader.load("qqp", mirror=tmp_path, cache_dir=tmp_path / "cache", allow_download=False)
    msg = _one_line(ei.value)
    assert "'qqp' is not available" in msg
    assert "glue/QQP/train.tsv" in msg and "allow_download=False" in msg and str(tmp_path) in msg
    assert not (tmp_path / "cache").exists()


def test_unavailable_network_failure_is_reported(tmp_path):
    with pytest.raises(DataUnavailableError) as ei:
        loader.load("mnli", mirror=tmp_path / "nowhere", cache_dir=tmp_path / "cache")
    msg = _one_line(ei.value)
    assert "does not exist" in msg and "MNLI.zip" in msg and "network disabled in tests" in msg
    assert not list((tmp_path / "cache").rglob("*.zip"))


def test_embedded_used_without_mirror():
    df, prov = loader.load("books", mirror=None, allow_download=False)
    assert prov["source"] == "embedded" and len(df) == 2000


def test_missing_embedded_archive_falls_through(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "EMBEDDED_DIR", tmp_path)
    with pytest.raises(DataUnavailableError) as ei:
        loader.load("dvd", allow_download=False, cache_dir=tmp_path / "c")
    assert "embedded archive" in _one_line(ei.value) and "not found" in str(ei.value)


def _zip_fixture(tmp_path, members: dict[str, Path]) -> Path:
    z = tmp_path / "upstream" / "QQP-clean.zip"
    z.parent.mkdir(parents=True)
    with zipfile.ZipFile(z, "w") as zf:
        for name, src in members.items():
            zf.writestr(name, src.read_bytes())
    return z


def test_download_from_file_url_and_cache(tmp_path, monkeypatch, fixture_registry):
    monkeypatch.setattr(sources, "_fetch_url", REAL_FETCH)  # file:// needs no network
    z = _zip_fixture(tmp_path, {"QQP/train.tsv": FIX / "glue/QQP/train.tsv", "QQP/dev.tsv": FIX / "glue/QQP/dev.tsv"})
    spec = registry.REGISTRY["qqp"]
    dl = dataclasses.replace(spec.downloads[0], url=z.as_uri(), sha256=_sha(z))
    monkeypatch.setitem(registry.REGISTRY, "qqp", dataclasses.replace(spec, downloads=(dl,)))
    cache = tmp_path / "cache"
    df, prov = loader.load("qqp", mirror=tmp_path / "empty", cache_dir=cache, max_malformed=0.2)
    assert prov["source"] == "url" and prov["downloads"] == {z.as_uri(): _sha(z)}
    assert len(df) == 6 and prov["skipped_rows"] == 1
    assert (cache / "qqp" / "QQP-clean.zip").is_file()
    assert [p.name for p in (cache / "qqp").iterdir()] == ["QQP-clean.zip"]  # no temp file left
    ref, _ = _load_fix("qqp")
    pd.testing.assert_frame_equal(df, ref)
    # second time: served from the cache, no download needed
    z.unlink()
    df2, prov2 = loader.load("qqp", cache_dir=cache, allow_download=False, max_malformed=0.2)
    assert prov2["source"] == "url"
    pd.testing.assert_frame_equal(df, df2)


def test_download_official_amazon_tarball(tmp_path, monkeypatch, caplog):
    """The official domain_sentiment_data.tar.gz (no published checksum): members read in one pass."""
    import io
    import tarfile

    monkeypatch.setattr(sources, "_fetch_url", REAL_FETCH)
    monkeypatch.setattr(sources, "EMBEDDED_DIR", tmp_path / "no-embedded")
    up = tmp_path / "upstream" / "domain_sentiment_data.tar.gz"
    up.parent.mkdir()
    with tarfile.open(up, "w:gz") as tar:
        for rel in ("books/positive.review", "books/negative.review", "books/unlabeled.review"):
            src = FIX / "amazon/sorted_data_acl" / rel
            payload = src.read_bytes() if src.exists() else b"<review></review>"
            ti = tarfile.TarInfo(f"sorted_data_acl/{rel}")
            ti.size = len(payload)
            tar.addfile(ti, io.BytesIO(payload))
    spec = registry.REGISTRY["books"]
    dl = dataclasses.replace(spec.downloads[0], url=up.as_uri())
    monkeypatch.setitem(registry.REGISTRY, "books", dataclasses.replace(spec, downloads=(dl,)))
    # the archive has no published checksum, but every member has one: these members are the fixture cuts, not
    # the official files, so the download is refused, naming the member
    with pytest.raises(ChecksumError, match=r"domain_sentiment_data.tar.gz:sorted_data_acl/books/\w+.review"):
        loader.load("books", cache_dir=tmp_path / "cache")
    with caplog.at_level("WARNING", logger="tsns.data"):
        df, prov = loader.load("books", cache_dir=tmp_path / "cache", verify=False)
    assert prov["source"] == "url" and len(df) == 8
    assert prov["downloads"] == {up.as_uri(): _sha(up)}
    assert prov["verified"] is False and not any(prov["verified_files"].values())


def test_mirror_accepts_official_imdb_archive_name(tmp_path):
    (tmp_path / "imdb").mkdir()
    (tmp_path / "imdb" / "aclImdb_v1.tar.gz").write_bytes((FIX / "imdb/aclImdb_v1_labeled.tar.gz").read_bytes())
    with pytest.raises(ChecksumError):  # neither the mirror's nor the official checksum
        loader.load("imdb", mirror=tmp_path, allow_download=False)
    df, prov = loader.load("imdb", mirror=tmp_path, allow_download=False, verify=False)
    assert len(df) == 8 and prov["source"] == "mirror"


def test_download_checksum_mismatch_leaves_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "_fetch_url", REAL_FETCH)
    z = _zip_fixture(tmp_path, {"QQP/train.tsv": FIX / "glue/QQP/train.tsv", "QQP/dev.tsv": FIX / "glue/QQP/dev.tsv"})
    spec = registry.REGISTRY["qqp"]
    dl = dataclasses.replace(spec.downloads[0], url=z.as_uri())  # official sha256 kept
    monkeypatch.setitem(registry.REGISTRY, "qqp", dataclasses.replace(spec, downloads=(dl,)))
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumError) as ei:
        loader.load("qqp", cache_dir=cache)
    msg = _one_line(ei.value)
    assert spec.downloads[0].sha256 in msg and _sha(z) in msg
    assert not list(cache.rglob("*")) or all(p.is_dir() for p in cache.rglob("*"))


def test_fetch_url_failure_leaves_no_partial_file(tmp_path):
    dest = tmp_path / "dl" / "x.zip"
    with pytest.raises(OSError):
        REAL_FETCH((tmp_path / "missing.zip").as_uri(), dest)
    assert list((tmp_path / "dl").iterdir()) == []


def test_fetch_url_uses_timeout_and_reports(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "_fetch_url", REAL_FETCH)
    seen = {}

    def fake_urlopen(req, timeout):
        seen["timeout"] = timeout
        raise urllib.error.URLError("timed out")

    monkeypatch.setattr(sources.urllib.request, "urlopen", fake_urlopen)
    with pytest.raises(DataUnavailableError) as ei:
        loader.load("qqp", mirror=tmp_path, cache_dir=tmp_path / "cache")
    assert seen["timeout"] == dspec.DOWNLOAD_TIMEOUT_S
    assert "timed out" in _one_line(ei.value)
    assert not list((tmp_path / "cache").rglob("*.part"))


# -------------------------------------------------------------------- tables
@pytest.fixture
def table(fixture_registry):
    return _load_fix("mrpc")


def test_save_read_round_trip(tmp_path, table):
    df, prov = table
    path = tmp_path / "deep" / "er" / "mrpc.parquet"
    dtable.save_table(df, path, prov)
    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["table_sha256"] == dtable.table_sha256(df) and meta["dataset"] == "mrpc"
    assert meta["table_n_rows"] == len(df) and meta["files"] == prov["files"]
    back = dtable.read_table(path)
    assert list(back.columns) == list(dspec.COLUMNS)
    assert back["label"].dtype == np.int64
    assert back["id"].tolist() == df["id"].tolist() and back["text_b"].tolist() == df["text_b"].tolist()
    assert dtable.table_sha256(back) == meta["table_sha256"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["mrpc.json", "mrpc.parquet"]


def test_round_trip_single_text_keeps_null_text_b(tmp_path, fixture_registry):
    df, prov = _load_fix("sst2")
    path = tmp_path / "sst2.parquet"
    dtable.save_table(df, path, prov)
    back = dtable.read_table(path)
    assert back["text_b"].isna().all()
    assert dtable.table_sha256(back) == dtable.table_sha256(df)


def test_save_is_atomic_on_failure(tmp_path, table, monkeypatch):
    df, prov = table
    path = tmp_path / "out" / "mrpc.parquet"
    dtable.save_table(df, path, prov)
    before = (path.read_bytes(), path.with_suffix(".json").read_bytes())

    def broken(self, target, *a, **k):
        Path(target).write_bytes(b"PAR1 partial")
        raise OSError("disk full")

    monkeypatch.setattr(pd.DataFrame, "to_parquet", broken)
    with pytest.raises(OSError):
        dtable.save_table(df.iloc[:3], path, prov)
    with pytest.raises(OSError):
        dtable.save_table(df, tmp_path / "fresh" / "t.parquet", prov)
    # the old table is untouched, the new one does not exist, no temporary file is left
    assert (path.read_bytes(), path.with_suffix(".json").read_bytes()) == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["mrpc.json", "mrpc.parquet"]
    assert list((tmp_path / "fresh").iterdir()) == []


def test_save_is_atomic_when_sidecar_move_fails(tmp_path, table, monkeypatch):
    df, prov = table
    path = tmp_path / "t.parquet"
    real_replace = dtable.os.replace

    def replace(src, dst):
        if str(dst).endswith(".json"):
            raise OSError("boom")
        real_replace(src, dst)

    with monkeypatch.context() as m:
        m.setattr(dtable.os, "replace", replace)
        with pytest.raises(OSError):
            dtable.save_table(df, path, prov)
    # parquet moved, sidecar not: read_table refuses the half-written pair
    assert not any(p.name.endswith(".tmp") for p in tmp_path.iterdir())
    with pytest.raises(DataUnavailableError):
        dtable.read_table(path)


def test_read_table_detects_tampering(tmp_path, table):
    df, prov = table
    path = tmp_path / "mrpc.parquet"
    dtable.save_table(df, path, prov)
    tampered = df.copy()
    tampered.loc[0, "text_a"] = "changed"
    tampered.to_parquet(path, index=False)
    with pytest.raises(ChecksumError) as ei:
        dtable.read_table(path)
    assert "dvc repro download" in _one_line(ei.value)
    # flipped label
    dtable.save_table(df, path, prov)
    flipped = df.copy()
    flipped.loc[0, "label"] = 1 - flipped.loc[0, "label"]
    flipped.to_parquet(path, index=False)
    with pytest.raises(ChecksumError):
        dtable.read_table(path)
    # edited sidecar
    dtable.save_table(df, path, prov)
    meta = json.loads(path.with_suffix(".json").read_text())
    meta["table_sha256"] = "0" * 64
    path.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ChecksumError):
        dtable.read_table(path)
    # corrupt parquet
    path.write_bytes(b"not parquet")
    with pytest.raises(ChecksumError):
        dtable.read_table(path)


def _write_raw(path: Path, df: pd.DataFrame) -> None:
    df.to_parquet(path, index=False)
    path.with_suffix(".json").write_text(json.dumps({"table_sha256": "x"}))


@pytest.mark.parametrize(
    "mutate, needle",
    [
        (lambda d: d.drop(columns=["domain"]), "missing column"),
        (lambda d: d.assign(extra=1), "unexpected column"),
        (lambda d: d.assign(label=2), "outside"),
        (lambda d: d.iloc[:0], "empty"),
        (lambda d: d.assign(split="validation"), "unknown split"),
    ],
)
def test_read_table_schema_errors(tmp_path, table, mutate, needle):
    df, prov = table
    path = tmp_path / "bad.parquet"
    _write_raw(path, mutate(df))
    with pytest.raises(TSNSError) as ei:
        dtable.read_table(path)
    msg = _one_line(ei.value)
    assert needle in msg and "dvc repro download" in msg
    with pytest.raises(TSNSError):
        dtable.save_table(mutate(df), tmp_path / "refused.parquet", prov)
    assert not (tmp_path / "refused.parquet").exists()


def test_read_table_missing_files(tmp_path, table):
    with pytest.raises(DataUnavailableError):
        dtable.read_table(tmp_path / "nope.parquet")
    df, _ = table
    df.to_parquet(tmp_path / "nosidecar.parquet", index=False)
    with pytest.raises(DataUnavailableError) as ei:
        dtable.read_table(tmp_path / "nosidecar.parquet")
    assert "dvc repro download" in _one_line(ei.value)


def test_table_sha256_canonical(table):
    df, _ = table
    h = dtable.table_sha256(df)
    assert re.fullmatch(r"[0-9a-f]{64}", h)
    as_string = df.astype({"id": "string", "text_a": "string", "split": "string"})
    assert dtable.table_sha256(as_string) == h
    assert dtable.table_sha256(df.assign(label=df["label"].astype("int32"))) == h
    assert dtable.table_sha256(df.iloc[::-1]) != h
    changed = df.copy()
    changed.loc[3, "text_b"] = changed.loc[3, "text_b"] + " "
    assert dtable.table_sha256(changed) != h
    single = df.assign(text_b=None)
    assert dtable.table_sha256(single) == dtable.table_sha256(df.assign(text_b=np.nan))


def test_validate_labels():
    ok = pd.DataFrame({"label": [0, 1, 1]})
    dtable.validate_labels(ok, "x")
    with pytest.raises(DataUnavailableError) as ei:
        dtable.validate_labels(ok.iloc[:0], "books")
    assert "'books'" in _one_line(ei.value)
    with pytest.raises(TSNSError) as ei:
        dtable.validate_labels(pd.DataFrame({"label": [1, 1]}), "rte")
    msg = _one_line(ei.value)
    assert "'rte'" in msg and "single class" in msg


def test_load_rejects_single_class_source(tmp_path):
    folder = tmp_path / "glue" / "RTE"
    folder.mkdir(parents=True)
    rows = "index\tsentence1\tsentence2\tlabel\n0\tA b.\tA.\tentailment\n"
    (folder / "train.tsv").write_text(rows)
    (folder / "dev.tsv").write_text(rows.replace("0\t", "1\t", 1))
    with pytest.raises(TSNSError) as ei:
        loader.load("rte", mirror=tmp_path, allow_download=False, verify=False)
    assert "single class" in _one_line(ei.value)


# ------------------------------------------------------------- real data
@pytest.mark.parametrize("name", ["books", "dvd", "electronics", "kitchen"])
def test_embedded_amazon_archive(name):
    df, prov = loader.load(name, mirror=None, allow_download=False)
    assert prov["source"] == "embedded" and prov["verified"] is True
    assert prov["origin"].endswith("amazon_sorted_data_acl.tar.xz")
    assert _counts(df) == {("train", 0): 1000, ("train", 1): 1000}
    assert prov["skipped_rows"] == 0 and df["id"].is_unique
    assert set(prov["files"]) == {fs.path for fs in registry.REGISTRY[name].files}


EXPECTED = {
    # (split, label) -> rows, from ../shared/datasets/README.md
    "books": {("train", 0): 1000, ("train", 1): 1000},
    "kitchen": {("train", 0): 1000, ("train", 1): 1000},
    "imdb": {("train", 0): 12500, ("train", 1): 12500, ("test", 0): 12500, ("test", 1): 12500},
    "sst2": {
        ("train", 0): 29780,
        ("train", 1): 37569,
        ("dev", 0): 428,
        ("dev", 1): 444,
        ("test", 0): 912,
        ("test", 1): 909,
    },
    "rte": {("train", 0): 1241, ("train", 1): 1249, ("dev", 0): 131, ("dev", 1): 146},
    "mrpc": {
        ("train", 0): 1194,
        ("train", 1): 2474,
        ("dev", 0): 129,
        ("dev", 1): 279,
        ("test", 0): 578,
        ("test", 1): 1147,
    },
    "scitail": {("test", 0): 1284, ("test", 1): 842},
    "snli": {("dev", 0): 3231, ("dev", 1): 3325},
}


@needs_mirror
@pytest.mark.parametrize("name", list(EXPECTED))
def test_real_mirror_counts(name):
    df, prov = loader.load(name, mirror=MIRROR, allow_download=False)
    assert prov["source"] == "mirror" and prov["verified"] is True
    assert _counts(df) == EXPECTED[name]
    assert prov["skipped_rows"] == 0 and df["id"].is_unique
    per_split = df.groupby("split").size().to_dict()
    if name == "sst2":
        assert per_split == {"train": 67349, "dev": 872, "test": 1821}
    if name == "mrpc":
        assert per_split == {"train": 3668, "dev": 408, "test": 1725}
    if name == "rte":
        assert per_split == {"train": 2490, "dev": 277}  # GLUE test is unlabelled: not read
    if name == "snli":
        assert prov["dropped"] == {"contradiction": 3275}  # the mirror has no '-' lines
    if name == "imdb":
        assert not df["text_a"].str.contains("<br /><br />", regex=False).any()


@needs_mirror
def test_real_mirror_mnli_qqp_unavailable(tmp_path):
    for name in ("mnli", "qqp"):
        with pytest.raises(DataUnavailableError) as ei:
            loader.load(name, mirror=MIRROR, cache_dir=tmp_path, allow_download=False)
        assert f"glue/{name.upper()}/" in _one_line(ei.value)


def test_provenance_says_per_file_whether_it_was_verified(tmp_path, monkeypatch):
    """A file with no known checksum is recorded as unverified, and so is the dataset as a whole."""
    spec = registry.get_spec("sst2")
    folder = tmp_path / "glue" / "SST-2"
    folder.mkdir(parents=True)
    (folder / "train.tsv").write_text("sentence\tlabel\ngood\t1\nbad\t0\n")
    (folder / "dev.tsv").write_text("sentence\tlabel\nfine\t1\nawful\t0\n")
    files = tuple(dataclasses.replace(fs, sha256=()) if fs.path.endswith("dev.tsv") else
                  dataclasses.replace(fs, sha256=(hashlib.sha256((folder / "train.tsv").read_bytes()).hexdigest(),))
                  for fs in spec.files)
    monkeypatch.setitem(registry.REGISTRY, "sst2", dataclasses.replace(spec, files=files))
    df, prov = loader.load("sst2", mirror=tmp_path, allow_download=False, verify=True)
    assert prov["verified_files"] == {"glue/SST-2/dev.tsv": False, "glue/SST-2/train.tsv": True}
    assert prov["verified"] is False
