"""NAB (30 files in shared data) with the NAB scoring protocol, plus detector throughput.

Runs ``python -m sidecar detect`` over the corpus, scores the output with ``nab_scoring`` (the
protocol re-implemented; cross-checked against numenta/NAB's scorer, see docs/analytics.md), and
measures scored readings/s of ``StreamingAnomalyDetector.score_many`` on 1,000 sensors (median of 5).
Usage: python benchmarks/ml/eval_nab.py [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nab_scoring
from common import DATA, REPO, emit, machine, run_cli


def throughput(sensors: int = 1000, steps: int = 50, runs: int = 5) -> float:
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.streaming import StreamingAnomalyDetector

    rng = np.random.default_rng(0)
    rates = []
    for _ in range(runs):
        det = StreamingAnomalyDetector()
        keys = [f"sensor-{i}" for i in range(sensors)]
        t0 = time.perf_counter()
        for step in range(steps):  # one ingest batch per step: every sensor reports once
            det.score_many(keys, rng.normal(20, 1, sensors), np.full(sensors, 1.6e9 + 60.0 * step))
        rates.append(sensors * steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    nab = DATA / "nab"
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        run_cli("detect", str(nab), "--output-dir", tmp)
        elapsed = time.perf_counter() - t0
        results = {str(p.relative_to(tmp)).replace("\\", "/"): pd.read_csv(p) for p in Path(tmp).rglob("*.csv")}
    scores = nab_scoring.score_corpus(nab, results)
    rate = throughput(steps=10 if args.quick else 50)
    for k, v in scores.items():
        print(f"NAB {k:20s} score {v['score']:6.1f}  threshold {v['threshold']:.4f}  windows "
              f"{v['windows_detected']}/{v['windows']}  FP rows {v['fp_rows']}")
    print(f"detect CLI over {sum(len(r) for r in results.values())} rows: {elapsed:.1f} s")
    print(f"score_many throughput, 1000 sensors: {rate:,.0f} readings/s; machine: {machine()}")
    emit({"nab": {k: round(v["score"], 2) for k, v in scores.items()}, "readings_per_s": round(rate)})


if __name__ == "__main__":
    main()
