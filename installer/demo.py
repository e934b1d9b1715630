#!/usr/bin/env python3
"""The end-to-end demo: a real sidecar, a simulated building, and the extension's
own client code running headless under CPython.

    python installer/dev.py demo [--duration S]

What happens:
1. the sidecar starts (``python -m sidecar serve``) on free loopback ports with a
   throw-away data folder and the demo simulator configuration (injected faults);
2. the extension's ``SidecarClient`` says hello, sends the sample building
   ("Harbour View Office", the same BuildingConfig the Export button produces),
   starts monitoring and subscribes to ``alert``/``health``/``status`` events;
3. a console view shows sensors, readings per second, alerts as they are raised,
   acknowledged (the demo operator acknowledges critical alerts after a few
   seconds, as a facility engineer would from the Alerts button) and cleared,
   and equipment health changing: each element entering warning or critical and
   each recovery on its own line, the rest (ok <-> watch flicker) one line per
   status interval.

Ctrl-C, SIGTERM, SIGHUP (a closed terminal) and, on Windows, Ctrl-Break and a
closed console window all end it the same way: the summary is printed and the
sidecar is stopped (it runs in its own session, so the terminal's signals reach
only the demo, which stops it).
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "RevitPyIoT.extension" / "lib")]

from revitpyiot.live import LiveSync
from revitpyiot.transport.client import SidecarClient, SidecarError

from shared_schemas import protocol
from shared_schemas.units import symbols_in_text
from sidecar.client.launcher import LOOPBACK_ANY_PORT, LaunchError, SidecarLauncher, serve_arguments

DEMO_CONFIG = ROOT / "sidecar" / "data" / "demo.toml"
ACK_AFTER_S = 6.0
STATUS_EVERY_S = 5.0
DASHBOARD_PORT = 8765
# Statuses whose arrival is always printed (and whose end is printed as a recovery).
ALARMING = (protocol.STATUS_WARNING, protocol.STATUS_CRITICAL)
RANK = {protocol.STATUS_UNKNOWN: 0, protocol.STATUS_OK: 0, protocol.STATUS_WATCH: 1,
        protocol.STATUS_WARNING: 2, protocol.STATUS_CRITICAL: 3}
# Windows console control events (wincon.h) that end the process once the handler returns.
CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT = 2, 5, 6
CONSOLE_CLOSE_GRACE_S = 4.5  # Windows ends the process about 5 s after CTRL_CLOSE_EVENT

ANSI = {
    protocol.STATUS_OK: "\033[32m",
    protocol.STATUS_WATCH: "\033[33m",
    protocol.STATUS_WARNING: "\033[38;5;208m",
    protocol.STATUS_CRITICAL: "\033[31m",
    protocol.STATUS_UNKNOWN: "\033[90m",
}
RESET = "\033[0m"


def colour(text: str, status: str, enabled: bool) -> str:
    return f"{ANSI.get(status, '')}{text}{RESET}" if enabled else text


def port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


class StopRequest:
    """How a signal ends the demo. Before monitoring starts a signal interrupts at once
    (``KeyboardInterrupt``; the sidecar is stopped on the way out). While monitoring it only
    sets ``event``: the loop ends, the summary is printed, the sidecar stopped. A second
    Ctrl-C skips the summary; nothing interrupts the final stop of the sidecar."""

    RAISE, FLAG, IGNORE = "raise", "flag", "ignore"

    def __init__(self) -> None:
        self.event = threading.Event()      # stop monitoring
        self.finished = threading.Event()   # the sidecar is stopped (a console-close handler waits for it)
        self.mode = self.RAISE
        self.reason = ""

    def install(self) -> None:
        for name in ("SIGINT", "SIGTERM", "SIGHUP", "SIGBREAK"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), self.on_signal)
        if sys.platform == "win32":
            self._install_console_handler()

    def on_signal(self, signum: int, frame: Any = None) -> None:
        self.request(signal.Signals(signum).name)

    def request(self, reason: str) -> None:
        again = self.event.is_set()
        self.reason = self.reason or reason
        self.event.set()
        # A second Ctrl-C is an impatient user; a second SIGHUP or SIGTERM is just the shell
        # and the kernel both passing on a closed terminal.
        if self.mode == self.RAISE or (self.mode == self.FLAG and again and reason == "SIGINT"):
            raise KeyboardInterrupt

    def on_console_event(self, ctrl_type: int) -> bool:
        """Windows' console handler (it runs on a thread of its own). Closing the console,
        logging off or shutting down is no signal Python's ``signal`` module delivers, and
        the process is ended once this returns (or after about 5 s): stop the demo and wait
        for the sidecar to be stopped. Ctrl-C/Ctrl-Break go on to the ``signal`` handlers."""
        if ctrl_type not in (CTRL_CLOSE_EVENT, CTRL_LOGOFF_EVENT, CTRL_SHUTDOWN_EVENT):
            return False
        self.reason = self.reason or "console closed"
        self.event.set()
        self.finished.wait(CONSOLE_CLOSE_GRACE_S)
        return True

    def _install_console_handler(self) -> None:
        import ctypes
        from ctypes import wintypes

        routine = ctypes.WINFUNCTYPE(wintypes.BOOL, wintypes.DWORD)  # type: ignore[attr-defined]
        self._console_handler = routine(lambda ctrl_type: bool(self.on_console_event(int(ctrl_type))))
        if not ctypes.windll.kernel32.SetConsoleCtrlHandler(self._console_handler, True):  # type: ignore[attr-defined]
            print("demo: could not watch for the console window closing", file=sys.stderr)


class ConsoleView:
    """Prints events as they happen and a status line every few seconds."""

    def __init__(self, building: dict, use_colour: bool):
        self.names = {e["unique_id"]: e.get("name") or e.get("mark") or e["unique_id"] for e in building["elements"]}
        self.use_colour = use_colour
        self.health: dict[str, str] = {}
        self.counts: Counter[str] = Counter()
        self.to_ack: dict[str, float] = {}
        self.seen_alerts: set[str] = set()
        self.raised = 0
        self.minor: Counter[str] = Counter()      # this interval's other health changes, "ok -> watch": n
        self.minor_elements: set[str] = set()
        self.lock = threading.Lock()
        self.output_lost = False

    def element(self, unique_id: str) -> str:
        return self.names.get(unique_id, unique_id)

    def apply_batch(self, batch) -> None:
        """What Revit does on its main thread with a live batch, as console lines."""
        for alert in batch.alerts:
            self.on_alert(alert)
        self.on_health(batch.health)

    def due_acks(self, now: float) -> list[str]:
        due = [alert_id for alert_id, when in self.to_ack.items() if now >= when]
        for alert_id in due:
            del self.to_ack[alert_id]
        return due

    def on_alert(self, alert: dict) -> None:
        state = alert["state"]
        if state == protocol.ALERT_ACTIVE:
            if alert["alert_id"] not in self.seen_alerts:
                self.raised += 1
            if alert["severity"] == protocol.SEVERITY_CRITICAL:
                self.to_ack.setdefault(alert["alert_id"], time.monotonic() + ACK_AFTER_S)
        else:
            self.to_ack.pop(alert["alert_id"], None)
        self.seen_alerts.add(alert["alert_id"])
        self.counts[f"alerts_{state}"] += 1
        severity = alert["severity"]
        label = {"active": "RAISED", "acknowledged": "ACKED ", "cleared": "CLEARED"}.get(state, state)
        status = severity if state != "cleared" else protocol.STATUS_OK
        # units as symbols ("31.2 °C"): the sidecar writes them so, and a message with UCUM codes reads the same
        line = f"{label} {severity:<8} {self.element(alert['unique_id'])}: {symbols_in_text(alert['message'])}"
        self.print(colour(line, status, self.use_colour))

    def on_health(self, items: list[dict]) -> None:
        """Entering warning or critical and recovering from them are printed as they come;
        other changes (mostly ok <-> watch near a limit) are counted for ``status_line``."""
        came_online = 0
        lines = []
        with self.lock:
            for record in items:
                before = self.health.get(record["unique_id"])
                status = record["status"]
                self.health[record["unique_id"]] = status
                if record["unique_id"] not in self.names or before == status:
                    continue
                if before in (None, protocol.STATUS_UNKNOWN) and status == protocol.STATUS_OK:
                    came_online += 1  # first data from a healthy element: one summary line, not hundreds
                    continue
                if before is None:
                    continue
                self.counts["health_changes"] += 1
                worse = RANK.get(status, 0) > RANK.get(before, 0)
                if not ((worse and status in ALARMING) or (not worse and before in ALARMING)):
                    self.minor[f"{before} -> {status}"] += 1
                    self.minor_elements.add(record["unique_id"])
                    continue
                self.counts["health_alarming" if worse else "health_recovered"] += 1
                drivers = "; ".join(record.get("drivers") or [])
                lines.append(colour(f"HEALTH  {self.element(record['unique_id'])}: {before} -> {status} "
                                    f"({record['health_score']:.0f}/100){' ' + drivers if drivers else ''}"
                                    f"{'' if worse else ' (recovered)'}", status, self.use_colour))
        for line in lines:
            self.print(line)
        if came_online:
            self.print(colour(f"HEALTH  {came_online} elements reporting, healthy", protocol.STATUS_OK,
                              self.use_colour))

    def minor_changes_line(self, interval_s: float) -> str | None:
        """One line for this interval's other health changes (then forgotten), or None."""
        with self.lock:
            minor, elements = self.minor, len(self.minor_elements)
            self.minor, self.minor_elements = Counter(), set()
        if not minor:
            return None
        kinds = ", ".join(f"{change} {n}" for change, n in minor.most_common())
        return f"HEALTH  last {interval_s:.0f} s: {sum(minor.values())} other changes on {elements} elements ({kinds})"

    def status_line(self, status: dict, elapsed: float, interval_s: float = STATUS_EVERY_S) -> None:
        minor = self.minor_changes_line(interval_s)
        if minor is not None:
            self.print(colour(minor, protocol.STATUS_WATCH, self.use_colour))
        with self.lock:
            tally = Counter(self.health.values())
        parts = " ".join(colour(f"{s}={tally[s]}", s, self.use_colour) for s in protocol.HEALTH_STATUSES)
        self.print(f"[{elapsed:5.0f}s] {status['state']}: {status['sensors']} sensors, "
                   f"{status['readings_per_s']:.0f} readings/s, {status['active_alerts']} active alerts | "
                   f"health {parts}")

    def print(self, line: str) -> None:
        emit(f"{time.strftime('%H:%M:%S')} {line}")


def emit(line: str) -> None:
    """Print, unless the terminal is gone (SIGHUP): then the demo still stops the sidecar."""
    try:
        print(line, flush=True)
    except UnicodeEncodeError:  # a console code page without "°C" or "µg/m³": show what it can
        encoding = getattr(sys.stdout, "encoding", None) or "ascii"
        emit(line.encode(encoding, "replace").decode(encoding))
    except OSError:
        pass


def load_building() -> dict:
    """The sample building with its rooms' outlines, as the extension exports them from Revit."""
    from sidecar.simulation.floor_plans import with_outlines
    from sidecar.simulation.sample_building import build_demo_building

    return with_outlines(build_demo_building())


def run_demo(duration: float | None, use_colour: bool, stop: StopRequest | None = None) -> int:
    stop = stop or StopRequest()
    building = load_building()
    view = ConsoleView(building, use_colour)
    with tempfile.TemporaryDirectory(prefix="revitpyiot-demo-") as tmp:
        data_dir = Path(tmp)
        dashboard_port = DASHBOARD_PORT if port_is_free(DASHBOARD_PORT) else 0
        sidecar = SidecarLauncher(
            serve_arguments(command_endpoint=LOOPBACK_ANY_PORT, event_endpoint=LOOPBACK_ANY_PORT, data_dir=data_dir,
                            config=DEMO_CONFIG if DEMO_CONFIG.exists() else None, dashboard_port=dashboard_port),
            log_path=data_dir / "sidecar.log", cwd=ROOT, client_name="revitpyiot-demo")
        client = None
        live = None
        try:
            sidecar.start(ready_timeout_s=30.0)
            client = SidecarClient(sidecar.command_endpoint, sidecar.event_endpoint, token=sidecar.token, timeout_s=5.0)
            hello = client.request(protocol.HELLO, {"client": "revitpyiot-demo", "client_version": protocol.__version__,
                                                   "protocols": [protocol.PROTOCOL_VERSION]})
            view.print(f"sidecar {hello['sidecar_version']} (protocol {hello['protocol']}, pid {sidecar.pid}) "
                       f"is {hello['state']} at {sidecar.command_endpoint}")
            configured = client.request(protocol.CONFIGURE, building)
            view.print(f"configured '{configured['building_id']}': {configured['elements']} elements, "
                       f"{configured['sensors']} sensors, {len(configured['warnings'])} warnings")

            wake = threading.Event()
            live = LiveSync(client, apply_batch=view.apply_batch, request_apply=wake.set)
            live.start()  # subscribes to alert/health and takes a snapshot, as the Live Sync button does
            client.request(protocol.START, {})
            dashboard_url = wait_for_dashboard_url(client)
            if dashboard_url:
                view.print(f"live dashboard: {dashboard_url}  (open it in a browser)")
            view.print("monitoring started; Ctrl-C stops the demo" if duration is None
                       else f"monitoring started for {duration:.0f} s")
            stop.mode = StopRequest.FLAG
            summary = loop(client, live, view, wake, duration, stop.event)
            live.stop()
            status = final_status(client) or summary["last_status"]
            print_summary(view, status, summary, stop.reason)
            if summary["alerts_raised"] == 0 and not stop.reason:
                print("no alert was raised yet: the demo faults need about 30 s to develop", file=sys.stderr)
            return 0
        except KeyboardInterrupt:
            return 0
        except LaunchError as error:
            print(f"demo failed: {error}", file=sys.stderr)
            return 1
        except SidecarError as error:
            print(f"demo failed: {error.code}: {error} (sidecar log: {sidecar.log_path})", file=sys.stderr)
            return 1
        finally:
            stop.mode = StopRequest.IGNORE  # nothing interrupts stopping the sidecar
            if live is not None:
                live.stop()
            if client is not None:
                client.close()
            sidecar.stop()
            stop.finished.set()


def wait_for_dashboard_url(client: SidecarClient, timeout_s: float = 5.0) -> str | None:
    """The address the sidecar's status names; the dashboard starts a moment after the
    command endpoint answers, so ask again for a few seconds."""
    deadline = time.monotonic() + timeout_s
    while True:
        url = client.request(protocol.STATUS, {}).get("dashboard_url")
        if url or time.monotonic() >= deadline:
            return url
        time.sleep(0.1)


def final_status(client: SidecarClient) -> dict | None:
    """The sidecar's last ``status``, then monitoring stopped; None if it is already gone
    (on Windows a closed console ends it too)."""
    try:
        status = client.request(protocol.STATUS, {}, timeout_s=2.0)
        client.request(protocol.STOP, {}, timeout_s=2.0)
        return status
    except SidecarError:
        return None


def loop(client: SidecarClient, live: LiveSync, view: ConsoleView, wake: threading.Event,
         duration: float | None, stop: threading.Event | None = None) -> dict:
    """The headless stand-in for Revit's main thread: drain live batches, acknowledge, report."""
    stop = stop or threading.Event()
    started = time.monotonic()
    next_status = started
    last_status: dict | None = None
    try:
        while (duration is None or time.monotonic() - started < duration) and not stop.is_set():
            wake.wait(0.2)
            wake.clear()
            while live.drain() is not None:  # in Revit, the ExternalEvent handler does this
                pass
            now = time.monotonic()
            for alert_id in view.due_acks(now):
                try:
                    client.request(protocol.ACK, {"alert_id": alert_id, "user": "demo.operator",
                                                  "note": "acknowledged from the demo console"})
                except SidecarError as error:  # cleared meanwhile: nothing to acknowledge
                    view.print(f"ack {alert_id}: {error.code}")
            if now >= next_status:
                last_status = client.request(protocol.STATUS, {})
                view.status_line(last_status, now - started)
                next_status = now + STATUS_EVERY_S
    except KeyboardInterrupt:
        pass
    return {"alerts_raised": view.raised, "elapsed_s": time.monotonic() - started, "live": dict(live.stats),
            "last_status": last_status}


def print_summary(view: ConsoleView, status: dict | None, summary: dict, reason: str = "") -> None:
    tally = Counter(view.health.values())
    status = status or {}
    emit("\n=== RevitPyIoT demo summary ===")
    emit(f"ran {summary['elapsed_s']:.0f} s{f' (stopped by {reason})' if reason else ''}; "
         f"{status.get('sensors', '?')} sensors; {status.get('readings_per_s', 0):.0f} readings/s at the end")
    emit(f"alerts: {view.counts['alerts_active']} raised/updated, {view.counts['alerts_acknowledged']} acknowledged, "
         f"{view.counts['alerts_cleared']} cleared; {status.get('active_alerts', '?')} still active")
    emit(f"health changes seen: {view.counts['health_changes']} ({view.counts['health_alarming']} into warning or "
         f"critical, {view.counts['health_recovered']} recovered); now: "
         + ", ".join(f"{s} {tally[s]}" for s in protocol.HEALTH_STATUSES))
    live = summary["live"]
    emit(f"live sync: {live['events']} events in {live['batches']} batches, {live['snapshots']} snapshots, "
         f"{live['gaps']} gaps, {live['reconnects']} reconnects")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="RevitPyIoT end-to-end demo")
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds with a summary")
    parser.add_argument("--no-colour", action="store_true", help="plain text output")
    args = parser.parse_args(argv)
    if os.name == "nt":
        os.system("")  # enables ANSI colours in Windows 10+ consoles
    use_colour = not args.no_colour and sys.stdout.isatty()
    stop = StopRequest()
    stop.install()
    return run_demo(args.duration, use_colour, stop)


if __name__ == "__main__":
    sys.exit(main())
