"""AI4I 2020: stratified 5-fold CV of the failure model (process columns only) and the CLI.
Usage: python benchmarks/ml/eval_ai4i.py [--quick]"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, REPO, emit, machine


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.failure import FailureModel, cross_validate

    frame = pd.read_csv(DATA / "ai4i2020" / "ai4i2020.csv")
    res = cross_validate(FailureModel(max_iter=150 if args.quick else 300), frame, "Machine failure", folds=5)
    print(json.dumps(res, indent=1))
    print(f"machine: {machine()}")
    emit({"ai4i": {k: res[k] for k in ("pr_auc", "brier", "deployed", "at_0.5", "at_0.7")}})


if __name__ == "__main__":
    main()
