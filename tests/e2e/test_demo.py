"""README's first command, end to end: the demo runs the real sidecar and the extension's own
client code, and alerts from the simulator's injected faults are raised and acknowledged."""
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_demo_shows_alerts_flowing_end_to_end():
    result = subprocess.run([sys.executable, str(ROOT / "installer" / "demo.py"), "--duration", "30", "--no-colour"],
                            cwd=ROOT, capture_output=True, text=True, timeout=120)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(r"configured 'harbour-view': \d+ elements, \d+ sensors", out)
    assert re.search(r"RAISED critical .*Supply Fan Vibration", out), out
    assert re.search(r"ACKED +critical", out), out
    assert "=== RevitPyIoT demo summary ===" in out
    summary = out.split("=== RevitPyIoT demo summary ===")[1]
    raised = int(re.search(r"alerts: (\d+) raised", summary).group(1))
    assert raised >= 2
    assert re.search(r"live sync: [1-9]\d* events", summary)
