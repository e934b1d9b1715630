"""``RateMeter``: events per second over a sliding window (pipeline readings, cloud messages)."""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateMeter:
    """Counts per whole second in a deque; ``rate()`` is the count over the last ``window_s``
    seconds divided by the window. O(1) per ``add`` whatever the rate."""

    def __init__(self, window_s: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.window_s = window_s
        self.clock = clock
        self._buckets: deque[tuple[float, int]] = deque()

    def add(self, count: int) -> None:
        now = self.clock()
        bucket = float(int(now))
        if self._buckets and self._buckets[-1][0] == bucket:
            self._buckets[-1] = (bucket, self._buckets[-1][1] + count)
        else:
            self._buckets.append((bucket, count))
        self._trim(now)

    def _trim(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] <= now - self.window_s:
            self._buckets.popleft()

    def rate(self) -> float:
        self._trim(self.clock())
        return sum(count for _, count in self._buckets) / self.window_s
