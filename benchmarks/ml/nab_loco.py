"""How much of the NAB figure comes from choosing parameters on the same files?

Leave-one-category-out: for each NAB category (artificialWithAnomaly, realAWSCloudwatch,
realKnownCause), choose a detector's parameters from a small grid by the standard score of the
*other* categories, and score that category's files with them. The corpus is then scored as usual
(one threshold per profile, as NAB does) from these held-out scores. Done per detector family
(the grids below) and over all families together (the family is then chosen out of sample too);
``detect``'s default detector is the family with the best held-out score. Prints the in-sample
score of every grid point too.

* streaming: ``StreamingAnomalyDetector`` — daily profile on/off, local-context mean on/off,
  refractory damping, kNN window matching on/off.
* contextual: ``ContextualAnomalyDetector`` — bins, longest context.
* ensemble: ``EnsembleAnomalyDetector`` (streaming defaults) — bins, veto cut, veto damping.
* resonance: ``ResonanceAnomalyDetector`` (window 6) — block length, vigilance.
* ensemble_resonance: the default ensemble + ``ResonanceAnomalyDetector`` (window 6) as a maximum
  — block length, vigilance, resonance gain.
* ensemble_resonance_mask: ``detect``'s ensemble-resonance with a ``DailyRecurrenceMask`` — its
  time-of-day tolerance and the number of earlier days it looks back (0 = no mask).
* ensemble_resonance_mask_ratio: the default (mask 2 h, 3 days) — the mask's ``ratio`` (an earlier
  score of at least ratio × the current one masks it; 1 = the default).

The contextual warm-up of each file is its NAB probationary length, as ``detect`` does.
Usage: python benchmarks/ml/nab_loco.py [--family streaming|contextual|ensemble|resonance|ensemble_resonance|ensemble_resonance_mask|ensemble_resonance_mask_ratio ...]
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nab_scoring
from common import DATA, REPO, emit

GRIDS: dict[str, dict[str, tuple]] = {
    "streaming": {"season_bins": (0, 48), "fast_horizon": (0, 7), "refractory_damping": (0.1, 0.3),
                  "knn_window": (0, 8)},
    "contextual": {"bins": (8, 16), "max_order": (3, 7)},
    "ensemble": {"bins": (16, 32), "veto_below": (0.5, 0.7), "veto_damping": (0.3, 0.5)},
    "resonance": {"block": (4, 6), "vigilance": (0.85, 0.9)},
    "ensemble_resonance": {"block": (4, 6), "vigilance": (0.85, 0.9), "resonance_gain": (0.3, 1.0)},
    # detect's ensemble-resonance (block 4, vigilance 0.9, gain 0.3) + DailyRecurrenceMask; days 0 = no mask
    "ensemble_resonance_mask": {"tolerance_s": (3600.0, 7200.0, 10800.0), "days": (0, 1, 3, 7)},
    "ensemble_resonance_mask_ratio": {"ratio": (1.0, 0.97, 0.95, 0.92, 0.9, 0.85, 0.8)},
}
CATEGORIES = ("artificialWithAnomaly", "realAWSCloudwatch", "realKnownCause")


def _held_out(nab: Path, runs: dict[tuple, dict[str, pd.DataFrame]]) -> tuple[dict, dict]:
    """Leave-one-category-out over the candidate runs: (scores, chosen candidate per category)."""
    held_out: dict[str, pd.DataFrame] = {}
    chosen = {}
    for cat in CATEGORIES:
        def train_score(v: tuple, cat: str = cat) -> float:
            sub = {f: r for f, r in runs[v].items() if not f.startswith(cat + "/")}
            return nab_scoring.score_corpus(nab, sub)["standard"]["score"]
        best = max(runs, key=train_score)
        chosen[cat] = best
        held_out.update({f: r for f, r in runs[best].items() if f.startswith(cat + "/")})
    return nab_scoring.score_corpus(nab, held_out), chosen


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--family", nargs="*", choices=list(GRIDS), default=list(GRIDS))
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.detectors.contextual import (
        ContextualAnomalyDetector,
        DailyRecurrenceMask,
        EnsembleAnomalyDetector,
        nab_probation,
    )
    from sidecar.analytics.detectors.resonance import ResonanceAnomalyDetector
    from sidecar.analytics.detectors.streaming import StreamingAnomalyDetector

    nab = DATA / "nab"
    files = sorted(str(p.relative_to(nab)).replace("\\", "/") for p in nab.rglob("*.csv"))
    frames = {f: pd.read_csv(nab / f) for f in files}
    keys = list(np.concatenate([[i] * len(frames[f]) for i, f in enumerate(files)]))
    x = np.concatenate([frames[f]["value"].to_numpy(float) for f in files])
    t = np.concatenate([(pd.to_datetime(frames[f]["timestamp"]) - pd.Timestamp(0)).dt.total_seconds().to_numpy(dtype=float) for f in files])
    bounds = np.cumsum([0] + [len(frames[f]) for f in files])

    def run(family: str, params: dict) -> np.ndarray:
        if family == "streaming":
            return StreamingAnomalyDetector(**params).score_many(keys, x, t)
        if family in ("contextual", "resonance"):
            alone = (ContextualAnomalyDetector(**params) if family == "contextual"
                     else ResonanceAnomalyDetector(window=6, **params))
            for i, f in enumerate(files):
                alone.set_warmup(i, nab_probation(len(frames[f])))
            return alone.score_many(keys, x)
        if family == "ensemble":
            det = EnsembleAnomalyDetector(**params)
        elif family == "ensemble_resonance_mask":
            mask = DailyRecurrenceMask(**params) if params["days"] else None
            det = EnsembleAnomalyDetector(resonance=ResonanceAnomalyDetector(), recurrence=mask)
        elif family == "ensemble_resonance_mask_ratio":
            mask = DailyRecurrenceMask(**params)
            det = EnsembleAnomalyDetector(resonance=ResonanceAnomalyDetector(), recurrence=mask)
        else:
            gain = params.pop("resonance_gain")
            det = EnsembleAnomalyDetector(resonance=ResonanceAnomalyDetector(window=6, **params), resonance_gain=gain)
        for i, f in enumerate(files):
            det.set_warmup(i, nab_probation(len(frames[f])))
        return det.score_many(keys, x, t)

    runs: dict[tuple, dict[str, pd.DataFrame]] = {}
    for family in args.family:
        grid = GRIDS[family]
        for values in itertools.product(*grid.values()):
            params = dict(zip(grid, values))
            s = np.round(run(family, dict(params)), 6)  # as detect writes them
            runs[(family, *values)] = {f: pd.DataFrame({"timestamp": frames[f]["timestamp"],
                                                        "anomaly_score": s[bounds[i]:bounds[i + 1]]})
                                       for i, f in enumerate(files)}
            print(f"in-sample {family} {params}: "
                  f"{nab_scoring.score_corpus(nab, runs[(family, *values)])['standard']['score']:.2f}", flush=True)
    figures = {}
    families = list(args.family) + (["all"] if len(args.family) > 1 else [])
    for family in families:
        sub = {k: v for k, v in runs.items() if family == "all" or k[0] == family}
        scores, chosen = _held_out(nab, sub)
        for cat, cand in chosen.items():
            names = GRIDS[cand[0]]
            print(f"[{family}] held out {cat}: chosen on the others {cand[0]} {dict(zip(names, cand[1:]))}")
        print(f"[{family}] leave-one-category-out: " + ", ".join(f"{k} {v['score']:.2f}" for k, v in scores.items()))
        figures[family] = {k: round(v["score"], 2) for k, v in scores.items()}
    emit({"nab_loco": figures})


if __name__ == "__main__":
    main()
