"""README's first command, end to end: the demo runs the real sidecar and the extension's own
client code, and alerts from the simulator's injected faults are raised and acknowledged; a
signal ends it with its summary and leaves no process behind."""
import importlib.util
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "installer" / "demo.py"


def test_demo_shows_alerts_flowing_end_to_end():
    result = subprocess.run([sys.executable, str(DEMO), "--duration", "30", "--no-colour"],
                            check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert re.search(r"configured 'harbour-view': \d+ elements, \d+ sensors", out)
    assert re.search(r"RAISED critical .*Supply Fan Vibration", out), out
    assert re.search(r"ACKED +critical", out), out
    assert "=== RevitPyIoT demo summary ===" in out
    alert_lines = [line for line in out.splitlines() if re.search(r" (RAISED|ACKED|CLEARED) ", line)]
    assert any(" mm/s" in line for line in alert_lines), out
    assert not any(re.search(r"\d (Cel|kW\.h|ug/m3)\b", line) for line in alert_lines), out  # symbols: °C, kWh
    summary = out.split("=== RevitPyIoT demo summary ===")[1]
    raised = int(re.search(r"alerts: (\d+) raised", summary).group(1))
    assert raised >= 2
    assert re.search(r"live sync: [1-9]\d* events", summary)
    # health: the changes that matter one by one, the ok <-> watch flicker summarised per interval
    health = [line for line in out.splitlines() if " HEALTH " in line]
    assert re.search(r"HEALTH  .*Supply Fan Vibration: \w+ -> critical", out), out
    assert any("other changes on" in line for line in health), out
    for line in health:
        if "->" in line and "other changes" not in line:
            assert re.search(r": \w+ -> (warning|critical) |: (warning|critical) -> \w+ ", line), line
    changes = int(re.search(r"health changes seen: (\d+)", summary).group(1))
    assert len(health) < max(40, changes // 3), f"{len(health)} HEALTH lines for {changes} changes:\n{out}"


def _demo_module():
    spec = importlib.util.spec_from_file_location("revitpyiot_demo", DEMO)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


# ``python installer/dev.py demo`` runs the demo through dev.run_demo (README's first command)
VIA_DEV = ("import sys; sys.path.insert(0, 'installer'); import dev; "
           "sys.exit(dev.run_demo([sys.executable, 'installer/demo.py', '--no-colour']))")


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals; Windows' console close is tested below")
@pytest.mark.parametrize("signame, to_group, when, via_dev", [
    ("SIGTERM", False, "monitoring started", False),   # kill <pid>
    ("SIGHUP", True, "monitoring started", False),     # the terminal closed: its whole foreground group
    ("SIGINT", True, "monitoring started", False),     # Ctrl-C: the whole foreground group
    ("SIGTERM", False, ") is idle at ", False),        # while still starting up
    ("SIGINT", True, "monitoring started", True),      # Ctrl-C to `python installer/dev.py demo`
])
def test_a_signal_prints_the_summary_and_leaves_no_process_behind(signame, to_group, when, via_dev):
    _port_free = _demo_module().port_is_free
    command = [sys.executable, "-c", VIA_DEV] if via_dev else [sys.executable, str(DEMO), "--no-colour"]
    demo = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env=dict(os.environ, PYTHONUNBUFFERED="1"))
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(demo.stdout.readline, "")), daemon=True)
    reader.start()
    sidecar_pid = None
    try:
        deadline = time.monotonic() + 60
        while not any(when in line for line in list(lines)):
            assert demo.poll() is None and time.monotonic() < deadline, "".join(lines)
            time.sleep(0.05)
        out = "".join(lines)
        started = re.search(r"pid (\d+)\) is \w+ at tcp://127\.0\.0\.1:(\d+)", out)
        sidecar_pid, command_port = int(started.group(1)), int(started.group(2))
        assert _alive(sidecar_pid) and not _port_free(command_port)
        if when == "monitoring started":
            time.sleep(1.0)
        number = getattr(signal, signame)
        if to_group:
            os.killpg(demo.pid, number)
        else:
            os.kill(demo.pid, number)
        demo.wait(30)
        reader.join(10)
        out = "".join(lines)
        assert demo.returncode == 0, out
        if when == "monitoring started":
            assert "=== RevitPyIoT demo summary ===" in out, out
            assert f"(stopped by {signame})" in out, out
            dashboard = re.search(r"live dashboard: http://127\.0\.0\.1:(\d+)/", out)
            assert dashboard and _port_free(int(dashboard.group(1))), out
        assert not _alive(sidecar_pid), f"the sidecar (pid {sidecar_pid}) was left running:\n{out}"
        assert _port_free(command_port), out
    finally:
        if demo.poll() is None:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(5)
        if sidecar_pid is not None and _alive(sidecar_pid):
            os.kill(sidecar_pid, signal.SIGKILL)


def test_closing_the_windows_console_stops_the_demo_and_waits_for_the_sidecar_stop():
    """The handler SetConsoleCtrlHandler gets (its registration needs Windows; its behaviour does not)."""
    demo = _demo_module()
    stop = demo.StopRequest()
    assert stop.on_console_event(0) is False and not stop.event.is_set()  # Ctrl-C: left to the signal module
    answered: list[bool] = []
    handler = threading.Thread(target=lambda: answered.append(stop.on_console_event(demo.CTRL_CLOSE_EVENT)))
    handler.start()
    assert stop.event.wait(5) and stop.reason == "console closed"
    time.sleep(0.2)
    assert handler.is_alive(), "the handler returned before the sidecar was stopped (Windows would end us)"
    stop.finished.set()
    handler.join(5)
    assert answered == [True]


def test_health_lines_print_what_matters_and_summarise_the_rest():
    demo = _demo_module()
    building = {"elements": [{"unique_id": f"e{i}", "name": f"E{i}"} for i in range(3)]}
    view = demo.ConsoleView(building, use_colour=False)
    printed: list[str] = []
    view.print = printed.append

    def health(uid, status):
        view.on_health([{"unique_id": uid, "status": status, "health_score": 50.0, "drivers": []}])

    view.on_health([{"unique_id": uid, "status": "ok", "health_score": 100.0} for uid in ("e0", "e1", "e2")])
    assert printed == ["HEALTH  3 elements reporting, healthy"]
    for _ in range(20):  # flicker near a limit: no line each
        health("e0", "watch")
        health("e0", "ok")
    health("e1", "warning")
    health("e1", "critical")
    health("e2", "watch")
    health("e1", "ok")
    assert printed[1:] == ["HEALTH  E1: ok -> warning (50/100)", "HEALTH  E1: warning -> critical (50/100)",
                           "HEALTH  E1: critical -> ok (50/100) (recovered)"]
    line = view.minor_changes_line(5.0)
    assert line == "HEALTH  last 5 s: 41 other changes on 2 elements (ok -> watch 21, watch -> ok 20)"
    assert view.minor_changes_line(5.0) is None  # per interval
    assert view.counts["health_changes"] == 44


def test_console_alert_lines_show_unit_symbols_not_ucum_codes():
    demo = _demo_module()
    building = {"elements": [{"unique_id": "e1", "name": "Office 2.01 Temperature"}]}
    view = demo.ConsoleView(building, use_colour=False)
    printed: list[str] = []
    view.print = printed.append
    alert = {"alert_id": "a1", "unique_id": "e1", "severity": "warning", "state": "active",
             "message": "Office 2.01 Temperature 26.4 Cel > 26 Cel (warning)"}   # an older sidecar's words
    view.on_alert(alert)
    view.on_alert({**alert, "state": "cleared", "message": "Office 2.01 Temperature back within limits (25.1 °C)"})
    assert printed == ["RAISED warning  Office 2.01 Temperature: Office 2.01 Temperature 26.4 °C > 26 °C (warning)",
                       "CLEARED warning  Office 2.01 Temperature: Office 2.01 Temperature back within limits (25.1 °C)"]
