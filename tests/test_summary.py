"""The summary stage: paired tests of selection against its controls and the verdicts drawn from them."""
import numpy as np
import pandas as pd

from tsns.stages.summary import _transferability_verdict, comparisons, verdict_lines


def _table2(gain: float, noise: float = 0.01, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s, t in [("a", "b"), ("b", "a"), ("a", "c"), ("c", "a")]:
        base = 0.7 + rng.normal(0, 0.02)
        rows.append({"source": s, "target": t, "method": "last_layer", "K": 384, "seed": -1, "accuracy": base})
        for sd in range(3):
            rows.append({"source": s, "target": t, "method": "random", "K": 500, "seed": sd,
                         "accuracy": base + rng.normal(0, noise)})
            rows.append({"source": s, "target": t, "method": "singletsns", "K": 500, "seed": sd,
                         "accuracy": base + gain + rng.normal(0, noise)})
    return pd.DataFrame(rows)


def _tables(t2):
    empty = pd.DataFrame()
    return {"table2": t2, "table3": empty, "table4": empty, "table5": empty, "mean_pooled": empty}


def test_a_clear_gain_is_a_verdict_that_holds(tmp_path):
    class S:  # a store without transferability / fingerprint files
        tables = tmp_path

    tests = pd.DataFrame(comparisons(_tables(_table2(gain=0.05)), None, "scitail"))
    r = tests[(tests.comparison == "SingleTSNS - random K")].iloc[0]
    assert r.n == 12 and r.low > 0 and r.mean_diff > 0.04
    lines = verdict_lines(tests, S())
    assert any(l.startswith("SingleTSNS beats as many random neurons") and ": holds," in l for l in lines)
    assert any("n = 12" in l for l in lines)


def test_no_gain_is_not_shown_and_a_loss_does_not_reproduce(tmp_path):
    class S:
        tables = tmp_path

    none = verdict_lines(pd.DataFrame(comparisons(_tables(_table2(gain=0.0, noise=0.02)), None, "x")), S())
    assert any("random neurons" in l and "not shown: the interval includes 0" in l for l in none)
    loss = verdict_lines(pd.DataFrame(comparisons(_tables(_table2(gain=-0.05)), None, "x")), S())
    assert any("random neurons" in l and "does not reproduce" in l for l in loss)


def test_transferability_verdict_reads_the_interval_and_tolerates_a_missing_within_target_rho():
    corr = pd.DataFrame([{"feature": "fp_cosine", "n_pairs": 6, "rho_accuracy": 0.3, "rho_accuracy_low": -0.4,
                          "rho_accuracy_high": 0.8, "within_target_rho": np.nan}])
    (line,) = _transferability_verdict(corr)
    assert "not shown: the interval includes 0" in line and "n = 6 pairs" in line and "within" not in line
    corr.loc[0, ["rho_accuracy_low", "within_target_rho"]] = [0.1, 0.25]
    (line,) = _transferability_verdict(corr)
    assert ": holds," in line and "+0.25 within a target" in line


def test_headline_tables_put_ours_with_n_beside_the_paper(tmp_path):
    from tsns.stages.summary import headline_markdown
    from tsns.store.paths import Store

    store = Store(tmp_path)
    store.tables.mkdir(parents=True)
    pd.DataFrame([{"pair": "Average", "source": "Average", "target": "Average", "last_layer_mean": 60.71,
                   "all_layers_mean": 70.2, "paper_BERT_1024": 77.4, "singletsns_K100_mean": 71.23,
                   "singletsns_K100_std": 0.51, "random_K100_mean": 66.6, "random_K100_std": 0.4,
                   "paper_singletsns_K100": 77.9}]).to_csv(store.tables / "table2.csv", index=False)
    (tmp_path / "reports/previous").mkdir(parents=True)
    (tmp_path / "reports/previous/metrics.json").write_text(
        '{"table2_average": {"singletsns_K100": {"mean": 0.7123, "std": 0.0054}}}')
    md = headline_markdown(store, [0, 1, 2], "scitail")
    assert "| SingleTSNS K=100 | 71.2 ± 0.5 (n=3) | 77.9 | 71.2 |" in md  # beside the paper's and the previous run's
    assert "| last-layer [CLS] | 60.7 | 77.4 | - |" in md and "| random K=100 (control) | 66.6 ± 0.4 (n=3) | - | - |" in md
    assert "Table 4" not in md  # a table that was not computed is left out, not invented
