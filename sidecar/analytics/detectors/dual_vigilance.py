"""Dual-vigilance adaptive-resonance novelty detection with self-tuning vigilance.

The method of ARTime (Hampton, NAB 2021; described in its NAB submission and README), written
independently for this project and made causal. Where ``resonance.py`` clusters raw window shapes
at one fixed vigilance, this detector follows ARTime's ideas that made it NAB's best detector:

* **Time scale from the file.** A sensor's warm-up (NAB's probationary period in ``detect``) is
  cut into about ``windows_per_warmup`` feature windows of ``window`` points; the series is
  downsampled to one point per ``step = warmup // (window * windows_per_warmup)`` readings, so a
  window spans the same fraction of the warm-up whatever the sampling rate.
* **Spike-preserving downsampling.** A block is summarised by its mean, unless its extreme (the
  one farther from the running level) lies more than ``spike_fraction`` of the level away: a
  one-reading spike survives the downsampling.
* **Levels.** Values are scaled by the warm-up range (causal: ARTime is handed the whole file's
  minimum and maximum by NAB's runner, which is look-ahead; here the warm-up range fills the middle
  of [0, 1] with ``margin`` on either side), quantised to ``levels`` steps and snapped to the
  running median level when within ``chomp`` of it, so small noise around the usual level does
  not create new shapes. A value beyond the range so far widens it to take the value (``grow``)
  and the state is re-expressed in the new range: the bank's boxes of raw values, the recent
  levels and the median's histogram stay what they were in the sensor's units (without ``grow``
  such values are clipped to the edge).
* **Features.** The last ``window`` levels (where the series is) and their Haar wavelet transform
  after min-max scaling (what shape it has, independent of level; details are second minus first,
  the convention of Wavelets.jl that ARTime's features use), complement coded.
* **Dual-vigilance fuzzy ART.** Match of a category ``w`` with input ``I``: fuzzy subsethood
  ``|I ∧ w| / |w|`` cubed, times the squared match of the newest level alone (recent level
  weighs heavily). Categories matching at or above the upper vigilance resonate and learn
  (``w <- I ∧ w``); a best match between the lower and upper vigilance opens a new category of a
  known cluster (a variant of a known shape: not a novelty); below the lower vigilance the input
  opens a new cluster: a novelty. The universal box (the category of an empty bank, match 1/32)
  is the floor of every best match.
* **Self-tuning vigilance.** The starting vigilance is the typical best match of the warm-up
  windows in a scratch bank; afterwards, every half warm-up (and shortly after each novelty) the
  upper vigilance follows the mean best match and the lower one rises towards the lowest recent
  match (slowly) or falls by the typical recent shortfall, never below the matches of past
  novelties. A noisy sensor thus earns a tolerant vigilance, a clean one a strict one.
* **Masking and confidence.** After a novelty or a vigilance change, further novelties are
  masked until the bank has been stable for ``mask`` steps, unless the match falls clearly below
  the last reported novelty's. A reported novelty's score grows with its distance below both
  vigilances and with the mismatch of the newest level; everything else scores 0.

**Same method, same scores.** Handed the whole file's minimum and maximum, as NAB's runner hands
them to ARTime, this detector reproduces ARTime's published NAB result files row for row on 16 of
the 58 files, those where ARTime's approximate running median, its signed spike rule and its
even-length probation make no difference (two of them are test fixtures), and scores 75.10 on the
corpus against ARTime's 74.85. That range is look-ahead;
``detect`` and the live pipeline use the causal warm-up range (``benchmarks/ml/nab_vigilance.py``
measures what the difference costs).

Per sensor the bank is capped at ``max_categories`` categories (least recently resonating
replaced): at the cap 1,024 × 32 floats, 256 KB. Scores depend only on earlier readings and on the
warm-up length, never on later readings.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from .base import DEFAULT_KEY, FloatArray, PerSensorDetector

# The match of any complement-coded input with the universal box [0, 1]^d, the category of a bank
# that knows nothing and the floor of every best match: subsethood 1/2 cubed times the newest
# level's 1/2 squared.
EMPTY_BANK_MATCH = 0.5 ** 3 * 0.5 ** 2


def haar(v: FloatArray) -> FloatArray:
    """Full orthonormal Haar decomposition of a power-of-two-long vector (coarsest first)."""
    out = np.empty_like(v)
    a = v
    end = len(v)
    while len(a) > 1:
        pairs = a.reshape(-1, 2)
        half = len(a) // 2
        out[end - half:end] = (pairs[:, 1] - pairs[:, 0]) / math.sqrt(2.0)
        a = (pairs[:, 0] + pairs[:, 1]) / math.sqrt(2.0)
        end -= half
    out[0] = a[0]
    return out


def _unit(v: FloatArray) -> FloatArray:
    """Min-max scale to [0, 1] (a constant vector becomes zeros)."""
    v = v - v.min()
    top = v.max()
    return v / top if top > 0 else v


@dataclass
class _Sensor:
    """One sensor's bounded state."""

    warmup: int
    step: int = 1
    seen: int = 0
    warm: list[float] = field(default_factory=list)
    lo: float = 0.0
    span: float = 1.0
    block: list[float] = field(default_factory=list)
    level_avg: float = math.nan  # running level of block means (for the spike rule)
    counts: npt.NDArray[np.int64] = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    levels: deque[float] = field(default_factory=deque)  # last `window` levels
    n_ds: int = 0  # downsampled points so far
    # category bank
    weights: FloatArray = field(default_factory=lambda: np.zeros((0, 0)))
    used: FloatArray = field(default_factory=lambda: np.zeros(0))
    n_cat: int = 0
    # vigilance
    rho_lb: float = 0.8
    rho_ub: float = 0.8
    match_sum: float = 0.0
    match_n: int = 0
    trend: int = 2
    recent_match: deque[float] = field(default_factory=deque)
    shortfall: deque[float] = field(default_factory=deque)
    last_update: int = 0
    # masking
    last_novel: int = -(10 ** 9)
    last_novel_match: float = 0.0  # match of the last reported novelty when it was reported
    novel_low: float = 0.0  # lowest match during the last reported novelty's mask window
    novel_count: int = 0  # reported novelties, and the sum of their (lowest) matches
    novel_match_sum: float = 0.0
    masked: bool = False
    stable: int = 0  # downsampled points since the last new cluster


class DualVigilanceDetector(PerSensorDetector):
    """Self-tuning dual-vigilance fuzzy-ART novelty detector for any number of sensors (keys).

    Parameters
    ----------
    window:
        Points per feature window (a power of two, for the Haar transform).
    windows_per_warmup:
        Sets the time scale: ``step = warmup // (window * windows_per_warmup)`` readings per point.
    levels, chomp:
        Quantisation steps over [0, 1] and the distance to the running median level under which a
        level is snapped to it.
    margin:
        Share of [0, 1] left on either side of the warm-up range for later excursions.
    spike_fraction:
        An extreme farther than this fraction of the level from a block's mean replaces the mean.
    initial_vigilance:
        Vigilance of the scratch bank that sets the starting vigilance from the warm-up.
    max_vigilance:
        Cap of the upper vigilance.
    mask:
        Downsampled points of masking after a novelty (default ``1.5 × window``).
    max_categories:
        Cap of the per-sensor bank (least recently resonating replaced).
    warmup:
        Readings that fix the range and the starting vigilance and train the bank, scored 0.

    Example: a chiller's cycle of 64 readings that stays flat for one cycle from row 1000; the
    novelty is reported once, a few readings in (one point per ``416 // 104 = 4`` readings).

    >>> import math
    >>> det = DualVigilanceDetector(warmup=416)
    >>> x = [0.0 if 1000 <= i < 1064 else math.sin(2 * math.pi * i / 64) for i in range(1500)]
    >>> scores = det.score_series(x, key="chiller")
    >>> [(i, round(float(s), 3)) for i, s in enumerate(scores) if s > 0]
    [(1003, 0.817)]
    """

    def __init__(self, window: int = 8, windows_per_warmup: int = 13, levels: int = 80, chomp: float = 0.075,
                 margin: float = 0.15, spike_fraction: float = 0.1, initial_vigilance: float = 0.8,
                 max_vigilance: float = 0.97, mask: int | None = None, max_categories: int = 1024,
                 warmup: int = 750, grow: bool = True) -> None:
        if window < 2 or window & (window - 1):
            raise ValueError("window must be a power of two >= 2")
        if windows_per_warmup < 1 or levels < 2 or not 0.0 <= chomp < 0.5 or not 0.0 <= margin < 0.5:
            raise ValueError("need windows_per_warmup >= 1, levels >= 2, 0 <= chomp < 0.5, 0 <= margin < 0.5")
        if not 0.0 < initial_vigilance < 1.0 or not 0.0 < max_vigilance <= 1.0 or spike_fraction < 0:
            raise ValueError("need 0 < initial_vigilance < 1, 0 < max_vigilance <= 1, spike_fraction >= 0")
        if max_categories < 2 or warmup < 2:
            raise ValueError("need max_categories >= 2 and warmup >= 2")
        self.window = window
        self.windows_per_warmup = windows_per_warmup
        self.levels = levels
        self.chomp = chomp
        self.margin = margin
        self.spike_fraction = spike_fraction
        self.initial_vigilance = initial_vigilance
        self.max_vigilance = max_vigilance
        self.mask = mask if mask is not None else (3 * window) // 2
        self.max_categories = max_categories
        self.warmup = warmup
        self.grow = grow
        self.sensors_: dict[Hashable, _Sensor] = {}

    # -- set-up ----------------------------------------------------------------------------
    def _new_sensor(self) -> _Sensor:
        return _Sensor(warmup=self.warmup)

    def _start(self, s: _Sensor) -> None:
        """Warm-up complete: fix range and time scale, set the vigilance, train the bank."""
        warm = s.warm
        s.warm = []
        lo, hi = self._value_range(warm)
        s.span = (hi - lo) if hi > lo else max(abs(lo) * 1e-3, 1e-9)
        s.span /= 1.0 - 2.0 * self.margin
        s.lo = lo - self.margin * s.span
        s.step = max(1, s.warmup // (self.window * self.windows_per_warmup))
        s.trend = max(2, s.warmup // s.step)
        s.counts = np.zeros(self.levels + 1, dtype=np.int64)
        s.levels = deque(maxlen=self.window)
        s.recent_match = deque(maxlen=s.trend // 2 + 1)
        s.shortfall = deque(maxlen=s.trend + 1)
        dim = 4 * self.window  # 2 × window features, complement coded
        s.weights = np.zeros((self.max_categories, dim))
        s.used = np.zeros(self.max_categories)
        # the mean match starts from the window - 1 downsampled points before the first full
        # window, which ARTime presents with empty features and counts: the first at 0, the rest
        # at the empty bank's match; this keeps the upper vigilance a little below the typical
        # match early in a file
        s.match_n = self.window - 1
        s.match_sum = (self.window - 2) * EMPTY_BANK_MATCH
        feats = [f for f in (self._downsample(s, x) for x in warm) if f is not None]
        if feats:
            rho = self._initial_vigilance(np.asarray(feats), s.trend)
            s.rho_lb = s.rho_ub = rho
            for f in feats:
                self._present(s, f)  # warm-up trains the bank, never scores

    def _value_range(self, warm: list[float]) -> tuple[float, float]:
        """The values the middle of [0, 1] stands for: the warm-up's minimum and maximum."""
        return min(warm), max(warm)

    def _initial_vigilance(self, feats: FloatArray, trend: int) -> float:
        """Typical best match of the warm-up windows in a scratch bank, most atypical first.

        Typicality is a window's summed cosine similarity to the others (on the features before
        complement coding; an all-zero window has similarity ``1 - |other|``). As in ARTime, the
        most atypical window is not learnt (its presentation only sets up the empty bank, match 0),
        and the typical best match is the mean over the presentations from ``trend // 2`` on."""
        half = feats[:, :feats.shape[1] // 2]
        norm = np.linalg.norm(half, axis=1)
        empty = norm == 0
        unit = half / np.where(empty, 1.0, norm)[:, None]
        similarity = unit @ unit.T
        # an all-zero window (flat at the bottom of the range) is as similar to another window as
        # that window is small
        similarity[empty, :] = 1.0 - norm[None, :]
        similarity[:, empty] = 1.0 - norm[:, None]
        np.fill_diagonal(similarity, 1.0)
        order = np.argsort(similarity.sum(axis=1), kind="stable")
        scratch = _Sensor(warmup=2, rho_lb=self.initial_vigilance, rho_ub=self.initial_vigilance,
                          weights=np.zeros((len(feats), feats.shape[1])), used=np.zeros(len(feats)))
        best = [0.0] + [self._match_learn(scratch, feats[i])[0] for i in order[1:]]
        tail = best[max(0, trend // 2 - 1):]
        return float(np.mean(tail)) if tail else self.initial_vigilance

    # -- one downsampled point -------------------------------------------------------------
    def _downsample(self, s: _Sensor, x: float) -> FloatArray | None:
        """Add one reading; at the end of a block return the complement-coded features (or None)."""
        s.block.append(x)
        if len(s.block) < s.step:
            return None
        b = np.asarray(s.block)
        s.block = []
        mean = float(b.mean())
        s.level_avg = mean if math.isnan(s.level_avg) else 0.5 * (s.level_avg + mean)
        hi, lo = float(b.max()), float(b.min())
        ext = lo if abs(hi - s.level_avg) < abs(lo - s.level_avg) else hi
        v = ext if abs(ext - mean) >= self.spike_fraction * abs(mean) else mean
        if self.grow and not s.lo <= v <= s.lo + s.span:
            self._grow(s, v)
        a = min(max((v - s.lo) / s.span, 0.0), 1.0)
        level = round(a * self.levels)
        s.counts[level] += 1
        med = int(np.searchsorted(np.cumsum(s.counts), (s.n_ds + 2) // 2))
        q = level / self.levels
        if abs(q - med / self.levels) < self.chomp:
            q = med / self.levels
        s.levels.append(q)
        s.n_ds += 1
        if len(s.levels) < self.window:
            return None
        raw = np.asarray(s.levels)
        f = np.concatenate([_unit(haar(_unit(raw))), raw])
        return np.concatenate([f, 1.0 - f])

    def _grow(self, s: _Sensor, v: float) -> None:
        """Widen the range to take ``v`` and re-express the state in it.

        The map from old to new [0, 1] units is increasing and affine, so the fuzzy-ART hyperboxes
        (element-wise minima of levels and of their complements) map exactly; the Haar half of the
        features is scale-free and unchanged."""
        lo, hi = min(s.lo, v), max(s.lo + s.span, v)
        k, b = s.span / (hi - lo), (s.lo - lo) / (hi - lo)
        s.lo, s.span = lo, hi - lo
        w = self.window
        if s.n_cat:
            bank = s.weights[:s.n_cat]
            bank[:, w:2 * w] = bank[:, w:2 * w] * k + b
            bank[:, 3 * w:] = 1.0 - ((1.0 - bank[:, 3 * w:]) * k + b)
        s.levels = deque((q * k + b for q in s.levels), maxlen=w)
        moved = np.rint((np.arange(self.levels + 1) / self.levels * k + b) * self.levels).astype(np.int64)
        counts = np.zeros_like(s.counts)
        np.add.at(counts, np.clip(moved, 0, self.levels), s.counts)
        s.counts = counts

    def _match_learn(self, s: _Sensor, f: FloatArray) -> tuple[float, float, int]:
        """Present ``f`` and learn it: (best match, its newest-level match, 0 resonated / 1 new category /
        2 new cluster = novelty)."""
        n = s.n_cat
        if n == 0:
            self._commit(s, f)
            return EMPTY_BANK_MATCH, 0.5, 2
        w = s.weights[:n]
        both = np.minimum(f, w)
        w_sum = w.sum(axis=1)
        w_sum[w_sum == 0] = 1e-3
        half = len(f) // 2
        newest = (both[:, half - 1] + both[:, -1]) / (w[:, half - 1] + w[:, -1])
        match = (both.sum(axis=1) / w_sum) ** 3 * newest ** 2
        j = int(np.argmax(match))
        best, best_newest = float(match[j]), float(newest[j])
        if best >= s.rho_ub:
            hit = match >= s.rho_ub
            w[hit] = both[hit]
            s.used[:n][hit] = s.n_ds
            return best, best_newest, 0
        if best < EMPTY_BANK_MATCH:  # the universal box (never learning) is the best match
            best, best_newest = EMPTY_BANK_MATCH, 0.5
        self._commit(s, f)
        return best, best_newest, 1 if best >= s.rho_lb else 2

    def _commit(self, s: _Sensor, f: FloatArray) -> None:
        if s.n_cat < len(s.weights):
            j = s.n_cat
            s.n_cat += 1
        else:
            j = int(np.argmin(s.used))
        s.weights[j] = f
        s.used[j] = s.n_ds

    def _present(self, s: _Sensor, f: FloatArray) -> float:
        """Present one feature vector after the warm-up bookkeeping; return its score."""
        i = s.n_ds
        since = i - s.last_novel
        if s.masked and i > s.trend + self.mask and s.stable >= self.mask:
            s.masked = False
        best, newest, kind = self._match_learn(s, f)
        s.stable = 0 if kind == 2 else s.stable + 1
        s.match_sum += best
        s.match_n += 1
        s.recent_match.append(best)
        s.shortfall.append(s.rho_ub - best)
        if 0 < since < self.mask and s.novel_count and best < s.novel_low:
            s.novel_match_sum += best - s.novel_low
            s.novel_low = best
        score = 0.0
        if kind == 2 and s.seen > s.warmup:
            recently = since <= self.mask
            below = best < s.last_novel_match * (0.9 if recently else 0.7)
            if not (s.masked or recently) or below:
                score = self._confidence(s, best, newest)
                s.novel_count += 1
                s.novel_match_sum += best
                s.novel_low = best
                s.last_novel_match = best
                s.last_novel = i
        if kind == 2:
            s.masked = True
        if s.seen > s.warmup and (since == self.mask or i - s.last_update >= s.trend // 2):
            self._retune(s)
        return score

    def _retune(self, s: _Sensor) -> None:
        """Move the vigilances towards what this sensor's matches have been."""
        ub = min(self.max_vigilance, s.match_sum / max(s.match_n, 1))
        low = min(s.recent_match)
        lb = s.rho_lb
        if lb <= low:
            lb += 0.19 * (low - lb)
        else:
            gaps = [min(0.37, g) for g in s.shortfall if g > 0.05] if s.n_ds > 2 * s.trend else []
            lb -= max(0.01, float(np.mean(gaps)) if gaps else 0.0) / 2.0
            if s.novel_count:
                lb = max(lb, s.novel_match_sum / s.novel_count)
        s.rho_ub = ub
        s.rho_lb = min(lb, ub)
        s.last_update = s.n_ds
        s.masked = True

    def _confidence(self, s: _Sensor, best: float, newest: float) -> float:
        """Score of a reported novelty: distance below both vigilances and newest-level mismatch."""
        gap = 1.0 - min(best, 0.999)
        above_ub = (s.rho_ub - best) / gap
        above_lb = (s.rho_lb - best) / gap
        return float(min(1.0, max(0.0, 0.35 * above_ub + 0.65 * above_lb + 1.5 * (1.0 - newest))))

    # -- river-style API -------------------------------------------------------------------
    def _score_learn_warm(self, s: _Sensor, x: float) -> float:
        s.seen += 1
        f = self._downsample(s, x)
        return 0.0 if f is None else self._present(s, f)

    def n_categories(self, key: Hashable = DEFAULT_KEY) -> int:
        """Categories held for one sensor (never above ``max_categories``)."""
        s = self.sensors_.get(key)
        return 0 if s is None else s.n_cat
