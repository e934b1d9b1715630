"""Alarm-rate metrics (ISA-18.2 / EEMUA 191 style) and flood detection.

- activations per 10 minutes (ISA-18.2's headline figure: ~1 is manageable, more than 10 is a
  flood);
- chattering alarms: points that activated ``chatter_count`` times within ``chatter_window_s``
  during the last 10 minutes;
- flood: more than ``flood_threshold`` activations within ``flood_window_s``; it ends when the
  count falls to half the threshold (hysteresis, so a flood does not flap).
"""
from __future__ import annotations

from bisect import bisect_left, insort
from collections import OrderedDict, deque
from collections.abc import Hashable

RATE_WINDOW_S = 600.0
# Points kept for chatter detection before the stale ones (no activation for 10 minutes) go.
MAX_IDLE_POINTS = 1000


class AlarmRates:
    """Activation counts over sliding windows, in O(1) amortised per activation and O(log n)
    per count (a full rescan of every activation in the window made an alarm flood slower
    the bigger it got: 0.45 s -> 4.7 s per 5,000-reading batch at 2.5k -> 40k alarms).

    Activations live twice: in arrival order (``_times``, trimmed from the left exactly as
    before, so the counts are those of a rescan) and sorted by time (``_sorted`` from index
    ``_head``), where a count is one binary search. With a clock that never goes back, both
    orders are the same and every operation is an append or a moving edge; an activation
    stamped earlier than the last one (the clock stepped back) is inserted in place.
    """

    def __init__(self, flood_threshold: int, flood_window_s: float, chatter_count: int, chatter_window_s: float):
        self.flood_threshold = flood_threshold
        self.flood_window_s = flood_window_s
        self.chatter_count = chatter_count
        self.chatter_window_s = chatter_window_s
        self._times: deque[float] = deque()                  # every activation, in arrival order
        self._sorted: list[float] = []                       # the same activations, by time, from _head
        self._head = 0
        # last few activations of each point, least recently activated first
        self._per_point: OrderedDict[Hashable, deque[float]] = OrderedDict()
        self.flood = False
        self.flood_since: float | None = None
        self.floods = 0

    def record(self, point: Hashable, now: float) -> None:
        self._times.append(now)
        if len(self._sorted) == self._head or now >= self._sorted[-1]:
            self._sorted.append(now)
        else:
            insort(self._sorted, now, lo=self._head)
        times = self._per_point.get(point)
        if times is None:
            times = self._per_point[point] = deque(maxlen=self.chatter_count)
        else:
            self._per_point.move_to_end(point)
        times.append(now)
        self.update_flood(now)

    def _trim(self, now: float) -> None:
        horizon = now - max(RATE_WINDOW_S, self.flood_window_s)
        times, ordered = self._times, self._sorted
        while times and times[0] < horizon:
            old = times.popleft()
            if ordered[self._head] == old:
                self._head += 1
            else:  # the clock stepped back at some point: this one is not the oldest
                del ordered[bisect_left(ordered, old, self._head)]
        if self._head > 1024 and self._head * 2 > len(ordered):
            del ordered[:self._head]
            self._head = 0
        if len(self._per_point) > MAX_IDLE_POINTS:
            cutoff = now - RATE_WINDOW_S
            # Least recently activated first: the stale points are at the front.
            while self._per_point and next(iter(self._per_point.values()))[-1] < cutoff:
                self._per_point.popitem(last=False)

    def count(self, now: float, window_s: float) -> int:
        """Activations at or after ``now - window_s`` (among those of the last 10 minutes, or
        of the flood window when it is longer)."""
        self._trim(now)
        return len(self._sorted) - bisect_left(self._sorted, now - window_s, self._head)

    def update_flood(self, now: float) -> bool:
        """Re-evaluate the flood state; returns True when it changed."""
        count = self.count(now, self.flood_window_s)
        if not self.flood and count > self.flood_threshold:
            self.flood, self.flood_since = True, now
            self.floods += 1
            return True
        if self.flood and count <= self.flood_threshold // 2:
            self.flood, self.flood_since = False, None
            return True
        return False

    def chattering(self, now: float) -> int:
        return sum(1 for t in self._per_point.values()
                   if len(t) == self.chatter_count and t[-1] >= now - RATE_WINDOW_S
                   and t[-1] - t[0] <= self.chatter_window_s)


class RescanRates(AlarmRates):
    """The accounting before issue 15.3, kept as the reference definition: every activation is
    kept in arrival order, trimmed from the left, and every count rescans the window. The
    property test checks ``AlarmRates`` against it; ``benchmarks/alarm_flood.py --reference``
    times it. Flood hysteresis and chatter are ``AlarmRates``' own (only the counting differs)."""

    def record(self, point: Hashable, now: float) -> None:
        self._times.append(now)
        times = self._per_point.get(point)
        if times is None:
            times = self._per_point[point] = deque(maxlen=self.chatter_count)
        times.append(now)
        self.update_flood(now)

    def _trim(self, now: float) -> None:
        horizon = now - max(RATE_WINDOW_S, self.flood_window_s)
        while self._times and self._times[0] < horizon:
            self._times.popleft()
        if len(self._per_point) > MAX_IDLE_POINTS:
            for point in [p for p, t in self._per_point.items() if t[-1] < now - RATE_WINDOW_S]:
                del self._per_point[point]

    def count(self, now: float, window_s: float) -> int:
        self._trim(now)
        start = now - window_s
        return sum(1 for t in self._times if t >= start)
