"""Numbers published in Wang et al. (2020), "Meta Fine-Tuning Neural Language Models for Multi-Domain
Text Mining" (EMNLP), for side-by-side comparison only: never used to compute anything.
"""
from __future__ import annotations

#: Wang et al. (2020, EMNLP), "Meta Fine-Tuning Neural Language Models for Multi-Domain Text Mining",
#: Table 3: review analysis accuracy (%) on the Amazon review data (BERT-base), per domain (B, D, E, K)
#: and the printed "Avg." column. Keys are the method names of :mod:`tsns.mft` (BERT (MTL) and BERT (Adv)
#: are cited there, not re-run here). Shown beside our stage ``mft`` for comparison only.
TABLE3 = {
    "bert_s": {"B": 90.7, "D": 88.2, "E": 89.0, "K": 85.7, "Average": 88.4},
    "bert_mix": {"B": 91.8, "D": 89.4, "E": 87.8, "K": 88.4, "Average": 89.3},
    "bert_mtl": {"B": 92.2, "D": 89.0, "E": 88.3, "K": 88.2, "Average": 89.0},
    "bert_adv": {"B": 89.3, "D": 87.4, "E": 86.5, "K": 86.7, "Average": 87.5},
    "mft_dc": {"B": 90.6, "D": 89.4, "E": 92.5, "K": 88.7, "Average": 90.3},
    "mft_tw": {"B": 90.4, "D": 88.9, "E": 94.5, "K": 89.1, "Average": 90.7},
    "mft": {"B": 91.2, "D": 88.8, "E": 94.8, "K": 89.2, "Average": 91.0},
}
