"""Run every analytics evaluation (NAB, LBNL AHU, AI4I 2020, C-MAPSS FD001, the live path) and
print one JSON line with all headline figures (last line), including each part's wall time.
``--quick`` shortens each part (fewer throughput runs, no inner hyper-parameter search, a shorter
fault-free run); it finishes in well under 3 minutes on the 2-core development machine.
Usage: python benchmarks/analytics_eval.py [--quick]"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent / "ml"
PARTS = ("eval_nab.py", "eval_lbnl.py", "eval_ai4i.py", "eval_cmapss.py", "eval_live.py")


def main() -> None:
    extra = ["--quick"] if "--quick" in sys.argv else []
    env = dict(os.environ)
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")  # one core per part: figures comparable between machines
    figures: dict = {"seconds": {}}
    start = time.perf_counter()
    for script in PARTS:
        t0 = time.perf_counter()
        proc = subprocess.run([sys.executable, str(HERE / script), *extra], check=True,
                              capture_output=True, text=True, env=env)
        lines = proc.stdout.strip().splitlines()
        print("\n".join(lines[:-1]), flush=True)
        figures.update(json.loads(lines[-1]))
        figures["seconds"][script.removesuffix(".py")] = round(time.perf_counter() - t0, 1)
    figures["seconds"]["total"] = round(time.perf_counter() - start, 1)
    figures["load_average"] = [round(v, 2) for v in os.getloadavg()] if hasattr(os, "getloadavg") else None
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
