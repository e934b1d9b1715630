"""The anomaly detectors of the live pipeline, built by name in one place.

The alert engine's anomaly rule (``[alerts.anomaly] model``), the maintenance engine's health
evidence (``[analytics] anomaly_model``) and ``python -m sidecar detect`` build their detector
here, so a name means the same detector everywhere (issue #5: the live path runs the models the
command line tool was measured with).

* ``streaming`` (the live default): ``StreamingAnomalyDetector``, fixed state per sensor, scores
  from the first readings on, vectorised over a batch (docs/analytics.md, "The live path").
* ``ensemble-vigilance`` (``detect``'s default): ``DualVigilanceDetector`` novelties as the main
  score, with the residual ensemble (streaming damped by the contextual detector) at
  ``residual_gain`` as a maximum. Every sensor's first ``warmup`` readings fix its value range and
  time scale (a window point is ``warmup // 104`` readings) and score 0.

Every detector built here implements ``base.Detector``; the live path calls only its
``score_many`` and ``forget``. This module imports no numpy at import time: the settings modules
use its names to validate the configuration before anything heavy loads.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Detector
    from .contextual import DailyRecurrenceMask, EnsembleAnomalyDetector

ANOMALY_MODELS = ("streaming", "ensemble-vigilance")
DEFAULT_ANOMALY_MODEL = "streaming"
DEFAULT_WARMUP_READINGS = 750       # readings per sensor before ensemble-vigilance scores
MIN_WARMUP_READINGS = 104           # window (8) x windows per warm-up (13): one reading per point
MAX_WARMUP_READINGS = 10_000_000    # settings' upper bound (about 19 years of one reading a minute)
VIGILANCE_RESIDUAL_GAIN = 0.2       # detect's --residual-gain default


def ensemble_vigilance(warmup: int = DEFAULT_WARMUP_READINGS, residual_gain: float = VIGILANCE_RESIDUAL_GAIN,
                       recurrence: DailyRecurrenceMask | None = None) -> EnsembleAnomalyDetector:
    """``detect``'s default detector; ``warmup`` is every sensor's warm-up unless ``set_warmup``
    gives one sensor its own (``detect`` gives each file its NAB probationary length)."""
    from .contextual import EnsembleAnomalyDetector
    from .dual_vigilance import DualVigilanceDetector

    # The novelties of the dual-vigilance ART lead; the residual ensemble at 0.2 adds the large
    # single-reading excursions a downsampled window can blur.
    return EnsembleAnomalyDetector(warmup=warmup, resonance=DualVigilanceDetector(warmup=warmup),
                                   resonance_gain=1.0, residual_gain=residual_gain, recurrence=recurrence)


def build_anomaly_detector(model: str = DEFAULT_ANOMALY_MODEL,
                           warmup: int = DEFAULT_WARMUP_READINGS) -> Detector:
    """The live detector called ``model`` (one of ``ANOMALY_MODELS``); ``warmup`` is used by
    ``ensemble-vigilance`` only (the streaming detector has its own short warm-up).

    >>> det = build_anomaly_detector("streaming")
    >>> type(det).__name__, det.score_many(["s1", "s2"], [21.0, 600.0]).tolist()
    ('StreamingAnomalyDetector', [0.0, 0.0])
    >>> build_anomaly_detector("ensemble-vigilance", warmup=50)
    Traceback (most recent call last):
    ...
    ValueError: warmup must be at least 104 readings, got 50
    """
    if model == "streaming":
        from .streaming import StreamingAnomalyDetector

        return StreamingAnomalyDetector()
    if model == "ensemble-vigilance":
        if warmup < MIN_WARMUP_READINGS:
            raise ValueError(f"warmup must be at least {MIN_WARMUP_READINGS} readings, got {warmup}")
        return ensemble_vigilance(warmup)
    raise ValueError(f"unknown anomaly model {model!r}; known: {', '.join(ANOMALY_MODELS)}")
