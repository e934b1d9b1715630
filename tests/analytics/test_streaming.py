"""Streaming detector: causality, bounded memory, range, batch == one-by-one."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.analytics.detectors.streaming import StreamingAnomalyDetector


def _series(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = 1.4e9 + 300.0 * np.arange(n)
    x = 20 + 3 * np.sin(2 * np.pi * t / 86400) + rng.normal(0, 0.3, n)
    return x, t


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(min_value=1, max_value=398), seed=st.integers(0, 1000))
def test_score_of_row_t_does_not_depend_on_later_rows(cut: int, seed: int) -> None:
    x, t = _series(400, seed)
    a = StreamingAnomalyDetector(warmup=20).score_series(x, t)
    y = x.copy()
    y[cut:] = np.random.default_rng(seed + 1).normal(1e3, 50, len(y) - cut)
    b = StreamingAnomalyDetector(warmup=20).score_series(y, t)
    np.testing.assert_array_equal(a[:cut], b[:cut])
    assert not np.array_equal(a[cut:], b[cut:])


def test_scores_in_unit_interval_even_for_wild_input() -> None:
    x, t = _series(600)
    x[300] = 1e12
    x[301:320] = -1e9
    s = StreamingAnomalyDetector(warmup=10).score_series(x, t)
    assert np.all((s >= 0) & (s <= 1))
    assert s[300] > 0.9 > np.quantile(s[100:290], 0.99)


def test_memory_is_bounded_by_sensors_not_readings() -> None:
    det = StreamingAnomalyDetector()
    x, t = _series(500)
    det.score_many(["a"] * 500, x, t)
    before = det.state_nbytes()
    x2, t2 = _series(5000, 3)
    det.score_many(["a"] * 5000, x2, t2 + 1e6)
    assert det.state_nbytes() == before


def _interleaved(sensors: int, n: int, seed: int) -> tuple[list[str], np.ndarray, np.ndarray]:
    """``n`` readings, one a minute, of ``sensors`` sensors in random order: keys, values, times."""
    rng = np.random.default_rng(seed)
    keys = [f"s{i % sensors}" for i in range(n)]
    rng.shuffle(keys)
    return keys, rng.normal(0, 1, n), 1.5e9 + np.arange(n) * 60.0


def _one_by_one(det: StreamingAnomalyDetector, keys: list[str], x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.array([det.score_learn_one(v, ts, k) for k, v, ts in zip(keys, x, t)])


def test_batch_of_many_sensors_equals_one_by_one() -> None:
    keys, x, t = _interleaved(7, 700, seed=4)
    batch = StreamingAnomalyDetector(warmup=5).score_many(keys, x, t)
    one = _one_by_one(StreamingAnomalyDetector(warmup=5), keys, x, t)
    np.testing.assert_allclose(batch, one)


def test_score_one_does_not_learn() -> None:
    det = StreamingAnomalyDetector(warmup=0)
    for v in range(50):
        det.learn_one(float(v % 5), key="k")
    first = det.score_one(100.0, key="k")
    assert det.score_one(100.0, key="k") == first


def test_cumulative_counter_is_judged_by_its_steps() -> None:
    # An energy meter sets a new high with every reading; that is how a counter works. A change
    # in its rate (a step of another size) is what stands out.
    rng = np.random.default_rng(5)
    steps = rng.uniform(0.9, 1.1, 3000)
    steps[2500] = 6.0
    t = 1.6e9 + 60.0 * np.arange(3000)
    scores = StreamingAnomalyDetector().score_series(np.cumsum(steps), t)
    assert scores[200:2500].max() < 0.5
    assert scores[2500] > 0.5


def test_spatial_check_waits_for_a_day_of_history() -> None:
    det = StreamingAnomalyDetector()
    t = 1.6e9 + 60.0 * np.arange(1500)  # 25 h of minutes
    rng = np.random.default_rng(6)
    x = rng.normal(0.0, 1.0, 1500)
    early = det.score_series(x[:1200], t[:1200], key="a")  # a daily swing widening the range
    assert early[100:].max() < 1.0
    det.score_series(x[1200:1499], t[1200:1499], key="a")
    assert det.score_one(50.0, t[1499] + 60.0, key="a") == 1.0


def _knn() -> StreamingAnomalyDetector:
    return StreamingAnomalyDetector(warmup=5, knn_window=6, knn_size=32, knn_k=3)


def test_window_matching_batch_equals_one_by_one_and_memory_is_bounded() -> None:
    keys, x, t = _interleaved(5, 1500, seed=7)
    det = _knn()
    batch = det.score_many(keys[:100], x[:100], t[:100])
    size = det.state_nbytes()
    batch = np.r_[batch, det.score_many(keys[100:], x[100:], t[100:])]
    assert det.state_nbytes() == size  # 5 sensors: the bank never grows with readings
    one = _one_by_one(_knn(), keys, x, t)
    np.testing.assert_allclose(batch, one)
    assert np.all((batch >= 0) & (batch <= 1))


def test_window_matching_flags_a_broken_shape_the_level_statistics_accept() -> None:
    # A repeating triangle wave; half a period becomes 9, 0, 9, 0, ...: every value is inside the
    # usual range, but that shape has never been seen (the window bank knows only the triangle).
    period = np.tile(np.r_[np.arange(10.0), np.arange(10.0)[::-1]], 60)
    x = period + np.random.default_rng(8).normal(0, 0.05, len(period))
    x[1000:1010] = np.r_[9.0, 0.0, 9.0, 0.0, 9.0, 0.0, 9.0, 0.0, 9.0, 0.0]
    t = 1.6e9 + 60.0 * np.arange(len(x))
    kw = {"warmup": 50, "spatial_tolerance": 0.0, "fast_horizon": 0.0}
    with_knn = StreamingAnomalyDetector(knn_window=8, knn_size=64, knn_mode="only", **kw).score_series(x, t)
    assert with_knn[1000:1012].max() > 0.5 > with_knn[200:1000].max()


def test_bad_window_matching_settings_are_rejected() -> None:
    import pytest

    with pytest.raises(ValueError):
        StreamingAnomalyDetector(knn_window=4, knn_size=3, knn_k=3)
    with pytest.raises(ValueError):
        StreamingAnomalyDetector(knn_mode="mean")
