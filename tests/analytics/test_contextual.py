"""Contextual detector and ensemble: causality, bounded memory, the learned contexts, detect's option."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from detector_checks import assert_same_scores_before, assert_warmup_fixed_once_seen, changed_from, daily
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.analytics.detectors.contextual import (
    ContextualAnomalyDetector,
    DailyRecurrenceMask,
    EnsembleAnomalyDetector,
    nab_probation,
)
from sidecar.analytics.offline import cli


def test_daily_mask_ratio_keeps_a_slowly_growing_daily_event_masked() -> None:
    strict, lenient = DailyRecurrenceMask(), DailyRecurrenceMask(ratio=0.9)
    for k, score in enumerate((0.5, 0.54, 0.58)):  # +8 % a day
        assert strict.mask_one(score, k * DAY) == score
        assert lenient.mask_one(score, k * DAY) == (score if k == 0 else 0.0)
    # a jump beyond 1 / ratio of anything at that time of day is still reported
    assert lenient.mask_one(0.7, 3 * DAY) == 0.7


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(min_value=0, max_value=399), seed=st.integers(0, 10_000))
def test_scores_never_depend_on_later_rows(cut: int, seed: int) -> None:
    x = daily(400, seed)
    y = changed_from(x, cut, seed, 30)
    t = 1.6e9 + 300.0 * np.arange(400)
    assert_same_scores_before(cut, lambda: ContextualAnomalyDetector(warmup=60, rest=10), x, y)
    assert_same_scores_before(cut, lambda: EnsembleAnomalyDetector(warmup=60), x, y, t)


def test_context_table_is_capped() -> None:
    det = ContextualAnomalyDetector(bins=32, max_order=7, max_contexts=200, warmup=50)
    x = np.random.default_rng(0).uniform(0, 1, 5000)  # every 7-reading context is new
    det.score_series(x, key="s")
    assert det.n_contexts("s") == 200
    assert all(len(succ) <= 32 + 2 * det.overflow_bins for succ in det.sensors_["s"].contexts.values())
    assert det.sensors_["s"].warm == []  # the warm-up buffer is released


def test_foreseen_pattern_scores_low_and_novel_value_high() -> None:
    det = ContextualAnomalyDetector(warmup=96, rest=0)
    scores = det.score_series(daily(96 * 6))
    assert scores[:96].max() == 0.0  # warm-up
    assert np.median(scores[96 * 4:]) < 0.5  # the daily jumps are learned contexts
    assert det.score_one(500.0) == 1.0  # a value far outside anything seen: no context foresaw it
    assert det.score_one(20.0) < 0.5


def test_suppression_after_a_high_score() -> None:
    det = ContextualAnomalyDetector(warmup=96, rest=20)
    det.score_series(daily(96 * 3))
    for _ in range(25):  # a quiet stretch: no high raw score in the last ``rest`` readings
        det.learn_one(20.0)
    assert det.score_learn_one(500.0) == 1.0
    assert det.score_learn_one(-500.0) == 0.0  # inside the rest period
    assert det.score_learn_one(-900.0) == 0.0  # as new, but inside the rest period
    for _ in range(60):  # well-known readings: no raw score near the threshold once past the spikes
        det.learn_one(20.0)
    assert det.score_one(-900.0) == 1.0  # the rest period is over (and 20 never led to -900)


def test_ensemble_is_streaming_damped_where_contexts_foresaw() -> None:
    from sidecar.analytics.detectors.streaming import StreamingAnomalyDetector

    # A pulse every 40 readings: the residual detector keeps finding it mildly unusual, the
    # contexts learned it during the warm-up.
    x = 20.0 + np.random.default_rng(3).normal(0, 0.5, 96 * 8)
    x[::40] = 60.0
    x[96 * 6 + 10] = 300.0
    t = 1.6e9 + 900.0 * np.arange(len(x))
    ens = EnsembleAnomalyDetector(warmup=96, veto_below=0.6, veto_damping=0.3).score_series(x, t)
    base = StreamingAnomalyDetector().score_series(x, t)
    raw = ContextualAnomalyDetector(bins=16, warmup=96, rest=0).score_series(x)
    foreseen = (np.arange(len(x)) >= 96) & (raw < 0.6)
    np.testing.assert_allclose(ens, np.where(foreseen, 0.3 * base, base))
    assert (base[foreseen] > 0.1).sum() >= 5 and foreseen[96 * 4:].mean() > 0.5
    assert ens[96 * 6 + 10] == base[96 * 6 + 10] > 0.9  # a new value is not vetoed


def test_bad_parameters_and_warmup() -> None:
    with pytest.raises(ValueError):
        ContextualAnomalyDetector(bins=0)
    assert_warmup_fixed_once_seen(ContextualAnomalyDetector())
    assert nab_probation(4032) == 604 and nab_probation(22695) == 750


def _nab_csv(path: Path, n: int = 1000) -> None:
    ts = pd.date_range("2014-01-01", periods=n, freq="15min").strftime("%Y-%m-%d %H:%M:%S")
    x = np.round(daily(n), 3)
    x[900] = 400.0
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"timestamp": ts, "value": x}).to_csv(path, index=False)


@pytest.mark.parametrize("detector", list(cli.DETECTORS))
def test_detect_detector_option(tmp_path: Path, detector: str) -> None:
    _nab_csv(tmp_path / "in" / "a.csv")
    _nab_csv(tmp_path / "in" / "b.csv")
    out = tmp_path / "out"
    assert cli.main(["detect", str(tmp_path / "in"), "--output-dir", str(out), "--detector", detector]) == 0
    got = pd.read_csv(out / "a.csv")
    assert list(got.columns) == ["timestamp", "value", "anomaly_score"]
    assert got["anomaly_score"].between(0, 1).all()
    if detector != "streaming":
        assert got["anomaly_score"][:nab_probation(1000)].max() == 0.0  # warm-up = NAB probation
    if detector != "resonance":  # (its block means dilute a one-reading spike; the others catch it)
        assert got["anomaly_score"][900] == got["anomaly_score"].max() > 0.5  # the spike is top-scored


def test_detect_default_is_the_documented_detector(tmp_path: Path) -> None:
    _nab_csv(tmp_path / "a.csv")
    assert cli.main(["detect", str(tmp_path / "a.csv"), "--output-dir", str(tmp_path / "d")]) == 0
    assert cli.main(["detect", str(tmp_path / "a.csv"), "--output-dir", str(tmp_path / "e"),
                     "--detector", cli.DEFAULT_DETECTOR]) == 0
    assert (tmp_path / "d" / "a.csv").read_text() == (tmp_path / "e" / "a.csv").read_text()


DAY = 86400.0


def test_daily_mask_silences_what_recurs_at_the_same_time_of_day() -> None:
    mask = DailyRecurrenceMask(tolerance_s=3600.0, days=3)
    t0 = 1.6e9
    # a 0.8 score every day at the same time (+ 20 min jitter): only the first day's is kept
    assert mask.mask_one(0.8, t0) == 0.8
    assert mask.mask_one(0.8, t0 + DAY + 1200.0) == 0.0
    assert mask.mask_one(0.7, t0 + 2 * DAY - 1200.0) == 0.0
    # larger than anything at that time of day before: reported
    assert mask.mask_one(0.95, t0 + 3 * DAY) == 0.95
    # another time of day, or another sensor: reported
    assert mask.mask_one(0.8, t0 + 3 * DAY + 6 * 3600.0) == 0.8
    assert mask.mask_one(0.8, t0 + DAY, key="other") == 0.8
    # only `days` days back: the 0.95 at day 3 masks day 6, nothing masks day 10
    assert mask.mask_one(0.9, t0 + 6 * DAY) == 0.0
    assert mask.mask_one(0.9, t0 + 10 * DAY) == 0.9
    # scores at or below the floor pass unchanged and are not remembered
    assert mask.mask_one(0.05, t0 + 11 * DAY) == 0.05


def test_daily_mask_damping_log_cap_and_parameters() -> None:
    mask = DailyRecurrenceMask(damping=0.5, max_events=10)
    assert mask.mask_one(0.6, 0.0) == 0.6
    assert mask.mask_one(0.6, DAY) == pytest.approx(0.3)
    for i in range(100):
        mask.mask_one(0.5, DAY + 60.0 * i)
    assert len(mask.events_["default"]) == 10
    mask.forget("default")
    assert "default" not in mask.events_
    for bad in ({"period_s": 0}, {"tolerance_s": 43200.0}, {"days": 0}, {"damping": 1.0}, {"floor": -1},
                {"max_events": 0}, {"ratio": 0.0}, {"ratio": 1.1}):
        with pytest.raises(ValueError):
            DailyRecurrenceMask(**bad)


@settings(max_examples=15, deadline=None)
@given(cut=st.integers(min_value=0, max_value=599), seed=st.integers(0, 10_000))
def test_daily_mask_is_causal(cut: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = 1.6e9 + 900.0 * np.arange(600)
    a = np.where(rng.random(600) < 0.1, rng.random(600), 0.0)
    b = a.copy()
    b[cut:] = rng.random(600 - cut)
    keys = [0] * 600
    ma = DailyRecurrenceMask().mask_many(keys, a, t)
    mb = DailyRecurrenceMask().mask_many(keys, b, t)
    np.testing.assert_array_equal(ma[:cut], mb[:cut])
    assert (ma <= a).all() and ((ma == a) | (ma == 0.0)).all()


def test_ensemble_applies_the_daily_mask_only_with_timestamps() -> None:
    n = 96 * 12
    x = daily(n)
    x[np.arange(96 * 6 + 50, n, 96)] = np.linspace(300.0, 200.0, 6)  # a daily spike, never larger
    t = 1.6e9 + 900.0 * np.arange(n)
    plain = EnsembleAnomalyDetector(warmup=200).score_series(x, t)
    masked = EnsembleAnomalyDetector(warmup=200, recurrence=DailyRecurrenceMask()).score_series(x, t)
    np.testing.assert_array_equal(masked, DailyRecurrenceMask().mask_many([0] * n, plain, t))
    untimed = EnsembleAnomalyDetector(warmup=200, recurrence=DailyRecurrenceMask()).score_series(x)
    np.testing.assert_array_equal(untimed, EnsembleAnomalyDetector(warmup=200).score_series(x))


def test_detect_daily_mask_option(tmp_path: Path) -> None:
    _nab_csv(tmp_path / "a.csv")
    runs = {"default": [], "on": ["--daily-mask", "on"], "off": ["--no-daily-mask"],
            "er": ["--detector", "ensemble-resonance"], "er_off": ["--detector", "ensemble-resonance", "--daily-mask", "off"]}
    got = {}
    for name, extra in runs.items():
        assert cli.main(["detect", str(tmp_path / "a.csv"), "--output-dir", str(tmp_path / name), *extra]) == 0
        got[name] = pd.read_csv(tmp_path / name / "a.csv")["anomaly_score"]
    # the default detector runs unmasked; ensemble-resonance masks by default (as measured)
    assert got["default"].equals(got["off"])
    for masked, plain in (("on", "off"), ("er", "er_off")):
        m, u = got[masked], got[plain]
        assert (m <= u).all() and ((m == u) | (m == 0.0)).all()
        assert m[900] == u[900] > 0.5  # a one-off spike is never masked


def test_daily_mask_never_masks_a_score_at_the_ceiling() -> None:
    mask = DailyRecurrenceMask()
    t0 = 1.6e9
    assert mask.mask_one(1.0, t0) == 1.0
    assert mask.mask_one(1.0, t0 + DAY) == 1.0  # saturated: "as high as yesterday" says nothing
    assert mask.mask_one(0.99, t0 + 2 * DAY) == 0.0  # below the ceiling the rule applies
    assert DailyRecurrenceMask(ceiling=1.01).mask_one(1.0, t0) == 1.0
