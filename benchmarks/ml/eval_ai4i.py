"""AI4I 2020: stratified 5-fold CV of the failure model on the process columns only.

The headline figure is measured with ANONYMISED columns (``Type`` and the five readings renamed
c1..c6, the label ``y``), so no knowledge of this data set can apply: the model must learn the
interactions and their limits. Everything fitted inside a fold (interactions, split points, booster
settings, isotonic calibration, deployed threshold) uses that fold's training rows only (inner
3-fold CV). Without ``--quick`` also measured, labelled as such: the original column names with
their physical roles declared (``roles``: torque, speed, temperature, ambient temperature, wear),
and the raw columns without interactions.
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
PROCESS = ["Type", "Air temperature [K]", "Process temperature [K]", "Rotational speed [rpm]", "Torque [Nm]",
           "Tool wear [min]"]
ROLES = {"torque": "Torque [Nm]", "speed": "Rotational speed [rpm]", "temperature": "Process temperature [K]",
         "ambient_temperature": "Air temperature [K]", "wear": "Tool wear [min]"}


def anonymised(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[PROCESS].copy()
    out.columns = [f"c{i + 1}" for i in range(len(PROCESS))]
    out["y"] = frame["Machine failure"].to_numpy()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.offline.failure import DEFAULT_GRID, FailureModel, cross_validate

    frame = pd.read_csv(DATA / "ai4i2020" / "ai4i2020.csv")
    grid = (DEFAULT_GRID[2],) if args.quick else None  # --quick: one setting, no inner search
    t0 = time.perf_counter()
    res = cross_validate(FailureModel(grid=grid), anonymised(frame), "y", folds=5)
    print("anonymised columns, automatic interactions (default):", json.dumps(res, indent=1))
    figures = {"ai4i": {k: res[k] for k in KEYS}}
    figures["ai4i"]["reliability"] = res["reliability"]
    figures["ai4i"]["interactions"] = res["interactions"]
    if not args.quick:
        process = frame[PROCESS + ["Machine failure"]]
        roles = cross_validate(FailureModel(roles=ROLES), process, "Machine failure", folds=5)
        print("declared column roles:", json.dumps({k: roles[k] for k in KEYS}))
        figures["ai4i_declared_roles"] = {k: roles[k] for k in KEYS}
        plain = cross_validate(FailureModel(interactions=False), anonymised(frame), "y", folds=5)
        print("anonymised, raw columns only:", json.dumps({k: plain[k] for k in KEYS}))
        figures["ai4i_raw_columns"] = {k: plain[k] for k in KEYS}
    print(f"elapsed {time.perf_counter() - t0:.1f} s; machine: {machine()}")
    emit(figures)


if __name__ == "__main__":
    main()
