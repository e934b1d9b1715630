"""``Backoff``: the one retry pacing of the sidecar (sources, their runner, cloud connectors)."""
from __future__ import annotations

import asyncio
import random


class Backoff:
    """Exponential back-off, ``minimum_s`` doubling up to ``maximum_s``, with +-``jitter``
    (a fraction) so that many peers that failed together do not retry together.

    ``maximum_s`` is the longest wait, jitter included: it is what bounds how late a peer notices
    that its link is back (``backoff_max_s`` of a cloud connector). At the cap the jitter only
    shortens the wait, in [(1 - jitter) * maximum_s, maximum_s], so peers stay spread."""

    def __init__(self, minimum_s: float = 0.5, maximum_s: float = 30.0, jitter: float = 0.2,
                 rng: random.Random | None = None):
        self.minimum_s = minimum_s
        self.maximum_s = max(minimum_s, maximum_s)
        self.jitter = jitter
        self.failures = 0          # delays handed out since the last reset
        self._rng = rng or random.Random()

    def reset(self) -> None:
        self.failures = 0

    def next_delay(self) -> float:
        delay = min(self.maximum_s, self.minimum_s * 2.0 ** min(self.failures, 40))
        self.failures += 1
        if self.jitter:
            delay = self._rng.uniform(delay * (1.0 - self.jitter), min(self.maximum_s, delay * (1.0 + self.jitter)))
        return delay

    async def sleep(self) -> None:
        await asyncio.sleep(self.next_delay())
