"""benchmarks/dashboard.py reports the median of its runs with every run beside it, and the load."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_dashboard_benchmark_reports_medians_with_each_run_and_the_load_average():
    result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "dashboard.py"), "--runs", "2",
                             "--seconds", "0.4", "--clients", "2", "--rate", "1000"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert figures["runs"] == 2 and len(figures["loadavg_before"]) == len(figures["loadavg_after"]) == 3
    for key in ("ingest_slowdown_ratio", "dashboard_cpu_us_per_reading", "push_latency_ms_p99"):
        runs = figures[f"{key}_runs"]
        assert len(runs) == 2
        assert min(runs) - 1e-3 <= figures[key] <= max(runs) + 1e-3   # the median of the two
    assert figures["readings"] > 0 and figures["client_resyncs"] == 0
    text = "\n".join(lines)
    assert "load average (1, 5, 15 min): before" in text
    assert f"ingest slowdown ratio     {figures['ingest_slowdown_ratio']:.3f} (runs " in text and "; range " in text
