"""C-MAPSS FD001: engine-wise 5-fold CV (RMSE, NASA score) and the one-command test prediction.

The CV figure is NOT comparable with the published RMSEs (LSTM 16.1, DCNN 12.6, ...): those score
each of the 100 test engines once, at its last cycle, against NASA's ``RUL_FD001.txt``; the CV
scores random truncations of the training engines. ``--truth RUL_FD001.txt`` (NASA's file, not in
the shared data) scores the test prediction like the literature: RMSE and NASA score against the
true RUL capped at 125 (as most published FD001 figures) and uncapped. Nothing is chosen on it.
Usage: python benchmarks/ml/eval_cmapss.py [--quick] [--truth PATH/RUL_FD001.txt]"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, REPO, emit, machine, run_cli


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--truth", type=Path, default=None, help="NASA's RUL_FD001.txt (test-set truth)")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.offline.rul import cross_validate, nasa_score, read_histories

    train = read_histories(DATA / "cmapss" / "train_FD001.txt")
    res = cross_validate(train, cuts_per_unit=2 if args.quick else 5)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "rul.csv"
        run_cli("rul", "--train", str(DATA / "cmapss" / "train_FD001.txt"), "--predict",
                str(DATA / "cmapss" / "test_FD001.txt"), "--output", str(out))
        pred = pd.read_csv(out)
    print(f"engine-wise CV: {res}")
    print(f"test_FD001: {len(pred)} units predicted, RUL median {pred['rul'].median():.1f}; machine: {machine()}")
    figures: dict = {"cmapss_cv": res, "test_units_predicted": len(pred)}
    if args.truth is not None:
        true = np.loadtxt(args.truth)
        p = pred.sort_values("unit")["rul"].to_numpy(dtype=float)
        test = {}
        for name, t in (("capped_125", np.minimum(true, 125.0)), ("uncapped", true)):
            test[name] = {"rmse": round(float(np.sqrt(np.mean((p - t) ** 2))), 2),
                          "nasa_score": round(nasa_score(t, p), 1)}
        print(f"test_FD001 against RUL_FD001.txt (like the published figures): {test}")
        figures["cmapss_test"] = test
    emit(figures)


if __name__ == "__main__":
    main()
