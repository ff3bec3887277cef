"""Numbers published in Valipour et al. (2019), for side-by-side comparison only.

They are never used to compute anything; rendered tables show them in columns
labelled "paper". Values are accuracies in percent, copied from the paper.
"""
from __future__ import annotations

#: Table 2: single-source transfer on the Amazon multi-domain data.
#: Keys: (source letter, target letter). "BERT" is the last-layer [CLS] of
#: bert-large (1024 neurons); "TSNS" maps K -> SingleTSNS accuracy.
TABLE2 = {
    ("D", "B"): {"CDB": 74.2, "CMD": 79.5, "PBLM": 82.5, "PE": 77.3, "BERT": 82.6, "TSNS": {100: 80.5, 300: 81.6, 500: 81.2, 700: 81.3, 1024: 80.7}},
    ("E", "B"): {"CDB": 74.1, "CMD": 74.4, "PBLM": 71.4, "PE": 71.2, "BERT": 62.6, "TSNS": {100: 75.5, 300: 77.9, 500: 73.8, 700: 71.3, 1024: 71.0}},
    ("K", "B"): {"CDB": 75.5, "CMD": 75.6, "PBLM": 74.2, "PE": 73.0, "BERT": 75.1, "TSNS": {100: 73.9, 300: 77.7, 500: 77.7, 700: 78.5, 1024: 79.3}},
    ("B", "D"): {"CDB": 64.8, "CMD": 80.5, "PBLM": 84.2, "PE": 81.1, "BERT": 83.0, "TSNS": {100: 80.1, 300: 83.7, 500: 83.5, 700: 84.0, 1024: 84.4}},
    ("E", "D"): {"CDB": 79.3, "CMD": 76.3, "PBLM": 75.0, "PE": 74.5, "BERT": 73.6, "TSNS": {100: 78.0, 300: 77.7, 500: 78.3, 700: 77.7, 1024: 77.0}},
    ("K", "D"): {"CDB": 76.1, "CMD": 77.5, "PBLM": 79.8, "PE": 76.3, "BERT": 71.0, "TSNS": {100: 69.8, 300: 73.2, 500: 77.5, 700: 78.5, 1024: 79.3}},
    ("B", "E"): {"CDB": 65.1, "CMD": 78.7, "PBLM": 77.6, "PE": 76.8, "BERT": 75.9, "TSNS": {100: 80.6, 300: 80.8, 500: 81.8, 700: 78.4, 1024: 76.5}},
    ("D", "E"): {"CDB": 83.3, "CMD": 79.7, "PBLM": 79.6, "PE": 78.1, "BERT": 81.4, "TSNS": {100: 70.7, 300: 80.1, 500: 82.4, 700: 81.8, 1024: 80.0}},
    ("K", "E"): {"CDB": 78.7, "CMD": 85.4, "PBLM": 87.1, "PE": 84.0, "BERT": 84.1, "TSNS": {100: 83.6, 300: 85.1, 500: 86.4, 700: 85.9, 1024: 85.2}},
    ("B", "K"): {"CDB": 79.9, "CMD": 81.3, "PBLM": 82.5, "PE": 80.1, "BERT": 75.2, "TSNS": {100: 82.2, 300: 85.2, 500: 85.0, 700: 84.5, 1024: 83.2}},
    ("D", "K"): {"CDB": 85.2, "CMD": 83.0, "PBLM": 83.2, "PE": 80.3, "BERT": 84.4, "TSNS": {100: 75.7, 300: 83.2, 500: 84.6, 700: 83.8, 1024: 83.5}},
    ("E", "K"): {"CDB": 84.5, "CMD": 86.0, "PBLM": 87.8, "PE": 84.6, "BERT": 75.1, "TSNS": {100: 84.4, 300: 86.1, 500: 86.1, 700: 87.2, 1024: 87.1}},
}

#: The paper's printed "Average" row of Table 2.
TABLE2_AVERAGE = {"CDB": 76.7, "CMD": 79.9, "PBLM": 80.4, "PE": 78.2, "BERT": 77.4,
                  "TSNS": {100: 77.9, 300: 81.0, 500: 81.5, 700: 81.1, 1024: 80.6}}

#: Other methods of Table 2 (cited in the paper, not re-run here).
TABLE2_CITED = {"CDB": "Ruder & Plank 2017", "CMD": "Zellinger et al. 2017", "PBLM": "Ziser & Reichart 2018",
                "PE": "Barnes et al. 2018"}

#: Paper setting (section 4.2) for reference in reports.
PAPER_SETTINGS = {"model": "bert-large-uncased", "N": 24576, "J": 100, "n_estimators": 1000, "max_depth": 200,
                  "beta": 0.7, "alpha": 1.0, "eps": 1e-6, "runs": 5}

#: Table 4: multi-source transfer on the Amazon data (sources -> target). "BERT" is the
#: last-layer [CLS] of bert-large (1024); "TSNS" maps K -> MultiTSNS accuracy.
TABLE4 = {
    "DEK->B": {"SDAM": 78.3, "MDAN": 78.6, "MTLE": None, "BERT": 80.6, "TSNS": {200: 82.2, 500: 83.0, 700: 81.7, 1024: 80.6}},
    "BEK->D": {"SDAM": 79.1, "MDAN": 80.7, "MTLE": None, "BERT": 83.5, "TSNS": {200: 83.8, 500: 84.8, 700: 85.3, 1024: 83.5}},
    "BDK->E": {"SDAM": 84.2, "MDAN": 85.3, "MTLE": None, "BERT": 83.4, "TSNS": {200: 85.0, 500: 86.1, 700: 86.8, 1024: 83.6}},
    "BDE->K": {"SDAM": 86.3, "MDAN": 86.3, "MTLE": 86.7, "BERT": 80.9, "TSNS": {200: 87.9, 500: 86.5, 700: 86.2, 1024: 80.9}},
    "Average": {"SDAM": 82.0, "MDAN": 82.7, "MTLE": None, "BERT": 82.1, "TSNS": {200: 84.7, 500: 85.1, 700: 85.0, 1024: 82.2}},
}

#: Table 3: single-source transfer to SciTail (test) and QQP (GLUE dev). Keys: (source, target);
#: "BERT" is the last-layer [CLS] of bert-large (1024); "TSNS" maps K -> SingleTSNS accuracy.
TABLE3 = {
    ("qqp", "scitail"): {"BERT": 66.9, "TSNS": {100: 63.1, 500: 67.6, 1024: 71.9}},
    ("mnli", "scitail"): {"BERT": 62.7, "TSNS": {100: 66.0, 500: 72.9, 1024: 73.2}},
    ("snli", "scitail"): {"BERT": 52.5, "TSNS": {100: 60.3, 500: 63.8, 1024: 55.7}},
    ("mrpc", "scitail"): {"BERT": 55.7, "TSNS": {100: 62.9, 500: 56.7, 1024: 57.2}},
    ("rte", "scitail"): {"BERT": 59.4, "TSNS": {100: 62.0, 500: 62.8, 1024: 59.5}},
    ("scitail", "qqp"): {"BERT": 62.3, "TSNS": {100: 63.3, 500: 64.9, 1024: 63.7}},
    ("mnli", "qqp"): {"BERT": 63.0, "TSNS": {100: 64.6, 500: 64.4, 1024: 66.0}},
    ("snli", "qqp"): {"BERT": 52.0, "TSNS": {100: 58.1, 500: 60.8, 1024: 60.7}},
    ("mrpc", "qqp"): {"BERT": 61.2, "TSNS": {100: 55.0, 500: 57.0, 1024: 62.3}},
    ("rte", "qqp"): {"BERT": 45.7, "TSNS": {100: 47.6, 500: 40.17, 1024: 43.61}},
}

#: Table 5: multi-source transfer to SciTail under a sample budget L. Keys: the row's sources
#: as in params.yaml's nli.scenarios; "BERT" (L = 2E5, K = 1024 last-layer neurons); "TSNS" maps
#: K -> MultiTSNS accuracy at L = 2E5; "sweep" maps L -> MultiTSNS accuracy at K = 500.
TABLE5_SWEEP = ("2E4", "1E5", "3E5")
TABLE5 = {
    "QQP": {"BERT": 68.5, "TSNS": {100: 62.8, 500: 67.6, 1024: 71.8}, "sweep": {"2E4": 68.5, "1E5": 67.1, "3E5": 67.6}},
    "MNLI": {"BERT": 62.7, "TSNS": {100: 66.3, 500: 72.9, 1024: 73.1}, "sweep": {"2E4": 62.8, "1E5": 72.4, "3E5": 72.9}},
    "SNLI": {"BERT": 50.8, "TSNS": {100: 60.3, 500: 64.3, 1024: 55.5}, "sweep": {"2E4": 50.8, "1E5": 64.0, "3E5": 63.7}},
    "QQP+RTE": {"BERT": 66.7, "TSNS": {100: 64.2, 500: 70.0, 1024: 71.5},
                "sweep": {"2E4": 70.8, "1E5": 71.0, "3E5": 70.5}},
    "QQP+MNLI": {"BERT": 63.9, "TSNS": {100: 69.2, 500: 76.9, 1024: 75.1},
                 "sweep": {"2E4": 73.3, "1E5": 75.8, "3E5": 77.1}},
    "QQP+MNLI+RTE": {"BERT": 64.0, "TSNS": {100: 72.2, 500: 74.4, 1024: 75.6},
                     "sweep": {"2E4": 71.1, "1E5": 73.5, "3E5": 73.4}},
    "QQP+MNLI+RTE+MRPC": {"BERT": 64.7, "TSNS": {100: 70.9, 500: 74.8, 1024: 75.3},
                          "sweep": {"2E4": 73.4, "1E5": 75.2, "3E5": 74.6}},
    "QQP+SNLI": {"BERT": 62.8, "TSNS": {100: 69.1, 500: 70.7, 1024: 68.4},
                 "sweep": {"2E4": 67.6, "1E5": 69.7, "3E5": 70.6}},
    "QQP+MNLI+SNLI": {"BERT": 63.7, "TSNS": {100: 68.0, 500: 73.1, 1024: 72.0},
                      "sweep": {"2E4": 70.8, "1E5": 72.7, "3E5": 73.1}},
}
