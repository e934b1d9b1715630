"""Checks shared by the per-detector tests (a unique module name: test folders are on sys.path)."""
from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from sidecar.analytics.detectors.base import Detector


def daily(n: int, seed: int = 0, period: int = 96) -> np.ndarray:
    """A square daily pattern (``period`` readings a day, high from 3/8 to 3/4 of it) with a little noise."""
    rng = np.random.default_rng(seed)
    phase = np.arange(n) % period
    return np.where((phase >= period * 3 // 8) & (phase < period * 3 // 4), 80.0, 20.0) + rng.normal(0, 0.5, n)


def changed_from(x: np.ndarray, cut: int, seed: int, spread: float) -> np.ndarray:
    """``x`` with every row from ``cut`` on replaced by noise around 50."""
    y = x.copy()
    y[cut:] = np.random.default_rng(seed + 1).normal(50, spread, len(x) - cut)
    return y


def assert_same_scores_before(cut: int, make: Callable[[], Detector], x: np.ndarray, y: np.ndarray,
                              t: np.ndarray | None = None) -> None:
    """Two fresh detectors score ``x`` and ``y`` (equal before ``cut``) the same before ``cut``."""
    a = make().score_series(x, t)
    b = make().score_series(y, t)
    np.testing.assert_array_equal(a[:cut], b[:cut])


def assert_warmup_fixed_once_seen(det: Detector) -> None:
    """After one reading a sensor's warm-up can no longer be set; a NaN reading scores 0."""
    det.learn_one(1.0, key="a")
    with pytest.raises(ValueError, match="already seen"):
        det.set_warmup("a", 10)  # type: ignore[attr-defined]
    assert det.score_learn_one(float("nan"), key="a") == 0.0
