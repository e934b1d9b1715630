"""Adaptive-resonance novelty detection: online clustering of recent-window shapes (ARTime's idea).

Written from the idea of ARTime (Hampton, NAB 2021: adaptive resonance theory over windows of a
time series; a window that resonates with no learned category is novel), not from its code.

Per sensor:

* **Range.** The first ``warmup`` readings fix the value range ``[lo, hi]``; every reading is
  mapped to ``0.25 + 0.5 (x - lo) / (hi - lo)`` clipped to [0, 1], so the warm-up range fills the
  middle half and excursions of up to half a range either side stay distinguishable (ARTime is
  given the file's min and max by NAB's runner, which is look-ahead; this is not).
* **Input.** The means of the last ``window`` blocks of ``block`` readings each (a coarse picture
  of the recent shape and level), complement coded (``[a, 1 - a]``) as fuzzy ART requires.
* **Fuzzy ART.** Categories are weight vectors ``w_j``; choice ``T_j = |I ∧ w_j| / (alpha + |w_j|)``,
  match ``M_j = |I ∧ w_j| / |I|`` (∧ = element-wise min, | | = sum). The best-chosen category with
  ``M_j >= vigilance`` resonates and learns ``w_j <- rate (I ∧ w_j) + (1 - rate) w_j``; when none
  resonates the input opens a new category. At most ``max_categories`` categories are kept (the
  least recently resonating one is replaced), so memory per sensor is bounded.
* **Score.** Opening a new category after the warm-up is a novelty: the score is
  ``min(1, (vigilance - best match) / (1 - vigilance))`` mapped into [0.5, 1] (how far the window
  is from everything seen), 0 otherwise. A novelty within ``rest`` readings of the previous one
  scores 0 unless it is farther from everything seen than the one that started the episode (one
  alarm per episode, but a spike during a shape change is still reported). The warm-up readings train the categories (replayed once the
  range is known) and score 0.

Scores depend only on earlier readings (and on the warm-up length), never on later ones.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np

from .base import DEFAULT_KEY, FloatArray, PerSensorDetector


@dataclass
class _Sensor:
    """One sensor's bounded state."""

    warmup: int
    seen: int = 0
    warm: list[float] = field(default_factory=list)
    lo: float = 0.0
    span: float = 1.0
    recent: deque[float] = field(default_factory=deque)  # last window * block normalised readings
    weights: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    last_used: FloatArray = field(default_factory=lambda: np.zeros(0))
    n_cat: int = 0
    last_novel: int = -(10 ** 9)
    episode_score: float = 0.0  # score of the novelty that started the current rest period


@dataclass(eq=False)
class ResonanceAnomalyDetector(PerSensorDetector):
    """Fuzzy-ART novelty detector for any number of sensors (keys), river style.

    Parameters
    ----------
    window, block:
        The input is the means of the last ``window`` blocks of ``block`` readings.
    vigilance:
        Match a window needs to join a category (higher: finer categories, more novelties).
    rate:
        Learning rate of a resonating category (1 = fast learning, the category shrinks to the
        element-wise minimum at once).
    alpha:
        Choice parameter (small: prefer categories that fit tightly).
    max_categories:
        Cap of the per-sensor category bank (least recently resonating replaced).
    warmup:
        Readings that fix the range and train the categories, scored 0.
    rest:
        Readings after a novelty during which further novelties score 0 unless they are farther
        from every category than the one that started the episode.

    Example: a pump on for 6 readings, off for 6; after five readings on, one more is the learnt
    shape, an early stop a new one.

    >>> det = ResonanceAnomalyDetector(window=3, block=2, warmup=48)
    >>> for i in range(400):
    ...     _ = det.learn_one(float(i % 12 < 6), key="pump")
    >>> det.score_one(1.0, key="pump"), round(det.score_one(0.0, key="pump"), 3)
    (0.0, 0.833)
    """

    window: int = 6
    block: int = 4
    vigilance: float = 0.9
    rate: float = 0.1
    alpha: float = 1e-3
    max_categories: int = 256
    warmup: int = 750
    rest: int = 100
    sensors_: dict[Hashable, _Sensor] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.window < 1 or self.block < 1 or not 0.0 < self.vigilance < 1.0 or not 0.0 < self.rate <= 1.0:
            raise ValueError("need window >= 1, block >= 1, 0 < vigilance < 1, 0 < rate <= 1")
        if self.alpha <= 0 or self.max_categories < 1 or self.warmup < 2 or self.rest < 0:
            raise ValueError("need alpha > 0, max_categories >= 1, warmup >= 2, rest >= 0")

    # -- per-sensor helpers --------------------------------------------------------------
    def _new_sensor(self) -> _Sensor:
        return _Sensor(warmup=self.warmup, recent=deque(maxlen=self.window * self.block),
                       weights=np.zeros((self.max_categories, 2 * self.window)),
                       last_used=np.zeros(self.max_categories))

    def _input(self, s: _Sensor, x: float) -> FloatArray | None:
        """Complement-coded input for the window ending at ``x`` (None until the window is full)."""
        a = min(max(0.25 + 0.5 * (x - s.lo) / s.span, 0.0), 1.0)
        s.recent.append(a)
        if len(s.recent) < s.recent.maxlen:  # type: ignore[operator]
            return None
        v = np.asarray(s.recent, dtype=np.float64)
        if self.block > 1:
            v = v.reshape(self.window, self.block).mean(axis=1)
        return np.concatenate([v, 1.0 - v])

    def _present(self, s: _Sensor, inp: FloatArray, clock: int) -> float:
        """Present one input to the category bank; return the best match if a new category was
        opened (a novelty), else -1."""
        n = s.n_cat
        if n:
            w = s.weights[:n]
            overlap = np.minimum(inp, w).sum(axis=1)
            match = overlap / self.window  # |I| = window for complement-coded input
            choice = overlap / (self.alpha + w.sum(axis=1))
            ok = match >= self.vigilance
            if ok.any():
                j = int(np.argmax(np.where(ok, choice, -1.0)))
                w[j] = self.rate * np.minimum(inp, w[j]) + (1.0 - self.rate) * w[j]
                s.last_used[j] = clock
                return -1.0
            best = float(match.max())
        else:
            best = 0.0
        if n < self.max_categories:
            j = n
            s.n_cat = n + 1
        else:
            j = int(np.argmin(s.last_used))
        s.weights[j] = inp
        s.last_used[j] = clock
        return best

    def _start(self, s: _Sensor) -> None:
        lo, hi = min(s.warm), max(s.warm)
        s.lo = lo
        s.span = hi - lo if hi > lo else max(abs(lo) * 1e-3, 1e-9)
        for i, v in enumerate(s.warm):
            inp = self._input(s, v)
            if inp is not None:
                self._present(s, inp, i)
        s.warm = []

    # -- river-style API -----------------------------------------------------------------
    def _score_learn_warm(self, s: _Sensor, x: float) -> float:
        inp = self._input(s, x)
        clock = s.seen
        s.seen += 1
        if inp is None:
            return 0.0
        best = self._present(s, inp, clock)
        if best < 0.0:
            return 0.0
        distance = (self.vigilance - best) / (1.0 - self.vigilance)
        score = 0.5 + 0.5 * min(1.0, max(distance, 0.0))
        in_rest = clock - s.last_novel <= self.rest
        s.last_novel = clock
        if in_rest and score <= s.episode_score:
            return 0.0
        s.episode_score = score
        return score

    def n_categories(self, key: Hashable = DEFAULT_KEY) -> int:
        """Categories held for one sensor (never above ``max_categories``)."""
        s = self.sensors_.get(key)
        return 0 if s is None else s.n_cat
