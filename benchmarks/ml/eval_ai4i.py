"""AI4I 2020: stratified 5-fold CV of the failure model (process columns only).
Everything fitted inside a fold (booster settings from a small grid, isotonic calibration, deployed
threshold) uses that fold's training rows only (inner 3-fold CV). Without ``--quick`` also
measures the variant without the documented failure-condition flags (``physics_rules=False``).
Usage: python benchmarks/ml/eval_ai4i.py [--quick]"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, REPO, emit, machine

KEYS = ("pr_auc", "brier", "deployed", "at_0.5", "at_0.7")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.offline.failure import DEFAULT_GRID, FailureModel, cross_validate

    frame = pd.read_csv(DATA / "ai4i2020" / "ai4i2020.csv")
    grid = (DEFAULT_GRID[0],) if args.quick else None  # --quick: one setting, no inner search
    t0 = time.perf_counter()
    res = cross_validate(FailureModel(grid=grid), frame, "Machine failure", folds=5)
    print(json.dumps(res, indent=1))
    figures = {"ai4i": {k: res[k] for k in KEYS}}
    figures["ai4i"]["reliability"] = res["reliability"]
    if not args.quick:
        plain = cross_validate(FailureModel(physics_rules=False), frame, "Machine failure", folds=5)
        print("without failure-condition flags:", json.dumps({k: plain[k] for k in KEYS}))
        figures["ai4i_without_rule_flags"] = {k: plain[k] for k in KEYS}
    print(f"elapsed {time.perf_counter() - t0:.1f} s; machine: {machine()}")
    emit(figures)


if __name__ == "__main__":
    main()
