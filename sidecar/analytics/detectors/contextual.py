"""Contextual anomaly detection: learned value contexts and their successors (CAD OSE's idea).

Written from the published description of the Contextual Anomaly Detector (open-source edition,
Smirnov & Fedorov, NAB 2016), not from its code. The idea: a reading is unusual when the contexts
the sensor has just been in never led to it before.

Per sensor:

* **Quantised facts.** The first ``warmup`` readings fix the value range ``[lo, hi]``; every reading
  becomes the number of its bin (``bins`` equal bins over the range; readings outside it land in
  up to ``overflow_bins`` extra bins of the same width on either side, the outermost taking
  everything beyond). The warm-up readings are replayed through the learner once the range is
  known (only past readings, so causal) and are scored 0.
* **Contexts.** The left side of a context is the last ``k`` bins, for every order
  ``k = 1 .. max_order``; its right side is the set of bins that followed it. Contexts live in a
  least-recently-used table capped at ``max_contexts`` entries (oldest dropped first), each with at
  most ``bins + 2 * overflow_bins`` successors, so memory per sensor is bounded whatever the stream
  length.
* **Score.** Of the contexts selected by the recent bins (all their learned successors), the share
  that predicted the current bin is ``predicted``; the share of orders for which
  (context, current bin) was never seen is ``novel``. The raw score is
  ``(1 - predicted + novel) / 2``: 0 when every active context foresaw the reading, 1 when none
  had ever been seen with it.
* **Post-detection suppression** (numenta-style, as CAD OSE does): a raw score is reported only
  if no raw score in the previous ``rest`` readings reached ``base_threshold``; otherwise the
  reading scores 0. One alarm per episode, which is what NAB's scorer and operators reward.

Every reading is scored from the state *before* it (``score_one`` does not learn), so a score never
depends on later readings.

``EnsembleAnomalyDetector`` combines it with ``StreamingAnomalyDetector`` (unchanged, its defaults):
the streaming score is kept where the contextual raw score says the reading was not foreseen
(raw >= ``veto_below``) and multiplied by ``veto_damping`` where the learned contexts did foresee it
(a daily jump that happens every day at 09:00 is large for the residuals but old news for the
contexts). Optionally (``resonance``) an adaptive-resonance novelty detector joins as a maximum:
``max(residual_gain x ensemble, resonance_gain x resonance)``, so a recent-window shape that fits
none of the learned categories is reported even when the residuals are small (a missing daily
peak, a changed spike pattern). The resonance part is either ``ResonanceAnomalyDetector`` (fixed
vigilance) or ``DualVigilanceDetector`` (ARTime's method, self-tuning); with the latter as the
main detector and the residual ensemble at ``residual_gain`` 0.2 this is ``detect``'s default, the
best out of sample on the full NAB corpus (docs/analytics.md); the contextual detector alone was
not.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .base import DEFAULT_KEY, Detector, FloatArray, PerSensorDetector
from .streaming import StreamingAnomalyDetector


@dataclass
class _Sensor:
    """One sensor's bounded state."""

    warmup: int = 750
    seen: int = 0
    warm: list[float] = field(default_factory=list)
    lo: float = 0.0
    width: float = 1.0
    history: deque[int] = field(default_factory=deque)
    contexts: OrderedDict[tuple[int, ...], set[int]] = field(default_factory=OrderedDict)
    last_high: int = -(10 ** 9)  # reading index of the last raw score >= base_threshold


@dataclass(eq=False)
class ContextualAnomalyDetector(PerSensorDetector):
    """Contextual anomaly detector for any number of sensors (keys), river style.

    Parameters
    ----------
    bins:
        Equal-width bins over the warm-up range (CAD OSE uses 8).
    overflow_bins:
        Extra bins of the same width on each side for readings outside the warm-up range.
    max_order:
        Longest left context, in readings (CAD OSE's left semi-contexts hold up to 7 facts).
    max_contexts:
        Cap of the per-sensor context table (least recently used contexts are dropped).
    warmup:
        Readings per sensor that fix the value range; they are learnt (replayed) and scored 0.
        ``detect`` passes NAB's probationary length per file (15 % of the file, at most 750).
    rest:
        Suppression period in readings after a raw score reached ``base_threshold``.
    base_threshold:
        Raw score that starts a suppression period.

    Example: a fan stepping through 0, 1, 2, 3 over and over; after a 3 its contexts foresee a 0,
    never a 9.

    >>> det = ContextualAnomalyDetector(warmup=20)
    >>> for i in range(200):
    ...     _ = det.learn_one(float(i % 4), key="fan")
    >>> det.score_one(0.0, key="fan"), det.score_one(9.0, key="fan")
    (0.0, 1.0)
    """

    bins: int = 8
    overflow_bins: int = 2
    max_order: int = 7
    max_contexts: int = 4096
    warmup: int = 750
    rest: int = 150
    base_threshold: float = 0.75
    sensors_: dict[Hashable, _Sensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.bins < 1 or self.overflow_bins < 0 or self.max_order < 1 or self.max_contexts < self.max_order:
            raise ValueError("need bins >= 1, overflow_bins >= 0, max_order >= 1, max_contexts >= max_order")
        if self.warmup < 2 or self.rest < 0 or not 0.0 < self.base_threshold <= 1.0:
            raise ValueError("need warmup >= 2, rest >= 0 and 0 < base_threshold <= 1")

    # -- per-sensor helpers --------------------------------------------------------------
    def _new_sensor(self) -> _Sensor:
        return _Sensor(warmup=self.warmup, history=deque(maxlen=self.max_order))

    def _bin(self, s: _Sensor, x: float) -> int:
        b = math.floor((x - s.lo) / s.width)
        return min(max(b, -self.overflow_bins), self.bins - 1 + self.overflow_bins)

    def _raw(self, s: _Sensor, b: int) -> float:
        hist = tuple(s.history)
        orders = len(hist)
        if orders == 0:
            return 0.0
        selected = predicted = novel = 0
        for k in range(1, orders + 1):
            succ = s.contexts.get(hist[-k:])
            if succ is None:
                novel += 1
                continue
            selected += len(succ)
            if b in succ:
                predicted += 1
            else:
                novel += 1
        share = predicted / selected if selected else 0.0
        return (1.0 - share + novel / orders) / 2.0

    def _learn_bin(self, s: _Sensor, b: int) -> None:
        hist = tuple(s.history)
        table = s.contexts
        for k in range(1, len(hist) + 1):
            left = hist[-k:]
            succ = table.get(left)
            if succ is None:
                table[left] = {b}
                if len(table) > self.max_contexts:
                    table.popitem(last=False)
            else:
                succ.add(b)
                table.move_to_end(left)
        s.history.append(b)

    def _start(self, s: _Sensor) -> None:
        """End of warm-up: fix the range and replay the warm-up readings through the learner."""
        lo, hi = min(s.warm), max(s.warm)
        span = hi - lo
        s.lo = lo
        s.width = span / self.bins if span > 0 else max(abs(lo) * 1e-3, 1e-9)
        for v in s.warm:
            self._learn_bin(s, self._bin(s, v))
        s.warm = []

    # -- river-style API -----------------------------------------------------------------
    def score_one(self, x: float, t: float | None = None, key: Hashable = DEFAULT_KEY) -> float:
        """Score one reading from the current state (learns nothing; ``t`` is not used)."""
        s = self.sensors_.get(key)
        if s is None or s.seen < s.warmup or not math.isfinite(x):
            return 0.0
        raw = self._raw(s, self._bin(s, x))
        return 0.0 if s.seen - s.last_high <= self.rest else raw

    def _score_learn_warm(self, s: _Sensor, x: float) -> float:
        b = self._bin(s, x)
        raw = self._raw(s, b)
        score = 0.0 if s.seen - s.last_high <= self.rest else raw
        if raw >= self.base_threshold:
            s.last_high = s.seen
        self._learn_bin(s, b)
        s.seen += 1
        return score

    def ready(self, key: Hashable = DEFAULT_KEY) -> bool:
        """Whether the sensor's warm-up is over (its scores mean something)."""
        s = self.sensors_.get(key)
        return s is not None and s.seen >= s.warmup

    @property
    def n_sensors_(self) -> int:
        return len(self.sensors_)

    def n_contexts(self, key: Hashable = DEFAULT_KEY) -> int:
        """Contexts held for one sensor (never above ``max_contexts``)."""
        s = self.sensors_.get(key)
        return 0 if s is None else len(s.contexts)


class EnsembleAnomalyDetector(Detector):
    """Streaming residual detector, damped where the learned contexts foresaw the reading.

    ``score = streaming × (veto_damping if contextual_raw < veto_below else 1)``, the contextual
    detector run without suppression (its raw score); before its warm-up ends there is no veto.
    With a ``resonance`` detector the score is
    ``max(residual_gain × score, resonance_gain × resonance score)``.
    With a ``recurrence`` mask (and timestamps) a score that already occurred at the same time of
    day on one of the last days is silenced (``DailyRecurrenceMask``).
    Memory per sensor: the streaming detector's fixed state + the contextual table's cap (+ the
    resonance detector's category cap).

    Example: a daily swing sampled every minute with one reading of 40 at row 1200.

    >>> import math
    >>> det = EnsembleAnomalyDetector(warmup=200)
    >>> x = [20.0 + math.sin(2 * math.pi * i / 96) for i in range(1500)]
    >>> x[1200] = 40.0
    >>> scores = det.score_series(x, [60.0 * i for i in range(1500)], key="ahu")
    >>> [i for i, s in enumerate(scores) if s > 0.5]
    [1200]
    """

    def __init__(self, bins: int = 16, max_order: int = 7, max_contexts: int = 4096, warmup: int = 750,
                 veto_below: float = 0.6, veto_damping: float = 0.3,
                 streaming: StreamingAnomalyDetector | None = None,
                 resonance: PerSensorDetector | None = None, resonance_gain: float = 0.3,
                 recurrence: DailyRecurrenceMask | None = None, residual_gain: float = 1.0) -> None:
        if not 0.0 < resonance_gain <= 1.0 or not 0.0 < residual_gain <= 1.0:
            raise ValueError("resonance_gain and residual_gain must be in (0, 1]")
        self.streaming = streaming if streaming is not None else StreamingAnomalyDetector()
        self.contextual = ContextualAnomalyDetector(bins=bins, max_order=max_order, max_contexts=max_contexts,
                                                    warmup=warmup, rest=0)
        self.veto_below = veto_below
        self.veto_damping = veto_damping
        self.resonance = resonance
        self.resonance_gain = resonance_gain
        self.residual_gain = residual_gain
        self.recurrence = recurrence

    def set_warmup(self, key: Hashable, warmup: int) -> None:
        """One sensor's warm-up for the contextual (and resonance) parts, before its first reading."""
        self.contextual.set_warmup(key, warmup)
        if self.resonance is not None:
            self.resonance.set_warmup(key, warmup)

    def forget(self, key: Hashable) -> None:
        """Drop one sensor's state in every part (the alert rule calls this when the sensor index
        may now mean another sensor); its next readings start a fresh warm-up."""
        self.streaming.forget(key)
        self.contextual.forget(key)
        if self.resonance is not None:
            self.resonance.forget(key)
        if self.recurrence is not None:
            self.recurrence.forget(key)

    def score_many(self, keys: Sequence[Hashable], values: Sequence[float] | FloatArray,
                   timestamps: Sequence[float] | FloatArray | None = None) -> FloatArray:
        """Score then learn a batch of readings of any sensors, in the order given (readings of
        one sensor in time order; any mix of sensors, as a live ingest batch has)."""
        x = np.asarray(values, dtype=np.float64)
        base = self.streaming.score_many(keys, x, timestamps)
        ctx = self.contextual
        factor = np.ones(len(x))
        for i, (k, v) in enumerate(zip(keys, x)):
            was_ready = ctx.ready(k)
            raw = ctx.score_learn_one(float(v), None, k)
            if was_ready and raw < self.veto_below:
                factor[i] = self.veto_damping
        out = base * factor * self.residual_gain
        if self.resonance is not None:
            out = np.maximum(out, self.resonance_gain * self.resonance.score_many(keys, x))
        if self.recurrence is not None and timestamps is not None:
            out = self.recurrence.mask_many(keys, out, np.asarray(timestamps, dtype=np.float64))
        return np.asarray(out, dtype=np.float64)

    def score_learn_one(self, x: float, t: float | None = None, key: Hashable = DEFAULT_KEY) -> float:
        """Score one reading, then learn it."""
        return float(self.score_many([key], [x], None if t is None else [t])[0])

    def score_one(self, x: float, t: float | None = None, key: Hashable = DEFAULT_KEY) -> float:
        """Score one reading from every part's current state, learning nothing (the score
        ``score_learn_one`` would give it)."""
        out = self.streaming.score_one(x, t, key)
        ctx = self.contextual
        if ctx.ready(key) and ctx.score_one(x, t, key) < self.veto_below:
            out *= self.veto_damping
        out *= self.residual_gain
        if self.resonance is not None:
            out = max(out, self.resonance_gain * self.resonance.score_one(x, t, key))
        if self.recurrence is not None and t is not None:
            out = self.recurrence.peek_one(out, t, key)
        return out


@dataclass(eq=False)
class DailyRecurrenceMask:
    """Silences an anomaly score that already happened at the same time of day on a recent day.

    A sensor whose load spikes every day at 02:00 (a backup, a batch job, a daily test pattern) is
    surprising to every per-reading detector the first time and *old news* after that: what
    recurs at the same time of day is routine, however large (ARTime's "masking" of repeated
    novelties, applied to the time axis). A reading's score is kept unless an earlier reading of
    the same sensor, ``k`` periods ago (``k = 1 .. days``) within ``± tolerance_s``, scored at
    least as high; then it is multiplied by ``damping`` (0: dropped). The comparison uses the
    unmasked scores, and only scores above ``floor`` are remembered (a few per thousand readings on
    NAB), in a per-sensor log of at most ``max_events`` entries older ones leave first, so memory
    is bounded. Causal: only earlier readings are consulted.

    A score at the ceiling (``>= ceiling``, 0.999) is never masked: "at least as high" means
    nothing between two saturated scores, and a reading as far out as a detector can say is not
    routine because an earlier one was too (on the NAB files the tuning never saw, masking 1.0
    after an earlier 1.0 deleted four labelled anomalies; docs/analytics.md).

    ``ratio`` (default 1) relaxes "at least as high" to "at least ``ratio`` × as high": with
    ``ratio`` < 1 a daily event that grows slowly from day to day stays masked. Measured on NAB
    (docs/analytics.md): 0.92 gains in sample but only +0.1 out of sample, so the default stays 1.

    Example: 0.8 a day after 0.9 at the same hour is routine; 0.95 the next day is not.

    >>> mask = DailyRecurrenceMask()
    >>> [mask.mask_one(score, t, key="k") for score, t in ((0.9, 3600.0), (0.8, 90000.0), (0.95, 176500.0))]
    [0.9, 0.0, 0.95]
    """

    period_s: float = 86400.0
    tolerance_s: float = 7200.0
    days: int = 3
    damping: float = 0.0
    floor: float = 0.05
    max_events: int = 4096
    ratio: float = 1.0
    ceiling: float = 0.999
    events_: dict[Hashable, deque[tuple[float, float]]] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.period_s <= 0 or self.tolerance_s < 0 or 2 * self.tolerance_s >= self.period_s or self.days < 1:
            raise ValueError("need period_s > 0, 0 <= tolerance_s < period_s / 2 and days >= 1")
        if not 0.0 < self.ratio <= 1.0:
            raise ValueError("need 0 < ratio <= 1")
        if not 0.0 <= self.damping < 1.0 or self.floor < 0 or self.max_events < 1:
            raise ValueError("need 0 <= damping < 1, floor >= 0 and max_events >= 1")

    def _recurs(self, log: deque[tuple[float, float]], t: float, score: float) -> bool:
        score *= self.ratio
        for k in range(1, self.days + 1):
            lo = t - k * self.period_s - self.tolerance_s
            hi = t - k * self.period_s + self.tolerance_s
            for et, es in log:
                if lo <= et <= hi and es >= score:
                    return True
        return False

    def peek_one(self, score: float, t: float, key: Hashable = DEFAULT_KEY) -> float:
        """The reading's score after masking, remembering nothing."""
        if score <= self.floor or not math.isfinite(t):
            return score
        log = self.events_.get(key)
        routine = log is not None and score < self.ceiling and self._recurs(log, t, score)
        return score * self.damping if routine else score

    def mask_one(self, score: float, t: float, key: Hashable = DEFAULT_KEY) -> float:
        """The reading's score after masking; remembers the unmasked score."""
        if score <= self.floor or not math.isfinite(t):
            return score
        log = self.events_.get(key)
        if log is None:
            log = self.events_[key] = deque(maxlen=self.max_events)
        horizon = t - self.days * self.period_s - self.tolerance_s
        while log and log[0][0] < horizon:
            log.popleft()
        routine = score < self.ceiling and self._recurs(log, t, score)
        out = score * self.damping if routine else score
        log.append((t, score))
        return out

    def mask_many(self, keys: Sequence[Hashable], scores: FloatArray, timestamps: FloatArray) -> FloatArray:
        """Mask a batch of scores of any sensors, in the order given."""
        out = np.array(scores, dtype=np.float64)
        for i in np.flatnonzero(out > self.floor):
            out[i] = self.mask_one(float(out[i]), float(timestamps[i]), keys[int(i)])
        return out

    def forget(self, key: Hashable) -> None:
        """Drop one sensor's log."""
        self.events_.pop(key, None)


def nab_probation(n_rows: int) -> int:
    """NAB's probationary length of a file: 15 % of its rows, at most 750 (0.15 x 5000)."""
    return max(2, min(math.floor(0.15 * n_rows), 750))
