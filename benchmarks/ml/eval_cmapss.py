"""C-MAPSS FD001: engine-wise 5-fold CV (RMSE, NASA score) and the one-command test prediction.
Usage: python benchmarks/ml/eval_cmapss.py [--quick]"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, REPO, emit, machine, run_cli


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.offline.rul import cross_validate, read_histories

    train = read_histories(DATA / "cmapss" / "train_FD001.txt")
    res = cross_validate(train, cuts_per_unit=2 if args.quick else 5)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rul.csv"
        run_cli("rul", "--train", str(DATA / "cmapss" / "train_FD001.txt"), "--predict",
                str(DATA / "cmapss" / "test_FD001.txt"), "--output", str(out))
        pred = pd.read_csv(out)
    print(f"engine-wise CV: {res}")
    print(f"test_FD001: {len(pred)} units predicted, RUL median {pred['rul'].median():.1f}; machine: {machine()}")
    emit({"cmapss_cv": res, "test_units_predicted": len(pred)})


if __name__ == "__main__":
    main()
