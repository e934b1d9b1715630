"""NAB (30 files in shared data) with the NAB scoring protocol, plus detector throughput.

Runs ``python -m sidecar detect --detector D`` over the corpus for each detector (streaming,
contextual, resonance, vigilance, ensemble, ensemble-resonance, ensemble-vigilance), scores the output with ``nab_scoring`` (the protocol re-implemented;
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
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nab_scoring
from common import DATA, REPO, emit, machine, run_cli

DETECTORS = ("streaming", "contextual", "resonance", "vigilance", "ensemble", "ensemble-resonance",
             "ensemble-vigilance")
CATEGORIES = ("artificialWithAnomaly", "realAWSCloudwatch", "realKnownCause")


def _detector(name: str, warm: int) -> Any:
    """A fresh instance of detector ``name``, with a short warm-up (the timed steps then run the
    learnt tables and category banks, not the warm-up buffers)."""
    sys.path.insert(0, str(REPO))
    from sidecar.analytics.detectors.contextual import ContextualAnomalyDetector, EnsembleAnomalyDetector
    from sidecar.analytics.detectors.dual_vigilance import DualVigilanceDetector
    from sidecar.analytics.detectors.live import ensemble_vigilance
    from sidecar.analytics.detectors.resonance import ResonanceAnomalyDetector
    from sidecar.analytics.detectors.streaming import StreamingAnomalyDetector

    builders: dict[str, Callable[[], Any]] = {
        "streaming": StreamingAnomalyDetector,
        "contextual": lambda: ContextualAnomalyDetector(warmup=warm),
        "resonance": lambda: ResonanceAnomalyDetector(warmup=warm),
        "vigilance": lambda: DualVigilanceDetector(warmup=warm),
        "ensemble": lambda: EnsembleAnomalyDetector(warmup=warm),
        "ensemble-resonance": lambda: EnsembleAnomalyDetector(warmup=warm,
                                                              resonance=ResonanceAnomalyDetector(warmup=warm)),
        "ensemble-vigilance": lambda: ensemble_vigilance(warm),
    }
    return builders[name]()


def throughput(sensors: int = 1000, steps: int = 50, runs: int = 5, detector: str = "streaming",
               warm: int = 120) -> float:
    """Scored readings/s of ``score_many`` with one ingest batch per step (every sensor reports once).

    ``warm`` = 120 is the worst case for the dual-vigilance detector: its time step is
    ``warm // 104`` = 1 reading, so every reading presents a window to the category bank (with
    NAB's 750-reading warm-up the step is 7 readings)."""
    rng = np.random.default_rng(0)
    rates = []
    keys = [f"sensor-{i}" for i in range(sensors)]
    for _ in range(runs):
        det = _detector(detector, warm)
        timed = detector.startswith("ensemble") or detector == "streaming"

        def feed(step: int, det: Any = det, timed: bool = timed) -> None:
            v = rng.normal(20, 1, sensors)
            if timed:
                det.score_many(keys, v, np.full(sensors, 1.6e9 + 60.0 * step))
            else:
                det.score_many(keys, v)

        for step in range(warm):
            feed(step)
        t0 = time.perf_counter()
        for step in range(steps):
            feed(warm + step)
        rates.append(sensors * steps / (time.perf_counter() - t0))
    return statistics.median(rates)


def fixed_warmup(nab: Path, detector: str, readings: int = 750) -> dict[str, float]:
    """NAB scores of ``detect --warmup fixed``: every file's first ``readings`` readings are its
    warm-up (causal, what a live sensor gets) instead of NAB's 15 % of the file's total length."""
    with tempfile.TemporaryDirectory() as tmp:
        run_cli("detect", str(nab), "--output-dir", tmp, "--detector", detector, "--warmup", "fixed",
                "--warmup-readings", str(readings))
        results = {str(p.relative_to(tmp)).replace("\\", "/"): pd.read_csv(p) for p in Path(tmp).rglob("*.csv")}
    return {k: round(v["score"], 2) for k, v in nab_scoring.score_corpus(nab, results).items()}


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
    from sidecar.analytics.offline.cli import DEFAULT_DETECTOR

    fixed = fixed_warmup(nab, DEFAULT_DETECTOR)
    print(f"NAB {DEFAULT_DETECTOR} with a fixed causal 750-reading warm-up (detect --warmup fixed): {fixed}")
    print(f"machine: {machine()}")
    # Top level: NAB of what `detect` runs by default, throughput of the live (streaming) detector.
    emit({"nab": figures[DEFAULT_DETECTOR]["nab"], "nab_fixed_warmup": fixed, "nab_detector": DEFAULT_DETECTOR,
          "readings_per_s": figures["streaming"]["readings_per_s"], "detectors": figures})


if __name__ == "__main__":
    main()
