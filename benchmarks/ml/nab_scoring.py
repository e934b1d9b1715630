"""The NAB scoring protocol (Lavin & Ahmad 2015, numenta/NAB v1.1), written from its documentation.

For each file: the first ``min(floor(0.15 n), 0.15 * 5000)`` rows are probationary (ignored).
A row whose score reaches the threshold is a detection. Inside a labelled window, a detection is
worth ``tp * S(p) / S(-1)`` with ``S(p) = 2 sigmoid(-5 p) - 1`` and ``p = -(right - i + 1) / width``
(only the best, i.e. first, detection of a window counts); outside a window it costs
``fp * S(p)`` with ``p = |i - previous right edge| / (previous width - 1)`` (``-fp`` before the
first window; ``S = -1`` beyond p = 3). A window without a detection costs ``-fn``. One threshold
per detector and profile is chosen over the whole corpus (the one with the best total), and the
total is normalised: ``100 (raw - null) / (perfect - null)``, where ``perfect = tp * #windows`` and
``null`` is the optimised total of a detector that always outputs 0.5.

Cross-checked against numenta/NAB's own ``run.py --optimize --score --normalize`` (see
``docs/analytics.md``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import pandas as pd

PROFILES = {
    "standard": {"tp": 1.0, "fp": 0.11, "fn": 1.0},
    "reward_low_FP_rate": {"tp": 1.0, "fp": 0.22, "fn": 1.0},
    "reward_low_FN_rate": {"tp": 1.0, "fp": 0.11, "fn": 2.0},
}


def _scaled_sigmoid(p: float) -> float:
    if p > 3.0:
        return -1.0
    return 2.0 / (1.0 + math.exp(5.0 * p)) - 1.0


@dataclass
class FileSweep:
    """Per scorable row: score, weight if it were a detection, window id (-1 = outside)."""

    scores: np.ndarray
    tp_weight: np.ndarray  # unweighted S value / S(-1) inside windows
    fp_weight: np.ndarray  # unweighted S value outside windows (negative)
    window: np.ndarray
    n_windows: int


def sweep_file(timestamps: list[str], scores: np.ndarray, windows: list[list[str]]) -> FileSweep:
    n = len(timestamps)
    probation = min(math.floor(0.15 * n), 0.15 * 5000)
    index = {ts: i for i, ts in enumerate(timestamps)}
    spans = []
    for start, end in windows:
        spans.append((index[start], index[end]))
    max_tp = _scaled_sigmoid(-1.0)
    tpw = np.zeros(n)
    fpw = np.zeros(n)
    win = np.full(n, -1)
    prev_right: int | None = None
    prev_width = 0.0
    k = 0
    i = 0
    while i < n:
        if k < len(spans) and i == spans[k][0]:
            left, right = spans[k]
            width = float(right - left + 1)
            for j in range(left, right + 1):
                tpw[j] = _scaled_sigmoid(-(right - j + 1) / width) / max_tp
                win[j] = k
            prev_right, prev_width = right, width
            k += 1
            i = right + 1
            continue
        if prev_right is None:
            fpw[i] = -1.0
        else:
            fpw[i] = _scaled_sigmoid(abs(prev_right - i) / (prev_width - 1.0))
        i += 1
    keep = np.arange(n) >= probation
    return FileSweep(np.asarray(scores, dtype=float)[keep], tpw[keep], fpw[keep], win[keep], len(spans))


def _corpus_total(sweeps: list[FileSweep], threshold: float, w: dict[str, float]) -> tuple[float, int, int, int]:
    total = 0.0
    tp = fp = fn = 0
    for sw in sweeps:
        det = sw.scores >= threshold
        outside = det & (sw.window < 0)
        total += w["fp"] * float(sw.fp_weight[outside].sum())
        fp += int(outside.sum())
        for k in range(sw.n_windows):
            hits = det & (sw.window == k)
            if hits.any():
                total += w["tp"] * float(sw.tp_weight[hits].max())
                tp += 1
            else:
                total -= w["fn"]
                fn += 1
    return total, tp, fp, fn


def optimise(sweeps: list[FileSweep], w: dict[str, float]) -> tuple[float, float, int, int, int]:
    """Best (threshold, raw total, tp windows, fp rows, fn windows) over all distinct scores.

    Exact sweep: sort all rows by score, descending, and update the total incrementally.
    """
    rows = []
    base = 0.0
    offset = 0
    for sw in sweeps:
        base -= w["fn"] * sw.n_windows
        rows.append(pd.DataFrame({"s": sw.scores, "tpw": sw.tp_weight, "fpw": sw.fp_weight,
                                  "win": np.where(sw.window >= 0, sw.window + offset, -1)}))
        offset += sw.n_windows
    allrows = pd.concat(rows, ignore_index=True).sort_values("s", ascending=False, kind="stable")
    s = allrows["s"].to_numpy()
    tpw = allrows["tpw"].to_numpy()
    fpw = allrows["fpw"].to_numpy()
    win = allrows["win"].to_numpy()
    best_in_window = np.full(offset, -np.inf)
    total = base
    best = (1.1, base)
    i = 0
    m = len(s)
    while i < m:
        thr = s[i]
        while i < m and s[i] == thr:
            if win[i] < 0:
                total += w["fp"] * fpw[i]
            else:
                k = win[i]
                new = w["tp"] * tpw[i]
                old = best_in_window[k]
                if old == -np.inf:
                    total += new + w["fn"]
                    best_in_window[k] = new
                elif new > old:
                    total += new - old
                    best_in_window[k] = new
            i += 1
        if total > best[1]:
            best = (float(thr), total)
    thr = best[0]
    total, tp, fp, fn = _corpus_total(sweeps, thr, w)
    return thr, total, tp, fp, fn


def load_windows(path: Path) -> dict[str, list[list[str]]]:
    """A ``combined_windows.json`` (in ``labels/`` of a numenta/NAB checkout): file -> [[start, end], ...]."""
    windows: dict[str, list[list[str]]] = json.loads(path.read_text())
    return windows


def load_labels(nab_dir: Path) -> dict[str, list[list[str]]]:
    return load_windows(nab_dir / "combined_windows.json")


def load_profiles(path: Path) -> dict[str, dict[str, float]]:
    """A numenta/NAB ``config/profiles.json`` in the form of ``PROFILES``, so a checkout's own cost
    matrices are the ones applied (they equal ``PROFILES`` in NAB v1.1)."""
    raw = json.loads(path.read_text())
    return {name: {"tp": float(p["CostMatrix"]["tpWeight"]), "fp": float(p["CostMatrix"]["fpWeight"]),
                   "fn": float(p["CostMatrix"]["fnWeight"])} for name, p in raw.items()}


def score_corpus(nab_dir: Path, results: dict[str, pd.DataFrame]) -> dict[str, dict[str, float]]:
    """``results`` maps relative data path (e.g. ``realKnownCause/nyc_taxi.csv``) to a frame with
    ``timestamp`` and ``anomaly_score``. Returns per profile: normalised score, threshold, counts."""
    return score_windows(load_labels(nab_dir), results)


def score_windows(windows: Mapping[str, list[list[str]]], results: Mapping[str, pd.DataFrame],
                  profiles: Mapping[str, dict[str, float]] = PROFILES) -> dict[str, dict[str, float]]:
    """``score_corpus`` with the labelled windows given (e.g. from ``load_windows``) and the profiles to
    score; the corpus is the files of ``results``. A corpus without windows has no defined score
    (NaN): its perfect and null totals are both 0."""
    out: dict[str, dict[str, float]] = {}
    sweeps = []
    null_sweeps = []
    for rel, frame in sorted(results.items()):
        wins = [[w[0].split(".")[0], w[1].split(".")[0]] for w in windows[rel]]
        ts = [str(t).split(".")[0] for t in frame["timestamp"]]
        sweeps.append(sweep_file(ts, frame["anomaly_score"].to_numpy(dtype=float), wins))
        null_sweeps.append(sweep_file(ts, np.full(len(ts), 0.5), wins))
    n_windows = sum(sw.n_windows for sw in sweeps)
    for name, w in profiles.items():
        thr, raw, tp, fp, _ = optimise(sweeps, w)
        _, null_raw, _, _, _ = optimise(null_sweeps, w)
        perfect = w["tp"] * n_windows
        span = perfect - null_raw
        out[name] = {"score": 100.0 * (raw - null_raw) / span if span else math.nan, "threshold": thr,
                     "raw": raw, "null": null_raw, "windows_detected": tp, "windows": n_windows,
                     "fp_rows": fp}
    return out


Run = TypeVar("Run", bound=Hashable)


def leave_one_category_out(runs: Mapping[Run, Mapping[str, pd.DataFrame]], categories: Iterable[str],
                           train_score: Callable[[dict[str, pd.DataFrame]], float],
                           ) -> tuple[dict[str, pd.DataFrame], dict[str, Run]]:
    """Choose parameters without looking at the files they are scored on.

    ``runs`` maps a candidate (a parameter set) to its results (relative path -> frame). For each
    category, the candidate with the best ``train_score`` (normally the standard score) on the
    files of the *other* categories supplies that category's results (ties: the first candidate).
    Returns the held-out results, to be scored as one corpus (one threshold per profile, as NAB
    does), and the candidate chosen per category.
    """
    held_out: dict[str, pd.DataFrame] = {}
    chosen: dict[str, Run] = {}
    for cat in categories:
        def on_others(run: Run, cat: str = cat) -> float:
            return train_score({f: r for f, r in runs[run].items() if not f.startswith(cat + "/")})
        best = max(runs, key=on_others)
        chosen[cat] = best
        held_out.update({f: r for f, r in runs[best].items() if f.startswith(cat + "/")})
    return held_out, chosen


def score_threshold_per_group(windows: Mapping[str, list[list[str]]], results: Mapping[str, pd.DataFrame],
                              group: Callable[[str], str], w: Mapping[str, float]) -> float:
    """Normalised score when every group of files (e.g. a NAB category) gets its own best threshold.

    Not NAB's protocol (one threshold for the corpus): it separates how good the detections are
    within each group from how consistent the score's scale is across groups. The null detector
    and the perfect total are the corpus's, as in ``score_windows``."""
    by_group: dict[str, list[FileSweep]] = {}
    null_sweeps = []
    for rel, frame in sorted(results.items()):
        wins = [[a.split(".")[0], b.split(".")[0]] for a, b in windows[rel]]
        ts = [str(t).split(".")[0] for t in frame["timestamp"]]
        by_group.setdefault(group(rel), []).append(sweep_file(ts, frame["anomaly_score"].to_numpy(dtype=float), wins))
        null_sweeps.append(sweep_file(ts, np.full(len(ts), 0.5), wins))
    weights = dict(w)
    raw = sum(optimise(sweeps, weights)[1] for sweeps in by_group.values())
    null_raw = optimise(null_sweeps, weights)[1]
    perfect = weights["tp"] * sum(sw.n_windows for sw in null_sweeps)
    span = perfect - null_raw
    return 100.0 * (raw - null_raw) / span if span else math.nan
