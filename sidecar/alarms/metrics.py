"""Alarm-rate metrics (ISA-18.2 / EEMUA 191 style) and flood detection.

- activations per 10 minutes (ISA-18.2's headline figure: ~1 is manageable, more than 10 is a
  flood);
- chattering alarms: points that activated ``chatter_count`` times within ``chatter_window_s``
  during the last 10 minutes;
- flood: more than ``flood_threshold`` activations within ``flood_window_s``; it ends when the
  count falls to half the threshold (hysteresis, so a flood does not flap).
"""
from __future__ import annotations

from collections import deque
from collections.abc import Hashable

RATE_WINDOW_S = 600.0


class AlarmRates:
    def __init__(self, flood_threshold: int, flood_window_s: float, chatter_count: int, chatter_window_s: float):
        self.flood_threshold = flood_threshold
        self.flood_window_s = flood_window_s
        self.chatter_count = chatter_count
        self.chatter_window_s = chatter_window_s
        self._times: deque[float] = deque()                  # every activation, oldest first
        self._per_point: dict[Hashable, deque[float]] = {}   # last few activations of each point
        self.flood = False
        self.flood_since: float | None = None
        self.floods = 0

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
        if len(self._per_point) > 1000:
            for point in [p for p, t in self._per_point.items() if t[-1] < now - RATE_WINDOW_S]:
                del self._per_point[point]

    def count(self, now: float, window_s: float) -> int:
        self._trim(now)
        start = now - window_s
        return sum(1 for t in self._times if t >= start)

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
