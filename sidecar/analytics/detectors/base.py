"""The one contract every live anomaly detector implements (river style, state per sensor key).

A detector scores readings of any number of sensors; each sensor's state is keyed by its sensor key
(any hashable: the pipeline uses the sensor index, the maintenance engine the sensor id, ``detect``
the file number). Every method takes the same arguments in the same order, whichever detector:

* ``score_one(x, t=None, key=DEFAULT_KEY) -> float``: the score of reading ``x`` (taken at epoch
  second ``t``, if the detector uses time) from the sensor's current state; learns nothing.
* ``learn_one(x, t=None, key=DEFAULT_KEY) -> self``: learn one reading.
* ``score_learn_one(x, t=None, key=DEFAULT_KEY) -> float``: score then learn one reading, what a
  stream does (``learn_one`` after ``score_one`` gives the same score and state, in one pass).
* ``score_many(keys, values, timestamps=None) -> scores``: score then learn a batch of readings of
  any sensors, in the order given (readings of one sensor in time order). The live path (the
  alert engine's anomaly rule, the maintenance engine) calls this once per batch.
* ``forget(key)``: drop one sensor's state; its next readings start afresh.
* ``score_series(values, timestamps=None, key=DEFAULT_KEY) -> scores``: one sensor's series in order.

Scores are in [0, 1] and causal: a reading's score depends only on earlier readings of its sensor.
``PerSensorDetector`` is the base of detectors that keep one state object per sensor in
``sensors_`` and score one reading at a time; their warm-up (which fixes the value range) can be
set per sensor with ``set_warmup``.

>>> from sidecar.analytics.detectors.resonance import ResonanceAnomalyDetector
>>> det: Detector = ResonanceAnomalyDetector(warmup=4)
>>> [det.score_learn_one(v, key="ahu-1") for v in (20.0, 21.0, 20.0, 21.0)]
[0.0, 0.0, 0.0, 0.0]
>>> det.forget("ahu-1")
>>> "ahu-1" in det.sensors_
False
"""

from __future__ import annotations

import copy
import math
from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from typing import Any, Self

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

DEFAULT_KEY: Hashable = "default"
"""The sensor key of a detector used for one sensor only."""


class Detector(ABC):
    """A live anomaly detector over any number of sensors (see the module docstring)."""

    @abstractmethod
    def score_one(self, x: float, t: float | None = None, key: Hashable = DEFAULT_KEY) -> float:
        """Score one reading from the sensor's current state, learning nothing."""

    @abstractmethod
    def score_learn_one(self, x: float, t: float | None = None, key: Hashable = DEFAULT_KEY) -> float:
        """Score one reading, then learn it."""

    def learn_one(self, x: float, t: float | None = None, key: Hashable = DEFAULT_KEY) -> Self:
        """Update the sensor's state with one reading."""
        self.score_learn_one(x, t, key)
        return self

    @abstractmethod
    def score_many(self, keys: Sequence[Hashable], values: Sequence[float] | FloatArray,
                   timestamps: Sequence[float] | FloatArray | None = None) -> FloatArray:
        """Score then learn a batch of readings of any sensors, in the order given."""

    @abstractmethod
    def forget(self, key: Hashable) -> None:
        """Drop one sensor's state (a sensor replaced, or a key that now means another sensor)."""

    def score_series(self, values: Sequence[float] | FloatArray,
                     timestamps: Sequence[float] | FloatArray | None = None,
                     key: Hashable = DEFAULT_KEY) -> FloatArray:
        """Score a single sensor's series in order (causal: each score uses only earlier rows)."""
        x = np.asarray(values, dtype=np.float64)
        return self.score_many([key] * len(x), x, timestamps)


class PerSensorDetector(Detector):
    """A detector that keeps one state object per sensor in ``sensors_`` (made by ``_new_sensor``,
    with ``seen`` and ``warmup`` fields) and scores one reading at a time in ``score_learn_one``."""

    sensors_: dict[Hashable, Any]

    @abstractmethod
    def _new_sensor(self) -> Any:
        """A fresh state for a sensor not seen before."""

    def _sensor(self, key: Hashable) -> Any:
        """The sensor's state, created on first use."""
        s = self.sensors_.get(key)
        if s is None:
            s = self.sensors_[key] = self._new_sensor()
        return s

    @abstractmethod
    def _start(self, s: Any) -> None:
        """Warm-up complete: fix the sensor's range from ``s.warm`` and learn the warm-up readings."""

    @abstractmethod
    def _score_learn_warm(self, s: Any, x: float) -> float:
        """Score, then learn, a finite reading of a sensor whose warm-up is over."""

    def score_learn_one(self, x: float, t: float | None = None, key: Hashable = DEFAULT_KEY) -> float:
        """Score one reading, then learn it (non-finite readings are ignored and score 0; ``t`` is
        not used). Warm-up readings are kept in ``s.warm`` and score 0; the last one starts the
        sensor (``_start``)."""
        if not math.isfinite(x):
            return 0.0
        s = self._sensor(key)
        if s.seen < s.warmup:
            s.warm.append(float(x))
            s.seen += 1
            if s.seen == s.warmup:
                self._start(s)
            return 0.0
        return self._score_learn_warm(s, x)

    def set_warmup(self, key: Hashable, warmup: int) -> None:
        """Give one sensor its own warm-up length before its first reading (``detect`` gives each
        file its NAB probationary length)."""
        if warmup < 2:
            raise ValueError("warmup must be >= 2")
        s = self._sensor(key)
        if s.seen:
            raise ValueError(f"sensor {key!r} has already seen readings")
        s.warmup = warmup

    def score_one(self, x: float, t: float | None = None, key: Hashable = DEFAULT_KEY) -> float:
        """Score one reading, learning nothing: ``score_learn_one`` on a copy of the sensor's state
        (so it is exactly the score the reading would get next)."""
        state = self.sensors_.get(key)
        try:
            if state is not None:
                self.sensors_[key] = copy.deepcopy(state)
            return self.score_learn_one(x, t, key)
        finally:
            if state is None:
                self.sensors_.pop(key, None)
            else:
                self.sensors_[key] = state

    def score_many(self, keys: Sequence[Hashable], values: Sequence[float] | FloatArray,
                   timestamps: Sequence[float] | FloatArray | None = None) -> FloatArray:
        """Score then learn a batch of readings of any sensors, in the order given."""
        x = np.asarray(values, dtype=np.float64)
        if x.shape != (len(keys),):
            raise ValueError(f"values has shape {x.shape}, expected ({len(keys)},)")
        if timestamps is None:
            return np.array([self.score_learn_one(float(v), None, k) for k, v in zip(keys, x)], dtype=np.float64)
        t = np.asarray(timestamps, dtype=np.float64)
        if t.shape != x.shape:
            raise ValueError(f"timestamps has shape {t.shape}, expected {x.shape}")
        return np.array([self.score_learn_one(float(v), float(ts), k) for k, v, ts in zip(keys, x, t)],
                        dtype=np.float64)

    def forget(self, key: Hashable) -> None:
        """Drop one sensor's state."""
        self.sensors_.pop(key, None)
