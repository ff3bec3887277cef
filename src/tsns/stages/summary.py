"""Stage ``summary``: is selection better than its controls, how stable is it, and what holds of the paper.

Reads the long results of every table stage and writes:

* ``reports/tables/tests.{md,csv}`` -- paired comparisons over matched (scenario, seed)
  units: SingleTSNS against K random neurons, the last layer and all layers (Tables 2
  and 3, and on mean-pooled activations), MultiTSNS against random K, the last layer and
  single-source SingleTSNS (Tables 4 and 5): the mean difference, its 95 % bootstrap
  interval, the Wilcoxon signed-rank p, wins / ties / losses;
* ``reports/tables/stability.{md,csv}`` -- Jaccard overlap of the top-K neurons between
  seeds, per dataset and K;
* ``reports/tables/verdicts.md`` -- one sentence per claim of the paper, each following
  from the tests (the README quotes them);
* ``reports/metrics.json`` -- the headline metrics (at most 20 keys), the one file of
  the top-level ``metrics:`` of dvc.yaml.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from ..config.data import DataConfig
from ..config.mft import MftConfig
from ..config.nli import NliConfig
from ..config.transfer import TransferConfig
from ..errors import TSNSError
from ..method.stats import jaccard_between_seeds, paired
from ..render import DATASET_NAME, cell, markdown_table
from ..store import load, write
from .context import context

log = logging.getLogger(__name__)

#: the K of the verdicts: the paper's headline K of Tables 2-5 (capped at N)
VERDICT_K = 500


def run(*, params: dict | None = None, root: str | Path | None = None) -> dict:
    """Tests, stability, verdicts and the headline metrics from the table stages' results."""
    ctx = context(params, root)
    store, seeds = ctx.store, ctx.seeds
    tables = {name: _read(store.tables / f"{name}_long.csv")
              for name in ("table2", "table3", "table4", "table5", "mean_pooled")}
    nli = ctx.section(NliConfig)
    L_main = nli.L
    tests = pd.DataFrame(comparisons(tables, L_main, nli.target))
    stability = stability_table(ctx, ctx.section(DataConfig).datasets, ctx.section(TransferConfig).K)
    verdicts = verdict_lines(tests, store)
    write.csv(store.tables / "tests.csv", tests, float_format="%.4f")
    write.table(store.tables, "tests", markdown=render_tests(tests))
    write.csv(store.tables / "stability.csv", stability, float_format="%.3f")
    write.table(store.tables, "stability", markdown=render_stability(stability, seeds))
    write.table(store.tables, "verdicts", markdown="# What holds of the paper\n\n" + "\n".join(
        f"- {v}" for v in verdicts) + "\n")
    metrics = write.metrics(store.metrics(), headline(tables, store, L_main))
    md = headline_markdown(store, seeds, nli.target, ctx.section(MftConfig).seeds)
    write.table(store.tables, "headline", markdown=md)
    write.table(store.tables, "alpha", markdown=alpha_markdown(store, ctx.section(TransferConfig).domains[0]))
    return {"tests": tests, "stability": stability, "verdicts": verdicts, "metrics": metrics, "headline": md}


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


# --------------------------------------------------------------------------- paired tests
def _pair(long: pd.DataFrame, keys: list[str], a: tuple[str, int | None], b: tuple[str, int | None]) -> tuple:
    """Accuracies of method a and method b on the same units (keys + seed); a seedless b is matched to every seed."""
    def part(method, K):
        g = long[long.method == method]
        return g if K is None else g[g.K == K]

    pa, pb = part(*a), part(*b)
    if pa.empty or pb.empty:
        return np.array([]), np.array([])
    if (pb.seed == -1).all():
        m = pa.merge(pb.drop(columns=["seed"]), on=keys, suffixes=("_a", "_b"))
    else:
        m = pa.merge(pb, on=[*keys, "seed"], suffixes=("_a", "_b"))
    return m.accuracy_a.to_numpy(), m.accuracy_b.to_numpy()


def comparisons(tables: dict[str, pd.DataFrame], L_main, nli_target: str) -> list[dict]:
    """Every paired comparison of selection against its controls, one row each."""
    out = []

    def add(table, what, keys, long, a, b, K):
        x, y = _pair(long, keys, a, b)
        if len(x):
            out.append({"table": table, "comparison": what, "K": K, **paired(x, y)})

    t2, t3, t4, t5, mp = (tables[k] for k in ("table2", "table3", "table4", "table5", "mean_pooled"))
    for name, long, keys, sel in (("Table 2", t2, ["source", "target"], "singletsns"),
                                  ("Table 3", t3[t3.target == nli_target] if len(t3) else t3, ["source", "target"],
                                   "singletsns"),
                                  ("Table 4", t4, ["scenario", "target"], "multitsns"),
                                  ("Table 5", t5[t5.L == (-1 if L_main is None else L_main)].drop(columns=["L"])
                                   if len(t5) else t5, ["scenario", "target"], "multitsns"),
                                  ("Table 2, mean pooling", mp[mp.table == "table2"] if len(mp) else mp,
                                   ["source", "target"], "singletsns"),
                                  ("Table 4, mean pooling", mp[mp.table == "table4"] if len(mp) else mp,
                                   ["scenario", "target"], "multitsns")):
        if long.empty:
            continue
        long = long.dropna(axis=1, how="all")
        label = {"singletsns": "SingleTSNS", "multitsns": "MultiTSNS"}[sel]
        for K in sorted(int(k) for k in long[long.method == sel].K.unique()):
            add(name, f"{label} - random K", keys, long, (sel, K), ("random", K), K)
            add(name, f"{label} - last layer", keys, long, (sel, K), ("last_layer", None), K)
            if "all_layers" in set(long.method):
                add(name, f"{label} - all layers", keys, long, (sel, K), ("all_layers", None), K)
    if len(t4) and len(t2):  # multi-source against single-source selection on the same target, seed and K
        single = t2[t2.method == "singletsns"].groupby(["target", "K", "seed"], as_index=False).accuracy.mean()
        for K in sorted(int(k) for k in t4[t4.method == "multitsns"].K.unique()):
            m = t4[(t4.method == "multitsns") & (t4.K == K)].merge(single[single.K == K], on=["target", "seed"],
                                                                  suffixes=("_a", "_b"))
            if len(m):
                out.append({"table": "Table 4", "comparison": "MultiTSNS - SingleTSNS (mean of the sources)", "K": K,
                            **paired(m.accuracy_a.to_numpy(), m.accuracy_b.to_numpy())})
    return out


def _k_of(tests: pd.DataFrame, table: str, comparison: str) -> pd.Series | None:
    g = tests[(tests.table == table) & (tests.comparison == comparison)] if len(tests) else tests
    if g is None or g.empty:
        return None
    K = min(g.K, key=lambda k: (abs(k - VERDICT_K), -k))
    return g[g.K == K].iloc[0]


def _evidence(r) -> str:
    p = "" if np.isnan(r.p_wilcoxon) else f", Wilcoxon p = {r.p_wilcoxon:.2g}"
    return (f"{100 * r.mean_diff:+.1f} points at K={int(r.K)} (95 % CI {100 * r.low:+.1f} to {100 * r.high:+.1f}, "
            f"n = {int(r.n)}{p})")


def _holds(r) -> str:
    if r.low > 0:
        return "holds"
    if r.high < 0:
        return "does not reproduce: the opposite holds"
    return "not shown: the interval includes 0"


def verdict_lines(tests: pd.DataFrame, store) -> list[str]:
    """One sentence per claim of the paper (and per control it lacks), from the paired tests."""
    lines = []
    claims = [("Table 2", "SingleTSNS - last layer", "SingleTSNS beats the last layer's [CLS] (Table 2)"),
              ("Table 2", "SingleTSNS - random K", "SingleTSNS beats as many random neurons (a control the paper "
                                                   "lacks)"),
              ("Table 3", "SingleTSNS - last layer", "SingleTSNS transfers to the NLI target better than the last "
                                                     "layer (Table 3)"),
              ("Table 4", "MultiTSNS - last layer", "MultiTSNS beats the last layer (Table 4)"),
              ("Table 4", "MultiTSNS - SingleTSNS (mean of the sources)",
               "MultiTSNS beats single-source SingleTSNS on the same target (Table 4)"),
              ("Table 4", "MultiTSNS - random K", "MultiTSNS beats as many random neurons from the same sources"),
              ("Table 5", "MultiTSNS - last layer", "MultiTSNS under a sample budget beats the last layer (Table 5)"),
              ("Table 2, mean pooling", "SingleTSNS - all layers",
               "On mean-pooled activations, selection beats all layers (beyond the paper)")]
    for table, comparison, claim in claims:
        r = _k_of(tests, table, comparison)
        if r is not None:
            lines.append(f"{claim}: {_holds(r)}, {_evidence(r)}.")
    fp = store.tables / "fingerprints.csv"
    if fp.exists():
        lines.append(_fingerprint_verdict(pd.read_csv(fp, index_col="dataset")))
    corr = store.tables / "transferability_correlations.csv"
    if corr.exists():
        lines += _transferability_verdict(pd.read_csv(corr))
    return lines


def _transferability_verdict(corr: pd.DataFrame) -> list[str]:
    """The paper's section 4.3 claim (similar fingerprints, better transfer) from the bootstrap interval of rho."""
    r = corr[corr.feature == "fp_cosine"]
    if r.empty or pd.isna(r.iloc[0].rho_accuracy):
        return []
    r = r.iloc[0]
    low, high = r.rho_accuracy_low, r.rho_accuracy_high
    holds = ("holds" if low > 0 else "does not reproduce: the opposite holds" if high < 0
             else "not shown: the interval includes 0")
    within = "" if pd.isna(r.within_target_rho) else f", {r.within_target_rho:+.2f} within a target on average"
    return [f"Sources whose fingerprint resembles the target's transfer better (section 4.3): {holds}, Spearman rho "
            f"{r.rho_accuracy:+.2f} (95 % CI {low:+.2f} to {high:+.2f}, n = {int(r.n_pairs)} pairs{within})."]


SENTIMENT = ("books", "dvd", "electronics", "kitchen", "imdb", "sst2")


def _fingerprint_verdict(fp: pd.DataFrame) -> str:
    """Figure 2: where sentiment and NLI datasets put their selected neurons (share in the upper half)."""
    layers = [c for c in fp.columns if c != "emb"]
    upper = layers[len(layers) // 2:]
    share = fp[upper].sum(axis=1)
    sent = share[[d for d in fp.index if d in SENTIMENT]]
    other = share[[d for d in fp.index if d not in SENTIMENT]]
    if sent.empty or other.empty:
        return "Figure 2: the fingerprints need sentiment and NLI datasets to compare."
    return (f"Sentiment datasets put more of their selected neurons in the upper layers than NLI and paraphrase "
            f"datasets (Figure 2): {100 * sent.mean():.0f} % vs {100 * other.mean():.0f} % in layers "
            f"{upper[0]}-{upper[-1]} (mean over {len(sent)} and {len(other)} datasets).")


def render_tests(tests: pd.DataFrame) -> str:
    head = ["table", "comparison", "K", "n", "mean difference (points)", "95 % CI", "Wilcoxon p", "wins / ties / losses"]
    rows = [[r.table, r.comparison, str(int(r.K)), str(int(r.n)), f"{100 * r.mean_diff:+.1f}",
             f"{100 * r.low:+.1f} to {100 * r.high:+.1f}", "-" if np.isnan(r.p_wilcoxon) else f"{r.p_wilcoxon:.2g}",
             f"{r.wins} / {r.ties} / {r.losses}"] for r in tests.itertuples()]
    note = ("\n\nPaired over matched units: (source -> target pair, seed) in Tables 2 and 3, (scenario, seed) in "
            "Tables 4 and 5; a control without seeds (last layer, all layers) is matched to every seed of its pair. "
            "The interval is a percentile bootstrap of the mean difference (10,000 resamples of the units); the "
            "units of one pair share its source and target, so the interval is narrower than one over pairs alone. "
            "'MultiTSNS - SingleTSNS' compares, per target and seed, MultiTSNS with the mean over the scenario's "
            "sources of Table 2's SingleTSNS at the same K.\n")
    return "# Is selection better than its controls?\n\n" + markdown_table(head, rows) + note


# --------------------------------------------------------------------------- stability
def stability_table(ctx, datasets, Ks) -> pd.DataFrame:
    rows = []
    for d in datasets:
        try:
            arrays, meta = load.importance(ctx.store, d)
        except TSNSError as exc:  # a dataset whose importance is not there: reported, not fatal
            log.info("stability: %s skipped (%s)", d, str(exc).split(":")[0])
            continue
        N = int(meta["N"])
        row = {"dataset": d, "seeds": len(arrays["seeds"])}
        for K in sorted({min(int(k), N) for k in Ks}):
            row[f"K{K}"] = jaccard_between_seeds(arrays["order"], K)
        rows.append(row)
    return pd.DataFrame(rows)


def render_stability(stab: pd.DataFrame, seeds) -> str:
    if stab.empty:
        return "# Selection stability\n\nNo importance found.\n"
    cols = [c for c in stab.columns if c.startswith("K")]
    head = ["dataset"] + [f"K={c[1:]}" for c in cols]
    rows = [[r.dataset] + [f"{r[c]:.2f}" for c in cols] for _, r in stab.iterrows()]
    return ("# Selection stability: the same neurons across seeds?\n\n" + markdown_table(head, rows)
            + f"\n\nMean Jaccard overlap of the top-K SingleTSNS neurons between every two of the {len(seeds)} seeds "
            "(1 = the same set). K = N is 1 by construction.\n")


# --------------------------------------------------------------------------- headline tables (the README's)
def _wide(store, name: str) -> pd.DataFrame:
    path = store.tables / f"{name}.csv"
    return pd.read_csv(path) if path.exists() else pd.DataFrame()


def _ks(wide: pd.DataFrame, method: str) -> list[int]:
    return sorted({int(c[len(method) + 2:].split("_")[0]) for c in wide.columns
                   if c.startswith(f"{method}_K") and c.endswith("_mean")})


def _near(Ks: list[int], K: int) -> int:
    return min(Ks, key=lambda k: (abs(k - K), -k))


def _previous(store, name: str, key: str):
    """The mean (%) of a headline metric of the run before the fidelity fixes (``reports/previous/``), or "-"."""
    path = store.root / "reports" / "previous" / name
    doc = json.loads(path.read_text()).get(key, {}) if path.exists() else {}

    def get(metric: str) -> str:
        v = doc.get(metric)
        if v is None:
            return "-"
        return cell(100 * (v["mean"] if isinstance(v, dict) else v))

    return get


def headline_markdown(store, seeds, nli_target: str, mft_seeds=(0,)) -> str:
    """The README's results: each table's headline rows, ours (mean ± std over n seeds) beside the paper's."""
    n = len(seeds)
    parts = ["# Headline results\n\nAccuracy (%) on the unseen target. **ours**: mean ± sample std over "
             f"n = {n} seeds (a cell without ± does not depend on the seed); **paper**: Valipour et al. (2019), "
             "bert-large, average of 5 runs; **ours before**: the same pipeline before three fixes (the constant "
             "embedding-output [CLS] counted in N, the classifier at C = 1, `reports/previous/`), mean only. The full "
             "tables, with every pair, are in `reports/tables/`.\n"]
    prev2 = _previous(store, "metrics.json", "table2_average")
    prev4 = _previous(store, "metrics_multi.json", "table4_average")
    head = ["method", "ours", "paper", "ours before (N with the embedding output, C = 1)"]
    t2 = _wide(store, "table2")
    if len(t2):
        a = t2[t2.pair == "Average"].iloc[0]
        rows = [["last-layer [CLS]", cell(a.last_layer_mean), cell(a.paper_BERT_1024), prev2("last_layer")],
                ["all layers, no selection", cell(a.all_layers_mean), "-", prev2("all_layers")]]
        for K in _ks(t2, "singletsns"):
            rows.append([f"SingleTSNS K={K}", cell(a[f"singletsns_K{K}_mean"], a[f"singletsns_K{K}_std"], n),
                         cell(a.get(f"paper_singletsns_K{K}")), prev2(f"singletsns_K{K}")])
            rows.append([f"random K={K} (control)", cell(a[f"random_K{K}_mean"], a[f"random_K{K}_std"], n), "-",
                         prev2(f"random_K{K}")])
        parts.append("## Table 2: one Amazon domain -> another (average of the 12 pairs)\n\n"
                     + markdown_table(head, rows) + "\n")
    t4 = _wide(store, "table4")
    if len(t4):
        a = t4[t4.scenario == "Average"].iloc[0]
        rows = [["last-layer [CLS], trained on the three sources", cell(a.last_layer_mean), cell(a.paper_BERT_1024),
                 prev4("last_layer")]]
        for K in _ks(t4, "multitsns"):
            rows.append([f"MultiTSNS K={K}", cell(a[f"multitsns_K{K}_mean"], a[f"multitsns_K{K}_std"], n),
                         cell(a.get(f"paper_multitsns_K{K}")), prev4(f"multitsns_K{K}")])
            rows.append([f"random K={K} from the three sources (control)",
                         cell(a[f"random_K{K}_mean"], a[f"random_K{K}_std"], n), "-", prev4(f"random_K{K}")])
        parts.append("## Table 4: three Amazon domains -> the fourth (average of the 4 scenarios)\n\n"
                     + markdown_table(head, rows) + "\n")
    t3 = _wide(store, "table3")
    if len(t3) and "status" in t3:
        ok = t3[(t3.status == "ok") & (t3.target == nli_target)]
        Ks = _ks(t3, "singletsns")
        if len(ok) and Ks:
            K = _near(Ks, VERDICT_K)
            rows = [[f"{DATASET_NAME.get(r.source, r.source)} -> {DATASET_NAME.get(r.target, r.target)}",
                     cell(r.last_layer_mean), cell(r.paper_BERT_1024),
                     cell(r[f"singletsns_K{K}_mean"], r[f"singletsns_K{K}_std"], n),
                     cell(r.get(f"paper_singletsns_K{K}")), cell(r[f"random_K{K}_mean"], r[f"random_K{K}_std"], n)]
                    for _, r in ok.iterrows()]
            parts.append(f"## Table 3: one NLI / paraphrase source -> {DATASET_NAME.get(nli_target, nli_target)} (K={K})\n\n" + markdown_table(
                ["source -> target", "ours: last layer", "paper: last layer", "ours: SingleTSNS", "paper: SingleTSNS",
                 "ours: random K"], rows) + "\n")
    t5 = _wide(store, "table5")
    if len(t5) and "status" in t5:
        ok = t5[t5.status == "ok"]
        Ks = _ks(t5, "multitsns")
        if len(ok) and Ks:
            K = _near(Ks, VERDICT_K)
            rows = [[r.scenario, cell(r.last_layer_mean, r.get("last_layer_std"), n), cell(r.paper_BERT_1024),
                     cell(r[f"multitsns_K{K}_mean"], r[f"multitsns_K{K}_std"], n),
                     cell(r.get(f"paper_multitsns_K{K}")), cell(r[f"random_K{K}_mean"], r[f"random_K{K}_std"], n)]
                    for _, r in ok.iterrows()]
            parts.append(f"## Table 5: several sources -> {DATASET_NAME.get(nli_target, nli_target)} under the sample "
                         f"budget (K={K})\n\n"
                         + markdown_table(["sources", "ours: last layer", "paper: last layer", "ours: MultiTSNS",
                                           "paper: MultiTSNS", "ours: random K"], rows) + "\n")
    mp = store.metrics("mean_pooled")
    if mp.exists() and len(t2):
        m = json.loads(mp.read_text()).get("mean_pooled_table2_average", {})
        a = t2[t2.pair == "Average"].iloc[0]

        def pct(key):
            v = m.get(key)
            if not v:
                return "-"
            sd = v.get("std")
            return cell(100 * v["mean"], None if sd is None else 100 * sd, None if sd is None else n)

        Ks = sorted(int(k.split("_K")[1]) for k in m if k.startswith("singletsns_K"))
        if m and Ks:
            rows = [["last layer", cell(a.last_layer_mean), pct("last_layer")],
                    ["all layers", cell(a.all_layers_mean), pct("all_layers")]]
            for K in Ks:
                rows.append([f"SingleTSNS K={K}", cell(a.get(f"singletsns_K{K}_mean"),
                                                       a.get(f"singletsns_K{K}_std"), n), pct(f"singletsns_K{K}")])
                rows.append([f"random K={K}", cell(a.get(f"random_K{K}_mean"), a.get(f"random_K{K}_std"), n),
                             pct(f"random_K{K}")])
            parts.append("## Beyond the paper: selection on mean-pooled activations (Table 2 average)\n\n"
                         + markdown_table(["method", "[CLS] (the paper's)", "mean pooling"], rows) + "\n")
    mft = _wide(store, "mft")
    if len(mft):
        rows = [[r.label, cell(r.average_mean, r.average_std, len(mft_seeds)), cell(r.paper_average)] for _, r in mft.iterrows()]
        parts.append("## Meta Fine-Tuning (Wang et al. 2020): test accuracy, average of the 4 Amazon domains\n\n"
                     + markdown_table(["method", "ours", "paper (BERT-base)"], rows) + "\n")
    return "\n".join(parts)


def alpha_markdown(store, dataset: str) -> str:
    """The scaling trap of eq. 1 on real data: Jaccard of the top-K set at each alpha with the alpha = 1 set."""
    side = store.importance(dataset).with_suffix(".json")
    if not side.exists():
        return "# What alpha does in eq. 1\n\nNo importance of " + dataset + ".\n"
    study = pd.DataFrame(json.loads(side.read_text())["alpha_study"])
    alphas = sorted(study.alpha.unique())
    K = int(study.K.iloc[0])
    rows = [[sc] + [f"{study[(study.scaling == sc) & (study.alpha == a)].jaccard_vs_alpha1.iloc[0]:.2f}"
                    for a in alphas] for sc in study.scaling.unique()]
    return (f"# What alpha does in eq. 1 ({DATASET_NAME.get(dataset, dataset)})\n\n"
            + markdown_table(["scaling"] + [f"alpha = {a:g}" for a in alphas], rows)
            + f"\n\nJaccard overlap of the top-{K} SingleTSNS set at each alpha with the alpha = 1 set, mean over "
            "seeds (`literal`: the paper's formula; `normalized`: each term divided by its maximum first).\n")


# --------------------------------------------------------------------------- headline metrics
def headline(tables: dict, store, L_main) -> dict:
    """At most 20 numbers: the averages of Tables 2-5, mean pooling, transferability and MFT (fractions)."""
    out: dict = {}

    def avg(long, method, K=None, **where):
        g = long[long.method == method] if len(long) else long
        for k, v in where.items():
            g = g[g[k] == v]
        if K is not None and len(g):
            g = g[g.K == min(g.K.unique(), key=lambda k: abs(k - K))]
        return round(float(g.accuracy.mean()), 4) if len(g) else None

    t2, t3, t4, t5, mp = (tables[k] for k in ("table2", "table3", "table4", "table5", "mean_pooled"))
    if len(t2):
        out |= {"table2/last_layer": avg(t2, "last_layer"), "table2/all_layers": avg(t2, "all_layers"),
                "table2/singletsns_K100": avg(t2, "singletsns", 100), "table2/singletsns_K500": avg(t2, "singletsns", 500),
                "table2/random_K500": avg(t2, "random", 500)}
    if len(t4):
        out |= {"table4/last_layer": avg(t4, "last_layer"), "table4/multitsns_K500": avg(t4, "multitsns", 500),
                "table4/random_K500": avg(t4, "random", 500)}
    if len(t3):
        out |= {"table3/last_layer": avg(t3, "last_layer"), "table3/singletsns_K500": avg(t3, "singletsns", 500)}
    if len(t5):
        L = -1 if L_main is None else L_main
        out |= {"table5/last_layer": avg(t5, "last_layer", L=L), "table5/multitsns_K500": avg(t5, "multitsns", 500, L=L)}
    if len(mp):
        out |= {"mean_pooled/all_layers": avg(mp, "all_layers", table="table2"),
                "mean_pooled/singletsns_K500": avg(mp, "singletsns", 500, table="table2")}
    tm = store.metrics("transferability")
    if tm.exists():
        out["transferability/fp_cosine_rho"] = json.loads(tm.read_text())["transferability"]["rho_accuracy"].get(
            "fp_cosine")
    mm = store.metrics("mft")
    if mm.exists():
        m = json.loads(mm.read_text())
        out |= {f"mft/{k}_average": m[k]["average"] for k in ("bert_mix", "mft") if k in m}
    mt = store.metrics("mft_transfer")
    if mt.exists():
        out["mft_transfer/mft_singletsns_K100"] = json.loads(mt.read_text()).get("mft/singletsns_K100")
    return {k: v for k, v in out.items() if v is not None}
