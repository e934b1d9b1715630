"""NAB (30 files in shared data) with the NAB scoring protocol, plus detector throughput.

Runs ``python -m sidecar detect --detector D`` over the corpus for each detector (streaming,
contextual, resonance, ensemble, ensemble-resonance), scores the output with ``nab_scoring`` (the protocol re-implemented;
cross-checked against numenta/NAB's scorer, see docs/analytics.md), prints per-category scores, and
measures scored readings/s of ``score_many`` on 1,000 sensors (median of 5) for each detector.
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

DETECTORS = ("streaming", "contextual", "resonance", "ensemble", "ensemble-resonance")
CATEGORIES = ("artificialWithAnomaly", "realAWSCloudwatch", "realKnownCause")


def throughput(sensors: int = 1000, steps: int = 50, runs: int = 5, detector: str = "streaming") -> float:
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.contextual import ContextualAnomalyDetector, EnsembleAnomalyDetector
    from sidecar.analytics.resonance import ResonanceAnomalyDetector
    from sidecar.analytics.streaming import StreamingAnomalyDetector

    rng = np.random.default_rng(0)
    rates = []
    for _ in range(runs):
        keys = [f"sensor-{i}" for i in range(sensors)]
        warm = 20  # short warm-up so the timed steps run the contextual tables, not the warm-up buffer
        ctx = ContextualAnomalyDetector(warmup=warm)
        ens = EnsembleAnomalyDetector(warmup=warm)
        res = ResonanceAnomalyDetector(warmup=warm)
        ens_res = EnsembleAnomalyDetector(warmup=warm, resonance=ResonanceAnomalyDetector(warmup=warm))
        stream = StreamingAnomalyDetector()
        for step in range(warm):
            v = rng.normal(20, 1, sensors)
            ctx.score_many(keys, v)
            ens.score_many(keys, v, np.full(sensors, 1.6e9 + 60.0 * step))
            res.score_many(keys, v)
            ens_res.score_many(keys, v, np.full(sensors, 1.6e9 + 60.0 * step))
        t0 = time.perf_counter()
        for step in range(steps):  # one ingest batch per step: every sensor reports once
            v = rng.normal(20, 1, sensors)
            ts = np.full(sensors, 1.6e9 + 60.0 * (warm + step))
            if detector == "streaming":
                stream.score_many(keys, v, ts)
            elif detector == "contextual":
                ctx.score_many(keys, v)
            elif detector == "resonance":
                res.score_many(keys, v)
            elif detector == "ensemble":
                ens.score_many(keys, v, ts)
            else:
                ens_res.score_many(keys, v, ts)
        rates.append(sensors * steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    nab = DATA / "nab"
    figures: dict = {}
    for detector in DETECTORS:
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            run_cli("detect", str(nab), "--output-dir", tmp, "--detector", detector)
            elapsed = time.perf_counter() - t0
            results = {str(p.relative_to(tmp)).replace("\\", "/"): pd.read_csv(p) for p in Path(tmp).rglob("*.csv")}
        scores = nab_scoring.score_corpus(nab, results)
        per_cat = {c: round(nab_scoring.score_corpus(nab, {f: r for f, r in results.items() if f.startswith(c + "/")})
                            ["standard"]["score"], 2) for c in CATEGORIES}
        rate = throughput(steps=10 if args.quick else 50, runs=3 if args.quick else 5, detector=detector)
        for k, v in scores.items():
            print(f"NAB {detector:10s} {k:20s} score {v['score']:6.2f}  threshold {v['threshold']:.4f}  windows "
                  f"{v['windows_detected']}/{v['windows']}  FP rows {v['fp_rows']}")
        print(f"NAB {detector:10s} standard per category (each normalised on its own): {per_cat}")
        print(f"detect --detector {detector} over {sum(len(r) for r in results.values())} rows: {elapsed:.1f} s; "
              f"score_many throughput, 1000 sensors: {rate:,.0f} readings/s")
        figures[detector] = {"nab": {k: round(v["score"], 2) for k, v in scores.items()}, "standard_by_category": per_cat,
                             "detect_s": round(elapsed, 1), "readings_per_s": round(rate)}
    print(f"machine: {machine()}")
    # Top level: NAB of what `detect` runs by default, throughput of the live (streaming) detector.
    from sidecar.analytics.cli import DEFAULT_DETECTOR
    emit({"nab": figures[DEFAULT_DETECTOR]["nab"], "nab_detector": DEFAULT_DETECTOR,
          "readings_per_s": figures["streaming"]["readings_per_s"], "detectors": figures})


if __name__ == "__main__":
    main()
