"""Water-filling of a sample budget L across sources (paper 4.4, Table 5)."""
from __future__ import annotations

import numpy as np
import pytest

from tsns.errors import ConfigError
from tsns.method.waterfill import draw_allocation, subsample, waterfill


# --------------------------------------------------------------------------- hand-worked cases
def test_small_source_gives_all_and_the_rest_share_its_remainder():
    # equal share 300; a has only 100, so b and c share the other 800
    assert waterfill({"a": 100, "b": 1000, "c": 1000}, 900) == {"a": 100, "b": 400, "c": 400}


def test_two_levels_of_saturation():
    # share 250: a (50) saturates -> 950 left for 3 -> share 316.7: b (300) saturates -> 650 for 2 -> 325 each
    assert waterfill({"a": 50, "b": 300, "c": 5000, "d": 5000}, 1000) == {"a": 50, "b": 300, "c": 325, "d": 325}


def test_budget_larger_than_the_data_takes_everything():
    sizes = {"a": 100, "b": 1000, "c": 20}
    assert waterfill(sizes, 10**6) == sizes
    assert waterfill(sizes, 1120) == sizes


def test_equal_sizes_remainder_unit_goes_by_name():
    # 10 = 3 + 3 + 3 + 1 leftover: equal room, so the first name gets it
    assert waterfill({"b": 50, "a": 50, "c": 50}, 10) == {"b": 3, "a": 4, "c": 3}


def test_remainder_units_go_to_the_most_room_first():
    # base 3, 2 leftover units: c (room 97) and b (room 17) before a (room 7)
    assert waterfill({"a": 10, "b": 20, "c": 100}, 11) == {"a": 3, "b": 4, "c": 4}


def test_single_source():
    assert waterfill({"only": 500}, 200) == {"only": 200}
    assert waterfill({"only": 500}, 900) == {"only": 500}


def test_empty_source_gets_nothing():
    assert waterfill({"a": 0, "b": 10}, 6) == {"a": 0, "b": 6}


def test_output_keeps_the_input_order():
    assert list(waterfill({"z": 5, "a": 1000, "m": 3}, 100)) == ["z", "a", "m"]


# --------------------------------------------------------------------------- errors
@pytest.mark.parametrize("L", [0, -5, 2.5, True, None, "10"])
def test_bad_budget(L):
    with pytest.raises(ConfigError, match="L"):
        waterfill({"a": 10}, L)


def test_negative_size_and_empty_mapping():
    with pytest.raises(ConfigError, match="size of source 'b'"):
        waterfill({"a": 10, "b": -1}, 5)
    with pytest.raises(ConfigError, match="at least one source"):
        waterfill({}, 5)
    with pytest.raises(ConfigError, match="mapping"):
        waterfill([10, 20], 5)


# --------------------------------------------------------------------------- properties
def _random_cases(n_cases=300, seed=0):
    rng = np.random.default_rng(seed)
    for _ in range(n_cases):
        M = int(rng.integers(1, 7))
        sizes = {f"s{i}": int(rng.integers(0, 60)) for i in rng.permutation(M)}
        yield sizes, int(rng.integers(1, 400))


def test_sum_and_bounds_property():
    for sizes, L in _random_cases():
        a = waterfill(sizes, L)
        assert set(a) == set(sizes)
        assert sum(a.values()) == min(L, sum(sizes.values()))
        assert all(0 <= a[s] <= sizes[s] for s in sizes)


def test_water_level_property():
    """No unsaturated source gets more than one unit less than any other source (equal shares)."""
    for sizes, L in _random_cases():
        a = waterfill(sizes, L)
        short = [s for s in sizes if a[s] < sizes[s]]  # sources below their size
        if short:
            lowest = min(a[s] for s in short)
            assert all(a[s] <= lowest + 1 for s in sizes)


def test_monotonic_in_budget_property():
    rng = np.random.default_rng(1)
    for _ in range(40):
        M = int(rng.integers(1, 6))
        sizes = {f"s{i}": int(rng.integers(0, 40)) for i in range(M)}
        prev = {s: 0 for s in sizes}
        for L in range(1, sum(sizes.values()) + 3):
            a = waterfill(sizes, L)
            assert all(a[s] >= prev[s] for s in sizes), (sizes, L)
            prev = a


def test_independent_of_input_order():
    sizes = {"a": 7, "b": 7, "c": 3, "d": 100}
    rev = dict(reversed(list(sizes.items())))
    assert waterfill(sizes, 20) == waterfill(rev, 20)


# --------------------------------------------------------------------------- drawing rows
def test_subsample_sorted_distinct_and_full():
    idx = subsample(100, 30, np.random.default_rng(0))
    assert idx.shape == (30,) and len(set(idx.tolist())) == 30 and np.all(np.diff(idx) > 0)
    assert idx.min() >= 0 and idx.max() < 100
    np.testing.assert_array_equal(subsample(7, 7, np.random.default_rng(0)), np.arange(7))
    assert subsample(5, 0, np.random.default_rng(0)).shape == (0,)
    with pytest.raises(ConfigError, match="k <= n"):
        subsample(5, 6, np.random.default_rng(0))


def test_draw_allocation_seeded_and_per_source():
    sizes = {"a": 100, "b": 1000, "c": 1000}
    d1 = draw_allocation(sizes, 900, random_state=0)
    d2 = draw_allocation(sizes, 900, random_state=0)
    assert {s: len(v) for s, v in d1.items()} == {"a": 100, "b": 400, "c": 400}
    for s in sizes:
        np.testing.assert_array_equal(d1[s], d2[s])
    np.testing.assert_array_equal(d1["a"], np.arange(100))
    assert not np.array_equal(d1["b"], draw_allocation(sizes, 900, random_state=1)["b"])
    assert not np.array_equal(d1["b"], d1["c"])  # sources get their own streams
    # a source's rows do not depend on the other sources or their order, only on its share
    other = draw_allocation({"c": 1000, "b": 1000, "z": 5000}, 1200, random_state=0)
    np.testing.assert_array_equal(other["b"], d1["b"])


def test_draw_allocation_without_budget_keeps_every_row():
    d = draw_allocation({"a": 3, "b": 5}, None, random_state=0)
    np.testing.assert_array_equal(d["a"], np.arange(3))
    np.testing.assert_array_equal(d["b"], np.arange(5))
