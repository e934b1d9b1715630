"""Resonance (fuzzy ART) detector: causality, bounded memory, learned shapes, the ensemble's maximum."""

from __future__ import annotations

import numpy as np
import pytest
from detector_checks import assert_same_scores_before, assert_warmup_fixed_once_seen, changed_from, daily
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.analytics.detectors.contextual import EnsembleAnomalyDetector
from sidecar.analytics.detectors.resonance import ResonanceAnomalyDetector


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(min_value=0, max_value=399), seed=st.integers(0, 10_000))
def test_scores_never_depend_on_later_rows(cut: int, seed: int) -> None:
    x = daily(400, seed)
    assert_same_scores_before(cut, lambda: ResonanceAnomalyDetector(warmup=60, rest=10), x,
                              changed_from(x, cut, seed, 30))


def test_category_bank_is_capped() -> None:
    det = ResonanceAnomalyDetector(window=6, block=1, vigilance=0.95, max_categories=20, warmup=50)
    det.score_series(np.random.default_rng(0).uniform(0, 1, 3000), key="s")  # new shapes all the time
    assert det.n_categories("s") == 20
    assert det.sensors_["s"].weights.shape == (20, 12)
    assert det.sensors_["s"].warm == []  # the warm-up buffer is released


def test_learned_pattern_is_quiet_and_a_new_shape_is_novel() -> None:
    x = daily(96 * 8)
    det = ResonanceAnomalyDetector(warmup=96 * 2, rest=0)
    scores = det.score_series(x)
    assert scores[:96 * 2].max() == 0.0  # warm-up
    # Once a few days are learnt every window shape of the daily cycle has a category (a noisy
    # transition may still open one on the way there).
    assert (scores[96 * 2:] > 0).sum() <= 2 and scores[96 * 5:].max() == 0.0
    # A shape never seen, with values inside the learnt range: the sensor flips every 4 readings.
    odd = daily(96, seed=5)
    odd[40:80] = np.where((np.arange(40) // 4) % 2 == 0, 20.0, 80.0)
    novel = det.score_series(odd)
    assert novel.max() >= 0.5 and 40 <= int(np.argmax(novel)) < 80 and novel[:40].max() == 0.0


def test_rest_period_after_a_novelty() -> None:
    det = ResonanceAnomalyDetector(window=1, block=1, warmup=96, rest=20)
    det.score_series(daily(96 * 3))
    assert det.score_learn_one(500.0) == 1.0  # far from both learnt levels
    assert det.score_learn_one(-500.0) == 0.0  # as novel, but inside the rest period
    det.score_series(daily(96 * 2))  # rest over (the daily readings resonate)
    assert det.score_learn_one(50.0) == 1.0  # between the two learnt levels: novel again


def test_a_farther_novelty_inside_the_rest_period_is_reported() -> None:
    det = ResonanceAnomalyDetector(window=1, block=1, warmup=96, rest=50)
    det.score_series(daily(96 * 3))
    first = det.score_learn_one(5.0)  # a little below the learnt low level: a mild novelty
    assert 0.5 <= first < 1.0
    assert det.score_learn_one(500.0) == 1.0  # farther than the episode's first novelty


def test_ensemble_with_resonance_is_the_maximum() -> None:
    x = daily(96 * 6)
    x[96 * 5 + 40: 96 * 5 + 60] = 20.0  # a missing high phase
    t = 1.6e9 + 900.0 * np.arange(len(x))
    base = EnsembleAnomalyDetector(warmup=96).score_series(x, t)
    res = ResonanceAnomalyDetector(warmup=96).score_series(x)
    both = EnsembleAnomalyDetector(warmup=96, resonance=ResonanceAnomalyDetector(warmup=96),
                                   resonance_gain=0.3).score_series(x, t)
    np.testing.assert_allclose(both, np.maximum(base, 0.3 * res))


def test_bad_parameters_and_warmup() -> None:
    with pytest.raises(ValueError):
        ResonanceAnomalyDetector(vigilance=1.0)
    with pytest.raises(ValueError):
        EnsembleAnomalyDetector(resonance_gain=0.0)
    det = ResonanceAnomalyDetector()
    assert_warmup_fixed_once_seen(det)
    det.forget("a")
    assert det.n_categories("a") == 0
