"""Dual-vigilance ART detector: causality, bounded memory, range growth, learned shapes, time scale."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from detector_checks import assert_same_scores_before, changed_from, daily
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.analytics.detectors.contextual import EnsembleAnomalyDetector, nab_probation
from sidecar.analytics.detectors.dual_vigilance import EMPTY_BANK_MATCH, DualVigilanceDetector, _Sensor, haar
from sidecar.analytics.detectors.streaming import StreamingAnomalyDetector

NAB_ARTIME = Path(__file__).parent / "data" / "nab_artime"


class _FileRange(DualVigilanceDetector):
    """The range NAB's runner hands ARTime: the whole file's minimum and maximum (look-ahead;
    the product never does this, the test uses it to compare with ARTime's published scores)."""

    def __init__(self, lo: float, hi: float) -> None:
        super().__init__(margin=0.0)
        self.file_range = (lo, hi)

    def _value_range(self, warm: list[float]) -> tuple[float, float]:
        return self.file_range


def test_haar_is_orthonormal_and_coarsest_first() -> None:
    v = np.array([4.0, 2.0, 5.0, 5.0, 1.0, 3.0, 0.0, 8.0])
    h = haar(v)
    assert h[0] == pytest.approx(v.sum() / np.sqrt(8))  # the overall level first
    assert np.linalg.norm(h) == pytest.approx(np.linalg.norm(v))  # energy preserved
    # finest details last, second minus first (the convention of Wavelets.jl, which ARTime uses)
    assert h[4:] == pytest.approx((v[1::2] - v[0::2]) / np.sqrt(2))


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(min_value=0, max_value=1199), seed=st.integers(0, 10_000))
def test_scores_never_depend_on_later_rows(cut: int, seed: int) -> None:
    x = daily(1200, seed)
    assert_same_scores_before(cut, lambda: DualVigilanceDetector(warmup=300), x, changed_from(x, cut, seed, 60))


def test_time_scale_follows_the_warmup() -> None:
    det = DualVigilanceDetector(window=8, windows_per_warmup=13)
    for key, warmup in (("fast", 104 * 7), ("slow", 104 * 2), ("tiny", 50)):
        det.set_warmup(key, warmup)
        det.score_series(daily(warmup + 10), key=key)
    assert [det.sensors_[k].step for k in ("fast", "slow", "tiny")] == [7, 2, 1]


def test_category_bank_is_capped_and_warmup_released() -> None:
    det = DualVigilanceDetector(warmup=200, max_categories=16)
    det.score_series(np.random.default_rng(0).uniform(0, 1, 5000), key="s")  # new shapes all the time
    assert det.n_categories("s") == 16
    assert det.sensors_["s"].weights.shape == (16, 32)
    assert det.sensors_["s"].warm == []


def test_learned_cycle_is_quiet_and_a_broken_cycle_is_novel() -> None:
    det = DualVigilanceDetector(warmup=96 * 3, windows_per_warmup=9)  # step 4: 8 points = 32 readings
    normal = det.score_series(daily(96 * 12))
    assert normal[:96 * 3].max() == 0.0  # warm-up
    # the cycle has been learnt: at most a rare noise novelty on the last six days
    assert (normal[96 * 6:] > 0).sum() <= 2
    odd = daily(96 * 2, seed=3)
    odd[40:100] = 50.0  # the day's peak replaced by a flat mid level: inside the known range
    novel = det.score_series(odd)
    assert novel.max() > max(0.3, normal[96 * 6:].max()) and 40 <= int(np.argmax(novel)) < 110


def test_a_single_reading_spike_survives_the_downsampling() -> None:
    det = DualVigilanceDetector(warmup=96 * 3)
    det.score_series(daily(96 * 8))
    x = daily(96, seed=9)
    x[20] = 200.0
    s = det.score_series(x)
    step = det.sensors_["default"].step
    assert s.max() > 0.5 and 20 <= int(np.argmax(s)) < 20 + step


def test_range_growth_re_expresses_the_bank_exactly() -> None:
    det = DualVigilanceDetector(warmup=96 * 3)
    det.score_series(daily(96 * 6))
    s = det.sensors_["default"]
    w = det.window

    def boxes() -> tuple[np.ndarray, np.ndarray]:
        """Every category's box of raw levels, in the sensor's own units."""
        bank = s.weights[:s.n_cat]
        return s.lo + bank[:, w:2 * w] * s.span, s.lo + (1.0 - bank[:, 3 * w:]) * s.span

    before = boxes()
    levels = np.array(s.levels) * s.span + s.lo
    lo, span = s.lo, s.span
    det._grow(s, s.lo + 3 * s.span)  # a reading three ranges above: the range grows to take it
    assert s.lo == lo and s.span == pytest.approx(3 * span)
    for old, new in zip(before, boxes()):
        np.testing.assert_allclose(new, old)  # the same boxes of raw values
    np.testing.assert_allclose(np.array(s.levels) * s.span + s.lo, levels)
    assert int(s.counts.sum()) == s.n_ds  # the level histogram keeps every point


def test_non_finite_readings_are_ignored_and_parameters_checked() -> None:
    det = DualVigilanceDetector(warmup=10)
    assert det.score_learn_one(float("nan")) == 0.0 and "default" not in det.sensors_
    det.set_warmup("k", 20)
    det.score_learn_one(1.0, key="k")
    with pytest.raises(ValueError):
        det.set_warmup("k", 30)  # already started
    for bad in ({"window": 6}, {"levels": 1}, {"margin": 0.5}, {"initial_vigilance": 1.0},
                {"max_categories": 1}, {"warmup": 1}, {"chomp": 0.6}):
        with pytest.raises(ValueError):
            DualVigilanceDetector(**bad)


def test_ensemble_with_dual_vigilance_is_the_scaled_maximum() -> None:
    x = daily(96 * 8)
    x[700] = 300.0
    t = 1.6e9 + 900.0 * np.arange(len(x))
    ens = EnsembleAnomalyDetector(warmup=200, resonance=DualVigilanceDetector(warmup=200), resonance_gain=1.0,
                                  residual_gain=0.2).score_series(x, t)
    base = EnsembleAnomalyDetector(warmup=200).score_series(x, t)
    dv = DualVigilanceDetector(warmup=200).score_series(x)
    np.testing.assert_allclose(ens, np.maximum(0.2 * base, dv))
    with pytest.raises(ValueError):
        EnsembleAnomalyDetector(residual_gain=0.0)


def test_streaming_sensor_scores_do_not_depend_on_how_many_sensors_came_first() -> None:
    x = daily(600, seed=4)
    x[400] = 150.0
    alone = StreamingAnomalyDetector().score_series(x, key="s")
    crowded = StreamingAnomalyDetector()
    for k in range(20):  # the state table grows past its initial capacity
        crowded.score_learn_one(1.0, key=f"other{k}")
    np.testing.assert_array_equal(crowded.score_series(x, key="s"), alone)


def test_streaming_forget_returns_a_sensor_to_a_fresh_start() -> None:
    x = daily(600, seed=6)
    x[450] = 140.0
    fresh = StreamingAnomalyDetector().score_series(x, key="s")
    reused = StreamingAnomalyDetector()
    reused.score_series(daily(300, seed=7) * 3.0, key="s")  # another history under the same key
    reused.forget("s")
    np.testing.assert_array_equal(reused.score_series(x, key="s"), fresh)


@pytest.mark.parametrize("name", ["ec2_cpu_utilization_77c1ca", "art_load_balancer_spikes"])
def test_given_artimes_range_the_scores_are_artimes_published_scores(name: str) -> None:
    """Same method, same inputs, same scores: on these NAB files (where ARTime's approximate
    running median, signed spike rule and even-length probation make no difference) every row
    matches ARTime's NAB result file."""
    expected = json.loads((NAB_ARTIME / "artime_scores.json").read_text())[name]
    x = pd.read_csv(NAB_ARTIME / f"{name}.csv")["value"].to_numpy(float)
    assert len(x) == expected["rows"]
    det = _FileRange(float(x.min()), float(x.max()))
    det.set_warmup("f", nab_probation(len(x)))
    scores = np.round(det.score_series(x, key="f"), 6)
    want = np.zeros(len(x))
    for row, score in expected["scores"].items():
        want[int(row)] = score
    np.testing.assert_allclose(scores, want, atol=1e-6)
    assert (scores > 0).sum() == len(expected["scores"]) >= 10


def test_the_universal_box_is_the_floor_of_every_best_match() -> None:
    det = DualVigilanceDetector(window=2)
    s = _Sensor(warmup=2, weights=np.zeros((4, 8)), used=np.zeros(4), rho_lb=0.8, rho_ub=0.9)
    low = np.array([0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0])  # complement coded: everything at 0
    assert det._match_learn(s, low) == (EMPTY_BANK_MATCH, 0.5, 2)  # an empty bank
    best, newest, kind = det._match_learn(s, 1.0 - low)  # everything at 1: no overlap with the box at 0
    assert (best, newest, kind) == (EMPTY_BANK_MATCH, 0.5, 2) and s.n_cat == 2
    assert EMPTY_BANK_MATCH == pytest.approx(1 / 32)


def test_empty_windows_are_typical_of_a_warmup_that_sits_at_the_bottom_of_its_range() -> None:
    det = DualVigilanceDetector()
    empty = np.tile(np.r_[np.zeros(16), np.ones(16)], (40, 1))  # flat at level 0: all-zero features
    rng = np.random.default_rng(1)
    shapes = rng.uniform(0.2, 1.0, (4, 16))
    feats = np.vstack([empty, np.hstack([shapes, 1.0 - shapes])])
    # the four odd windows go first and are out of the mean; the empty windows resonate with each other
    assert det._initial_vigilance(feats, trend=len(feats)) == pytest.approx(1.0)
    assert math.isclose(det._initial_vigilance(feats[::-1].copy(), trend=len(feats)), 1.0)
