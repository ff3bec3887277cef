"""The registry: one declarative entry per dataset of the paper (official files, URLs, checksums, labels)."""
from __future__ import annotations

import dataclasses
import logging


from ..errors import ConfigError
from .spec import DatasetSpec, Download, FileSpec

logger = logging.getLogger(__name__)

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

LABEL_DOCS = {
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
for _n, _doc in LABEL_DOCS.items():
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


