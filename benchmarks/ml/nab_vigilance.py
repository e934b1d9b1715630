"""How the dual-vigilance detector's choices were made, on the full 58-file NAB corpus.

``detect``'s default (``ensemble-vigilance``) is ``max(DualVigilanceDetector, 0.2 × residual
ensemble)``; its two choices of our own (ARTime's other constants are kept) are the range margin
(0.15) and the residual gain (0.2). This benchmark shows what they rest on:

* **Margins** (range growth on): 0.10 … 0.20, each scored on all 58 files, the 30 shared files and
  the other 28. Neighbouring margins move the score by up to ±2 points (one novelty more or less
  moves a window), so a single configuration's score is noisy; the "jitter" line is the mean and
  spread over margins 0.13–0.17, which is how variants were compared.
* **Range handling**: no growth (values beyond the margin clipped) and, for reference only, the
  *look-ahead* range NAB's runner hands ARTime (the whole file's minimum and maximum; not causal,
  never used by the product). With it the detector is ARTime's method on ARTime's inputs (it
  reproduces ARTime's result files row for row on the 16 files where ARTime's approximate running
  median, signed spike rule and even-length probation make no difference). The same reference widened about its centre by 2 % and by 10 % shows how much of
  that score rests on the file's exact extremes.
* **Leave-one-category-out** over the 7 categories (parameters chosen on the other six, scored
  as one corpus): margins {0.10, 0.15, 0.20}; residual gain {none, 0.2, 0.3, 0.5} at margin 0.15;
  and margin × gain together.

Usage: python benchmarks/ml/nab_vigilance.py PATH/TO/NAB [--quick]   (a numenta/NAB checkout;
``--quick`` skips the jitter margins and the margin × gain family). About 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import REPO, emit, machine
from nab_full import SETS, Corpus, Results, Scores, loco, score_sets

sys.path.insert(0, str(REPO))
from sidecar.analytics.detectors.contextual import EnsembleAnomalyDetector, nab_probation
from sidecar.analytics.detectors.dual_vigilance import DualVigilanceDetector

Scored = dict[str, np.ndarray]  # relative path -> scores


class _LookAheadRange(DualVigilanceDetector):
    """Reference only: the whole file's range, as NAB's runner hands it to ARTime (look-ahead)."""

    def __init__(self, lo: float, hi: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.file_range = (lo, hi)

    def _value_range(self, warm: list[float]) -> tuple[float, float]:
        return self.file_range


def _per_file(corpus: Corpus, frames: dict[str, pd.DataFrame],
              make: Callable[[np.ndarray], Any], timed: bool = False) -> Scored:
    """One fresh detector per file (each file is one sensor), warm-up = NAB's probation."""
    out = {}
    for rel in corpus.files:
        x = frames[rel]["value"].to_numpy(float)
        det = make(x)
        det.set_warmup("k", nab_probation(len(x)))
        if timed:
            t = (pd.to_datetime(frames[rel]["timestamp"]) - pd.Timestamp(0)).dt.total_seconds().to_numpy(float)
            out[rel] = np.round(det.score_series(x, t, key="k"), 6)
        else:
            out[rel] = np.round(det.score_series(x, key="k"), 6)
    return out


# The look-ahead reference as NAB's runner hands it to ARTime (factor 1), and widened about its
# centre by 2 % and 10 %: how much of the reference's score rests on the exact file extremes.
LOOK_AHEAD_WIDENING = (1.0, 1.02, 1.10)


def _look_ahead_label(widen: float) -> str:
    return ("look-ahead file range (reference, not causal)" if widen == 1.0
            else f"look-ahead range widened x{widen:.2f} (reference)")


def _look_ahead(widen: float) -> Callable[[np.ndarray], DualVigilanceDetector]:
    def make(x: np.ndarray) -> DualVigilanceDetector:
        lo, hi = float(np.nanmin(x)), float(np.nanmax(x))
        mid, half = (lo + hi) / 2.0, (hi - lo) / 2.0 * widen
        return _LookAheadRange(mid - half, mid + half, margin=0.0)
    return make


def _with_margin(margin: float) -> Callable[[np.ndarray], DualVigilanceDetector]:
    return lambda x: DualVigilanceDetector(margin=margin)


def _results(corpus: Corpus, frames: dict[str, pd.DataFrame], scored: Scored) -> Results:
    return {rel: pd.DataFrame({"timestamp": frames[rel]["timestamp"], "anomaly_score": s}) for rel, s in scored.items()}


def _fmt(sets: dict[str, Scores]) -> str:
    return "  ".join(f"{name} " + "/".join(f"{sets[name][p]['score']:.2f}" for p in sets[name]) for name in SETS)


def _rounded(sets: dict[str, Scores]) -> dict[str, dict[str, float]]:
    return {name: {p: round(v["score"], 2) for p, v in sets[name].items()} for name in SETS}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("nab", type=Path, help="numenta/NAB checkout root")
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args(argv)
    corpus = Corpus.load(args.nab)
    frames = {rel: pd.read_csv(corpus.root / "data" / rel) for rel in corpus.files}
    print(f"NAB checkout {corpus.root}: {len(corpus.files)} files; scores are standard/lowFP/lowFN", flush=True)
    figures: dict[str, Any] = {}

    runs: dict[str, Results] = {}
    t0 = time.perf_counter()
    margins = (0.10, 0.15, 0.20) if args.quick else (0.10, 0.13, 0.14, 0.15, 0.16, 0.17, 0.20)
    vigilance: dict[float, Scored] = {}
    for m in margins:
        vigilance[m] = _per_file(corpus, frames, _with_margin(m))
        runs[f"margin {m:.2f}"] = _results(corpus, frames, vigilance[m])
    runs["margin 0.25, no growth"] = _results(corpus, frames, _per_file(
        corpus, frames, lambda x: DualVigilanceDetector(margin=0.25, grow=False)))
    for widen in LOOK_AHEAD_WIDENING:
        runs[_look_ahead_label(widen)] = _results(corpus, frames, _per_file(corpus, frames, _look_ahead(widen)))
    residual = _per_file(corpus, frames, lambda x: EnsembleAnomalyDetector(), timed=True)
    for g in (0.2, 0.3, 0.5):
        for m in (0.10, 0.15, 0.20):
            runs[f"margin {m:.2f} + {g} residual"] = _results(
                corpus, frames, {rel: np.maximum(vigilance[m][rel], g * residual[rel]) for rel in corpus.files})
    print(f"detectors run in {time.perf_counter() - t0:.0f} s", flush=True)

    scores = {name: score_sets(corpus, res) for name, res in runs.items()}
    for name, sets in scores.items():
        print(f"{name:48s} {_fmt(sets)}", flush=True)
    figures["variants"] = {name: _rounded(sets) for name, sets in scores.items()}
    if not args.quick:
        jitter = [scores[f"margin {m:.2f}"]["all58"]["standard"]["score"] for m in (0.13, 0.14, 0.15, 0.16, 0.17)]
        mean, sd = statistics.mean(jitter), statistics.pstdev(jitter)
        print(f"margins 0.13-0.17, all 58 standard: mean {mean:.2f} ± {sd:.2f} (min {min(jitter):.2f}, "
              f"max {max(jitter):.2f})")
        figures["jitter_all58_standard"] = {"mean": round(mean, 2), "sd": round(sd, 2)}

    families = {
        "margin": [f"margin {m:.2f}" for m in (0.10, 0.15, 0.20)],
        "residual gain (margin 0.15)": ["margin 0.15"] + [f"margin 0.15 + {g} residual" for g in (0.2, 0.3, 0.5)],
    }
    if not args.quick:
        families["margin x residual gain"] = [f"margin {m:.2f}" + (f" + {g} residual" if g else "")
                                              for m in (0.10, 0.15, 0.20) for g in (0, 0.2, 0.3, 0.5)]
    figures["loco7"] = {}
    for family, names in families.items():
        sets, chosen = loco(corpus, {n: runs[n] for n in names})
        picks = ", ".join(f"{c}: {n}" for c, n in chosen.items())
        print(f"leave-one-category-out [{family}]: {_fmt(sets)}\n    chosen: {picks}", flush=True)
        figures["loco7"][family] = {**_rounded(sets), "chosen": chosen}
    print(f"machine: {machine()}")
    emit({"nab_vigilance": figures})


if __name__ == "__main__":
    main()
