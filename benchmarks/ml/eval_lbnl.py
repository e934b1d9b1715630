"""LBNL AHU fault detection, leave one unit out: G36 rules (mode-aware, guideline tolerances), the
learned layer alone (trained on the other unit, each unit against its own label-free baseline), and
the product with ``--train`` (rules' evidence and the learned probability combined into the
per-minute confidence that decides ``fault``).

Runs ``python -m sidecar fdd`` per unit and scores per minute against the ground truth:
precision, recall, F1, MCC and detection delay (minutes from an episode's first faulty minute to
the first flagged minute; an episode is a run of consecutive faulty days).
Usage: python benchmarks/ml/eval_lbnl.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import DATA, REPO, emit, machine, run_cli

UNITS = ["MZVAV-2-1", "SZCAV"]
LABEL = "Fault Detection Ground Truth"


def metrics(y: np.ndarray, p: np.ndarray) -> dict[str, float]:
    tp = float(((p == 1) & (y == 1)).sum())
    fp = float(((p == 1) & (y == 0)).sum())
    fn = float(((p == 0) & (y == 1)).sum())
    tn = float(((p == 0) & (y == 0)).sum())
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = (tp * tn - fp * fn) / den if den else 0.0
    return {"precision": round(prec, 3), "recall": round(rec, 3), "f1": round(f1, 3), "mcc": round(float(mcc), 3)}


def delays(y: np.ndarray, p: np.ndarray) -> list[float | None]:
    """Minutes to first detection per fault episode (None = never detected)."""
    out: list[float | None] = []
    edges = np.flatnonzero(np.diff(np.r_[0, y, 0]))
    for start, end in zip(edges[::2], edges[1::2]):
        hit = np.flatnonzero(p[start:end])
        out.append(float(hit[0]) if len(hit) else None)
    return out


def learned_alone(target: Path, others: list[Path]) -> np.ndarray:
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.offline.ahu_fdd import ColumnMap, LearnedAHUDetector, load_points

    cmap = ColumnMap.load("lbnl")
    frames, labels = [], []
    for path in others:
        raw, pts = load_points(path, cmap)
        frames.append(pts)
        col = next(c for c in raw.columns if c.strip() == LABEL)
        labels.append(pd.to_numeric(raw[col], errors="coerce").fillna(0).to_numpy())
    model = LearnedAHUDetector().fit(frames, labels)
    _, points = load_points(target, cmap)
    return np.asarray(model.predict_proba(points) >= model.threshold)


# Only two shared units: "leave one unit out" trains on the single other unit.


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.parse_args()
    src = DATA / "lbnl_ahu_fdd"
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for unit in UNITS:
            others = [str(src / f"{u}.csv") for u in UNITS if u != unit]
            y = pd.read_csv(src / f"{unit}.csv")[LABEL].to_numpy().astype(int)
            rules_out = Path(tmp) / f"{unit}_rules.csv"
            comb_out = Path(tmp) / f"{unit}_combined.csv"
            run_cli("fdd", str(src / f"{unit}.csv"), "--output", str(rules_out), "--columns", "lbnl")
            run_cli("fdd", str(src / f"{unit}.csv"), "--output", str(comb_out), "--columns", "lbnl",
                    "--train", *others)
            rules = pd.read_csv(rules_out, keep_default_na=False)
            comb = pd.read_csv(comb_out, keep_default_na=False)
            # The learned layer on its own (same features and training as in the CLI), to show
            # why the product never lets it raise a fault without a rule condition.
            learned = learned_alone(src / f"{unit}.csv", [Path(o) for o in others])
            for name, pred in (("g36_rules", rules["fault"].to_numpy()),
                               ("learned_alone", learned.astype(int)),
                               ("with_train", comb["fault"].to_numpy())):
                m: dict = metrics(y, pred)
                d = delays(y, pred)
                m["episodes"] = len(d)
                m["detected_episodes"] = sum(x is not None for x in d)
                m["median_delay_min"] = float(np.median([x for x in d if x is not None])) if any(
                    x is not None for x in d) else None
                m["flagged_fraction"] = round(float(pred.mean()), 3)
                results[f"{unit}/{name}"] = m
    for k, v in results.items():
        print(f"{k:28s} {v}")
    for name in ("g36_rules", "learned_alone", "with_train"):
        results[f"mean_mcc/{name}"] = round(float(np.mean([results[f"{u}/{name}"]["mcc"] for u in UNITS])), 3)
        print(f"mean per-minute MCC, {name}: {results[f'mean_mcc/{name}']}")
    print(f"machine: {machine()}")
    emit({"lbnl": results})


if __name__ == "__main__":
    main()
