"""Run every analytics evaluation (NAB, LBNL AHU, AI4I 2020, C-MAPSS FD001) and print one JSON line.
Usage: python benchmarks/analytics_eval.py [--quick]"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent / "ml"


def main() -> None:
    extra = ["--quick"] if "--quick" in sys.argv else []
    figures = {}
    for script in ("eval_nab.py", "eval_lbnl.py", "eval_ai4i.py", "eval_cmapss.py"):
        proc = subprocess.run([sys.executable, str(HERE / script), *extra], check=True,
                              capture_output=True, text=True)
        lines = proc.stdout.strip().splitlines()
        print("\n".join(lines[:-1]))
        figures.update(json.loads(lines[-1]))
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
