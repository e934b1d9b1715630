"""Server-side downsampling for trend charts: equal-time buckets with min/max envelopes.

A week of 1-minute data is 10,080 points per sensor; a browser plots ~2,000 smoothly.
Each bucket gives its mean (the line), and its min and max (the band), so a spike
that lasted one minute still shows in a week-wide view, and zooming in re-fetches
the narrower range at full resolution.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

DEFAULT_MAX_POINTS = 2000


def envelope(ts: Sequence[float] | np.ndarray, values: Sequence[float] | np.ndarray,
             max_points: int = DEFAULT_MAX_POINTS) -> dict[str, list[float]]:
    """``{"ts", "value", "min", "max"}`` with at most ``max_points`` entries.

    ``ts`` must be sorted ascending (historians return it so). Non-finite values are dropped.
    """
    if max_points < 1:
        raise ValueError("max_points must be at least 1")
    t = np.asarray(ts, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    if t.shape != v.shape or t.ndim != 1:
        raise ValueError("ts and values must be one-dimensional and of the same length")
    finite = np.isfinite(t) & np.isfinite(v)
    if not finite.all():
        t, v = t[finite], v[finite]
    if t.size <= max_points:
        values_list = v.tolist()
        return {"ts": t.tolist(), "value": values_list, "min": values_list, "max": values_list}
    span = float(t[-1] - t[0])
    width = span / max_points if span > 0 else 1.0
    bucket = np.minimum(((t - t[0]) / width).astype(np.int64), max_points - 1)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(bucket)) + 1))
    counts = np.diff(np.append(starts, t.size))
    return {
        "ts": (np.add.reduceat(t, starts) / counts).tolist(),
        "value": (np.add.reduceat(v, starts) / counts).tolist(),
        "min": np.minimum.reduceat(v, starts).tolist(),
        "max": np.maximum.reduceat(v, starts).tolist(),
    }


def normalise_history(reply: dict[str, Any], max_points: int) -> dict[str, list[float]]:
    """Make any history reply (raw ``ts``/``value`` or already enveloped) fit the chart's shape."""
    ts = np.asarray(reply.get("ts") or [], dtype=np.float64)
    values = np.asarray(reply.get("value") or reply.get("values") or [], dtype=np.float64)
    if ts.shape != values.shape:
        raise ValueError("history reply has ts and value of different lengths")
    mins, maxs = reply.get("min"), reply.get("max")
    if ts.size > max_points or mins is None or maxs is None or len(mins) != ts.size or len(maxs) != ts.size:
        return envelope(ts, values, max_points)
    lo, hi = np.asarray(mins, dtype=np.float64), np.asarray(maxs, dtype=np.float64)
    if not (np.isfinite(ts).all() and np.isfinite(values).all() and np.isfinite(lo).all()
            and np.isfinite(hi).all()):
        return envelope(ts, values, max_points)
    return {"ts": ts.tolist(), "value": values.tolist(), "min": lo.tolist(), "max": hi.tolist()}
