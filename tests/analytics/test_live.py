"""The live detectors by name (``sidecar.analytics.detectors.live``): what the factory builds, the live batch
shape (many sensors per batch, hourly batches) scoring exactly like one series per sensor, and
``EnsembleAnomalyDetector.forget`` dropping a sensor in every part."""
from __future__ import annotations

import numpy as np
import pytest

from sidecar.analytics.detectors.contextual import DailyRecurrenceMask, EnsembleAnomalyDetector
from sidecar.analytics.detectors.dual_vigilance import DualVigilanceDetector
from sidecar.analytics.detectors.live import ANOMALY_MODELS, build_anomaly_detector, ensemble_vigilance
from sidecar.analytics.detectors.streaming import StreamingAnomalyDetector

T0 = 1_700_000_000.0


def _series(seed: int, n: int = 900) -> np.ndarray:
    """A noisy daily-ish cycle with one far excursion late in the series."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    x = 20.0 + 2.0 * np.sin(i * 2 * np.pi / 120) + 0.1 * rng.standard_normal(n)
    x[700:710] += 8.0
    return x


def test_factory_builds_the_named_detectors() -> None:
    assert ANOMALY_MODELS == ("streaming", "ensemble-vigilance")
    assert isinstance(build_anomaly_detector(), StreamingAnomalyDetector)
    det = build_anomaly_detector("ensemble-vigilance", 300)
    assert isinstance(det, EnsembleAnomalyDetector)
    assert isinstance(det.resonance, DualVigilanceDetector)
    assert det.resonance.warmup == 300 and det.contextual.warmup == 300
    assert (det.resonance_gain, det.residual_gain, det.recurrence) == (1.0, 0.2, None)
    with pytest.raises(ValueError, match="unknown anomaly model 'vigilance'"):
        build_anomaly_detector("vigilance")
    with pytest.raises(ValueError, match="at least 104"):
        build_anomaly_detector("ensemble-vigilance", 50)


def test_detect_construction_is_the_factory_one() -> None:
    """``detect``'s default and the live model are one construction (the CLI calls
    ``ensemble_vigilance``): same scores on the same series."""
    x = _series(3)
    t = T0 + 60.0 * np.arange(len(x))
    by_hand = EnsembleAnomalyDetector(resonance=DualVigilanceDetector(), resonance_gain=1.0, residual_gain=0.2)
    built = ensemble_vigilance()
    for det in (by_hand, built):
        det.set_warmup("f", 300)
    np.testing.assert_array_equal(by_hand.score_series(x, t, key="f"), built.score_series(x, t, key="f"))


def test_live_batches_score_like_one_series_per_sensor() -> None:
    """Hourly batches of three interleaved sensors (the pipeline's shape) give every sensor the
    scores it gets alone, and the far excursion is reported after the warm-up."""
    sensors = {k: _series(k) for k in (0, 1, 2)}
    n = len(sensors[0])
    t = T0 + 60.0 * np.arange(n)
    live = build_anomaly_detector("ensemble-vigilance", 312)
    out = {k: np.empty(n) for k in sensors}
    for start in range(0, n, 60):
        stop = min(start + 60, n)
        keys = [k for _ in range(start, stop) for k in sensors]
        values = np.array([sensors[k][i] for i in range(start, stop) for k in sensors])
        stamps = np.repeat(t[start:stop], len(sensors))
        scores = live.score_many(keys, values, stamps)
        for j, k in enumerate(sensors):
            out[k][start:stop] = scores[j::len(sensors)]
    for k, x in sensors.items():
        alone = build_anomaly_detector("ensemble-vigilance", 312)
        assert isinstance(alone, EnsembleAnomalyDetector)
        np.testing.assert_array_equal(out[k], alone.score_series(x, t, key=k))
        assert out[k][:312].max() == 0.0                       # warm-up scores 0
        assert out[k][700:712].max() >= 0.9                    # the excursion is a novelty


def test_forget_drops_the_sensor_in_every_part() -> None:
    det = EnsembleAnomalyDetector(resonance=DualVigilanceDetector(warmup=300), resonance_gain=1.0,
                                  residual_gain=0.2, recurrence=DailyRecurrenceMask(), warmup=300)
    x, other = _series(1), _series(2)
    t = T0 + 3600.0 * np.arange(len(x))    # hourly: the recurrence mask logs the excursion
    det.score_series(x[:800], t[:800], key="a")
    kept = det.score_series(other[:800], t[:800], key="b")
    assert det.recurrence is not None and "a" in det.recurrence.events_
    det.forget("a")
    assert "a" not in det.contextual.sensors_
    assert isinstance(det.resonance, DualVigilanceDetector) and "a" not in det.resonance.sensors_
    assert "a" not in det.recurrence.events_
    assert det.streaming.state_.count[det.streaming.keys_["a"]] == 0
    det.forget("never seen")                                   # no error
    # The sensor starts afresh: every part scores it exactly as a new detector would; the other
    # sensor is untouched.
    replay = det.score_series(x, t, key="a")
    fresh = EnsembleAnomalyDetector(resonance=DualVigilanceDetector(warmup=300), resonance_gain=1.0,
                                    residual_gain=0.2, recurrence=DailyRecurrenceMask(), warmup=300)
    np.testing.assert_array_equal(replay, fresh.score_series(x, t, key="a"))
    rest = det.score_series(other[800:], t[800:], key="b")
    again = EnsembleAnomalyDetector(resonance=DualVigilanceDetector(warmup=300), resonance_gain=1.0,
                                    residual_gain=0.2, recurrence=DailyRecurrenceMask(), warmup=300)
    np.testing.assert_array_equal(np.concatenate([kept, rest]), again.score_series(other, t, key="b"))
