"""How much of the NAB figure comes from choosing parameters on the same files?

Leave-one-category-out: for each NAB category (artificialWithAnomaly, realAWSCloudwatch,
realKnownCause), choose the detector's components and parameters from a small grid (daily
profile on/off, local-context mean on/off, refractory damping, kNN window matching on/off) by the standard score of the
*other* categories, and score that category's files with them. The corpus is then scored as usual
(one threshold per profile, as NAB does) from these held-out scores. Prints the in-sample score of
every grid point too.
Usage: python benchmarks/ml/nab_loco.py
"""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nab_scoring
from common import DATA, REPO, emit

GRID = {"season_bins": (0, 48), "fast_horizon": (0, 7), "refractory_damping": (0.1, 0.3),
        "knn_window": (0, 8)}


def main() -> None:
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.streaming import StreamingAnomalyDetector

    nab = DATA / "nab"
    files = sorted(str(p.relative_to(nab)).replace("\\", "/") for p in nab.rglob("*.csv"))
    frames = {f: pd.read_csv(nab / f) for f in files}
    keys = np.concatenate([[i] * len(frames[f]) for i, f in enumerate(files)])
    x = np.concatenate([frames[f]["value"].to_numpy(float) for f in files])
    t = np.concatenate([(pd.to_datetime(frames[f]["timestamp"]) - pd.Timestamp(0)).dt.total_seconds().to_numpy(dtype=float) for f in files])
    bounds = np.cumsum([0] + [len(frames[f]) for f in files])
    runs: dict[tuple, dict[str, pd.DataFrame]] = {}
    for values in itertools.product(*GRID.values()):
        params = dict(zip(GRID, values))
        s = StreamingAnomalyDetector(**params).score_many(list(keys), x, t)
        runs[values] = {f: pd.DataFrame({"timestamp": frames[f]["timestamp"], "anomaly_score": s[bounds[i]:bounds[i + 1]]})
                        for i, f in enumerate(files)}
        print(f"in-sample {params}: {nab_scoring.score_corpus(nab, runs[values])['standard']['score']:.1f}", flush=True)
    held_out: dict[str, pd.DataFrame] = {}
    chosen = {}
    for cat in sorted({f.split("/")[0] for f in files}):
        def train_score(v: tuple, cat: str = cat) -> float:
            sub = {f: r for f, r in runs[v].items() if not f.startswith(cat + "/")}
            return nab_scoring.score_corpus(nab, sub)["standard"]["score"]
        best = max(runs, key=train_score)
        chosen[cat] = dict(zip(GRID, best))
        held_out.update({f: r for f, r in runs[best].items() if f.startswith(cat + "/")})
    scores = nab_scoring.score_corpus(nab, held_out)
    for cat, params in chosen.items():
        print(f"held out {cat}: parameters chosen on the others {params}")
    print("leave-one-category-out: " + ", ".join(f"{k} {v['score']:.1f}" for k, v in scores.items()))
    emit({"nab_loco": {k: round(v["score"], 2) for k, v in scores.items()}})


if __name__ == "__main__":
    main()
