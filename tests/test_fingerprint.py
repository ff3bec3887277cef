from __future__ import annotations

import numpy as np
import pytest

from tsns.errors import ConfigError
from tsns.method.fingerprint import fingerprint, fingerprint_table


def test_fingerprint_hand_computed():
    # 3 layers x 4 neurons; selected: two in layer 0, one in layer 2, one in layer 2
    np.testing.assert_allclose(fingerprint([0, 3, 8, 11], (3, 4)), [0.5, 0.0, 0.5])


def test_fingerprint_table_averages_seeds():
    t = fingerprint_table({"a": [[0, 1], [4, 5]]}, (2, 4), ["emb", "1"])
    np.testing.assert_allclose(t.loc["a"].to_numpy(), [0.5, 0.5])


def test_fingerprint_rejects_out_of_range():
    with pytest.raises(ConfigError):
        fingerprint([12], (3, 4))
    with pytest.raises(ConfigError):
        fingerprint([], (3, 4))
