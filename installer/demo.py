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
   and equipment health changing.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "RevitPyIoT.extension" / "lib")]

from revitpyiot.live import LiveSync
from revitpyiot.transport.client import SidecarClient, SidecarError

from shared_schemas import protocol

DEMO_CONFIG = ROOT / "sidecar" / "data" / "demo.toml"
ACK_AFTER_S = 6.0
STATUS_EVERY_S = 5.0
DASHBOARD_PORT = 8765

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


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SidecarProcess:
    """The sidecar as a child process, stopped on exit whatever happens."""

    def __init__(self, data_dir: Path, config: Path | None):
        self.command_endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.event_endpoint = f"tcp://127.0.0.1:{free_port()}"
        command = [sys.executable, "-m", "sidecar", "serve",
                   "--command-endpoint", self.command_endpoint,
                   "--event-endpoint", self.event_endpoint,
                   "--data-dir", str(data_dir),
                   "--dashboard-port", str(DASHBOARD_PORT if port_is_free(DASHBOARD_PORT) else 0)]
        if config is not None and config.exists():
            command += ["--config", str(config)]
        self.log_path = data_dir / "sidecar.log"
        self._log = open(self.log_path, "w", encoding="utf-8")  # noqa: SIM115 (closed in stop())
        creationflags = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=self._log, stderr=subprocess.STDOUT,
                                        creationflags=creationflags)

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"sidecar exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            if "ready" in self.log_path.read_text(encoding="utf-8", errors="replace"):
                return
            time.sleep(0.05)
        raise RuntimeError(f"sidecar not ready after {timeout_s} s:\n{self.log_path.read_text()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


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
        self.lock = threading.Lock()

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
        line = f"{label} {severity:<8} {self.element(alert['unique_id'])}: {alert['message']}"
        self.print(colour(line, status, self.use_colour))

    def on_health(self, items: list[dict]) -> None:
        came_online = 0
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
                drivers = "; ".join(record.get("drivers") or [])
                line = (f"HEALTH  {self.element(record['unique_id'])}: {before} -> {status} "
                        f"({record['health_score']:.0f}/100){' ' + drivers if drivers else ''}")
                self.print(colour(line, status, self.use_colour))
        if came_online:
            self.print(colour(f"HEALTH  {came_online} elements reporting, healthy", protocol.STATUS_OK,
                              self.use_colour))

    def status_line(self, status: dict, elapsed: float) -> None:
        with self.lock:
            tally = Counter(self.health.values())
        parts = " ".join(colour(f"{s}={tally[s]}", s, self.use_colour) for s in protocol.HEALTH_STATUSES)
        self.print(f"[{elapsed:5.0f}s] {status['state']}: {status['sensors']} sensors, "
                   f"{status['readings_per_s']:.0f} readings/s, {status['active_alerts']} active alerts | "
                   f"health {parts}")

    def print(self, line: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)


def load_building() -> dict:
    from sidecar.sample_building import build_demo_building

    return build_demo_building()


def run_demo(duration: float | None, use_colour: bool) -> int:
    building = load_building()
    view = ConsoleView(building, use_colour)
    with tempfile.TemporaryDirectory(prefix="revitpyiot-demo-") as tmp:
        data_dir = Path(tmp)
        sidecar = SidecarProcess(data_dir, DEMO_CONFIG)
        client = None
        try:
            sidecar.wait_ready()
            token = (data_dir / protocol.TOKEN_FILE_NAME).read_text().strip()
            client = SidecarClient(sidecar.command_endpoint, sidecar.event_endpoint, token=token, timeout_s=5.0)
            hello = client.request(protocol.HELLO, {"client": "revitpyiot-demo", "client_version": protocol.__version__,
                                                   "protocols": [protocol.PROTOCOL_VERSION]})
            view.print(f"sidecar {hello['sidecar_version']} (protocol {hello['protocol']}) is {hello['state']}")
            configured = client.request(protocol.CONFIGURE, building)
            view.print(f"configured '{configured['building_id']}': {configured['elements']} elements, "
                       f"{configured['sensors']} sensors, {len(configured['warnings'])} warnings")

            wake = threading.Event()
            live = LiveSync(client, apply_batch=view.apply_batch, request_apply=wake.set)
            live.start()  # subscribes to alert/health and takes a snapshot, as the Live Sync button does
            client.request(protocol.START, {})
            dashboard_url = client.request(protocol.STATUS, {}).get("dashboard_url")
            if dashboard_url:
                view.print(f"live dashboard: {dashboard_url}  (open it in a browser)")
            view.print("monitoring started; Ctrl-C stops the demo" if duration is None
                       else f"monitoring started for {duration:.0f} s")
            summary = loop(client, live, view, wake, duration)
            live.stop()
            status = client.request(protocol.STATUS, {})
            client.request(protocol.STOP, {})
            print_summary(view, status, summary)
            if summary["alerts_raised"] == 0:
                print("no alert was raised yet: the demo faults need about 30 s to develop", file=sys.stderr)
            return 0
        except KeyboardInterrupt:
            return 0
        except SidecarError as error:
            print(f"demo failed: {error.code}: {error} (sidecar log: {sidecar.log_path})", file=sys.stderr)
            return 1
        finally:
            if client is not None:
                client.close()
            sidecar.stop()


def loop(client: SidecarClient, live: LiveSync, view: ConsoleView, wake: threading.Event,
         duration: float | None) -> dict:
    """The headless stand-in for Revit's main thread: drain live batches, acknowledge, report."""
    started = time.monotonic()
    next_status = started
    try:
        while duration is None or time.monotonic() - started < duration:
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
                view.status_line(client.request(protocol.STATUS, {}), now - started)
                next_status = now + STATUS_EVERY_S
    except KeyboardInterrupt:
        pass
    return {"alerts_raised": view.raised, "elapsed_s": time.monotonic() - started, "live": dict(live.stats)}


def print_summary(view: ConsoleView, status: dict, summary: dict) -> None:
    tally = Counter(view.health.values())
    print("\n=== RevitPyIoT demo summary ===")
    print(f"ran {summary['elapsed_s']:.0f} s; {status['sensors']} sensors; "
          f"{status['readings_per_s']:.0f} readings/s at the end")
    print(f"alerts: {view.counts['alerts_active']} raised/updated, {view.counts['alerts_acknowledged']} acknowledged, "
          f"{view.counts['alerts_cleared']} cleared; {status['active_alerts']} still active")
    print(f"health changes seen: {view.counts['health_changes']}; now: "
          + ", ".join(f"{s} {tally[s]}" for s in protocol.HEALTH_STATUSES))
    live = summary["live"]
    print(f"live sync: {live['events']} events in {live['batches']} batches, {live['snapshots']} snapshots, "
          f"{live['gaps']} gaps, {live['reconnects']} reconnects")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="RevitPyIoT end-to-end demo")
    parser.add_argument("--duration", type=float, default=None, help="stop after S seconds with a summary")
    parser.add_argument("--no-colour", action="store_true", help="plain text output")
    args = parser.parse_args(argv)
    if os.name == "nt":
        os.system("")  # enables ANSI colours in Windows 10+ consoles
    use_colour = not args.no_colour and sys.stdout.isatty()
    return run_demo(args.duration, use_colour)


if __name__ == "__main__":
    sys.exit(main())
