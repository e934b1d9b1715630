"""The tray icon: start and stop monitoring with one click, see the worst status at a glance.

It sits beside the dashboard as the other user-facing part, but runs as its own small
process. ``python -m sidecar tray`` starts the sidecar as a child process (``python -m
sidecar serve ...``, through ``sidecar.client.launcher``) and talks to it over ZeroMQ like
any other client (``sidecar.client.requests``, with the token from the data folder) and
watches the event stream for the icon's colour and for new critical alerts. With
``--config FILE`` it reads the endpoints and data folder from the same file it hands to
the child, so both always agree; the dashboard's address comes from the sidecar's
``status`` (``dashboard_url``), never from a guess.

The menu actions are plain methods of ``TrayController`` so they can be tested with
``PYSTRAY_BACKEND=dummy``; pystray itself is imported only when an icon is built,
because it picks its backend (and may need a display) at import time.
"""
from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import webbrowser
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import zmq
from PIL import Image, ImageDraw

from shared_schemas import protocol
from sidecar.client.launcher import LaunchError, SidecarLauncher, say_hello, serve_arguments
from sidecar.client.requests import RequestClient, SidecarError

log = logging.getLogger("sidecar.tray")

ICON_SIZE = 64
NOTIFY_SEVERITY = protocol.SEVERITY_CRITICAL
TRAY_CLIENT = "revitpyiot-tray"


# ----- talking to the sidecar (requests: sidecar.client.requests) -----
class StatusTracker:
    """The worst active status from health records and open alerts (pure; fed by events)."""

    def __init__(self) -> None:
        self.health: dict[str, str] = {}
        self.open_alerts: dict[str, dict[str, Any]] = {}

    def load_snapshot(self, snapshot: dict[str, Any]) -> None:
        self.health = {h["unique_id"]: h.get("status", protocol.STATUS_UNKNOWN) for h in snapshot.get("health", [])}
        self.open_alerts = {}
        for alert in snapshot.get("alerts", []):
            self.on_alert(alert)

    def on_health(self, items: list[dict[str, Any]]) -> None:
        for item in items:
            self.health[item["unique_id"]] = item.get("status", protocol.STATUS_UNKNOWN)

    def on_alert(self, alert: dict[str, Any]) -> bool:
        """Track the alert; True when it is a new active critical one (worth a notification)."""
        alert_id = alert.get("alert_id")
        if not alert_id:
            return False
        is_new = alert_id not in self.open_alerts
        if alert.get("state") == protocol.ALERT_CLEARED:
            self.open_alerts.pop(alert_id, None)
            return False
        self.open_alerts[alert_id] = alert
        return is_new and alert.get("state") == protocol.ALERT_ACTIVE and alert.get("severity") == NOTIFY_SEVERITY

    def worst(self) -> str:
        severity_status = {protocol.SEVERITY_CRITICAL: protocol.STATUS_CRITICAL,
                           protocol.SEVERITY_WARNING: protocol.STATUS_WARNING,
                           protocol.SEVERITY_INFO: protocol.STATUS_WATCH}
        statuses = list(self.health.values())
        statuses += [severity_status.get(a.get("severity", ""), protocol.STATUS_WATCH) for a in self.open_alerts.values()]
        known = [s for s in statuses if s != protocol.STATUS_UNKNOWN]
        return protocol.worst_status(known) if known else protocol.STATUS_UNKNOWN


class EventWatcher(threading.Thread):
    """Subscribes to ``alert``/``health``/``status`` events on its own thread (its own socket)."""

    def __init__(self, endpoint: str, on_event: Callable[[str, dict[str, Any]], None], *,
                 context: zmq.Context[Any] | None = None) -> None:
        super().__init__(name="tray-events", daemon=True)
        self.endpoint, self.on_event = endpoint, on_event
        self._context = context or zmq.Context.instance()
        self._stopping = threading.Event()
        self.subscribed = threading.Event()

    def run(self) -> None:
        sock = self._context.socket(zmq.SUB)
        sock.setsockopt(zmq.LINGER, 0)
        for topic in (protocol.TOPIC_ALERT, protocol.TOPIC_HEALTH, protocol.TOPIC_STATUS):
            sock.setsockopt(zmq.SUBSCRIBE, topic.encode("ascii"))
        sock.connect(self.endpoint)
        self.subscribed.set()
        try:
            while not self._stopping.is_set():
                if not sock.poll(200):
                    continue
                frames = sock.recv_multipart()
                try:
                    payload = msgpack.unpackb(frames[-1], raw=False)
                    self.on_event(frames[0].decode("ascii", "replace"), payload.get("body") or {})
                except Exception:
                    log.exception("tray: could not handle an event")
        finally:
            sock.close(0)

    def stop(self) -> None:
        self._stopping.set()


# ----- the icon -----
def icon_image(status: str, size: int = ICON_SIZE) -> Image.Image:
    """A building glyph on a disc in the status colour (PROTOCOL.md colours)."""
    colour = protocol.STATUS_COLOURS.get(status, protocol.STATUS_COLOURS[protocol.STATUS_UNKNOWN])
    image = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.ellipse((1, 1, size - 2, size - 2), fill=colour + (255,))
    s = size / 64
    white = (255, 255, 255, 255)
    draw.rectangle((20 * s, 24 * s, 44 * s, 48 * s), fill=white)               # the building
    draw.polygon([(16 * s, 26 * s), (32 * s, 14 * s), (48 * s, 26 * s)], fill=white)  # its roof
    for x in (24, 35):                                                          # windows
        for y in (29, 38):
            draw.rectangle((x * s, y * s, (x + 5) * s, (y + 5) * s), fill=colour + (255,))
    return image


def open_path(path: Path) -> None:
    """Open a file with the desktop's default application."""
    if sys.platform == "win32":
        os.startfile(str(path))  # type: ignore[attr-defined]
    else:
        subprocess.Popen(["open" if sys.platform == "darwin" else "xdg-open", str(path)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class TrayController:
    """The tray's behaviour, independent of pystray: each menu item calls one method."""

    def __init__(self, client: RequestClient, *, dashboard_url: str | None = None,
                 log_path: Path | None = None, open_url: Callable[[str], Any] = webbrowser.open,
                 open_file: Callable[[Path], Any] = open_path, on_quit: Callable[[], Any] | None = None) -> None:
        self.client = client
        self.dashboard_url = dashboard_url
        self.log_path = log_path
        self.open_url, self.open_file, self.on_quit = open_url, open_file, on_quit
        self.tracker = StatusTracker()
        self.worst = protocol.STATUS_UNKNOWN
        self.state = protocol.STATE_IDLE
        self.icon: Any = None
        self.notifications: list[tuple[str, str]] = []
        self.last_error = ""
        self._shown: tuple[str, str] = ("", "")
        self._lock = threading.Lock()

    # --- menu actions ---
    def start_monitoring(self) -> dict[str, Any]:
        return self._command(protocol.START)

    def stop_monitoring(self) -> dict[str, Any]:
        return self._command(protocol.STOP)

    def open_dashboard(self) -> str | None:
        """Open the URL the sidecar's status names (asking it again when none is known yet:
        the dashboard starts a moment after the command endpoint answers)."""
        if self.dashboard_url is None:
            try:
                status = self.client.request(protocol.STATUS)
            except SidecarError as error:
                self._notify("RevitPyIoT", f"the sidecar did not answer: {error}")
                return None
            with self._lock:
                self._apply_status(status)
        url = self.dashboard_url
        if url is None:
            self._notify("No dashboard", "The sidecar serves no dashboard ([dashboard] enabled = false, "
                         "or its port was taken: see the log).")
            return None
        self.open_url(url)
        return url

    def open_logs(self) -> Path | None:
        if self.log_path is None:
            self._notify("No log file", "This sidecar was not started by the tray.")
            return None
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.touch(exist_ok=True)
        self.open_file(self.log_path)
        return self.log_path

    def quit(self) -> None:
        if self.icon is not None:
            self.icon.stop()
        if self.on_quit is not None:
            self.on_quit()

    # --- state ---
    def refresh(self) -> None:
        """Ask the sidecar for its whole picture (at start, and when events were missed)."""
        status = self.client.request(protocol.STATUS)
        snapshot = self.client.request(protocol.SNAPSHOT)
        with self._lock:
            self._apply_status(status)
            self.tracker.load_snapshot(snapshot)
        self._update_icon()

    def on_event(self, topic: str, body: dict[str, Any]) -> None:
        notify: dict[str, Any] | None = None
        with self._lock:
            if topic == protocol.TOPIC_ALERT:
                notify = body if self.tracker.on_alert(body) else None
            elif topic == protocol.TOPIC_HEALTH:
                self.tracker.on_health(body.get("items", []))
            elif topic == protocol.TOPIC_STATUS:
                self._apply_status(body)
        if notify is not None:
            self._notify("Critical alert", str(notify.get("message", "critical alert")))
        self._update_icon()

    def title(self) -> str:
        # plain ASCII: the X11 backend sets WM_NAME as latin-1
        return f"RevitPyIoT - {self.state}, {self.worst}"

    def menu_items(self) -> list[tuple[str, Callable[[], Any], Callable[[], bool]]]:
        """(text, action, enabled) for each menu entry, in order."""
        return [
            ("Start monitoring", self.start_monitoring, lambda: self.state != protocol.STATE_MONITORING),
            ("Stop monitoring", self.stop_monitoring, lambda: self.state == protocol.STATE_MONITORING),
            ("Open dashboard", self.open_dashboard, lambda: True),
            ("Open logs", self.open_logs, lambda: self.log_path is not None),
            ("Quit", self.quit, lambda: True),
        ]

    def build_icon(self) -> Any:
        import pystray

        items = []
        for text, action, enabled in self.menu_items():
            items.append(pystray.MenuItem(text, _menu_action(action), enabled=_menu_check(enabled),
                                          default=text == "Open dashboard"))
        self.icon = pystray.Icon("revitpyiot", icon_image(self.worst), self.title(), menu=pystray.Menu(*items))
        return self.icon

    # --- internals ---
    def _command(self, kind: str) -> dict[str, Any]:
        try:
            reply = self.client.request(kind)
        except (SidecarError) as error:
            self.last_error = str(error)
            self._notify("RevitPyIoT", f"{kind} failed: {error}")
            raise
        with self._lock:
            self.state = str(reply.get("state", self.state))
        self._update_icon()
        return reply

    def _apply_status(self, status: dict[str, Any]) -> None:
        self.state = str(status.get("state", self.state))
        url = status.get("dashboard_url")
        if isinstance(url, str) and url:
            self.dashboard_url = url

    def _update_icon(self) -> None:
        # Touch the icon only when something shown changes: every backend call from this
        # (event) thread competes with the icon's own loop for the display connection.
        with self._lock:
            self.worst = self.tracker.worst()
            shown = (self.worst, self.state)
            changed = shown != self._shown
            self._shown = shown
        icon = self.icon
        if icon is None or not changed:
            return
        icon.icon = icon_image(shown[0])
        icon.title = self.title()
        try:
            icon.update_menu()
        except NotImplementedError:
            pass

    def _notify(self, title: str, message: str) -> None:
        self.notifications.append((title, message))
        icon = self.icon
        if icon is not None and getattr(icon, "HAS_NOTIFICATION", False):
            try:
                icon.notify(message, title)
            except Exception:
                log.debug("tray: notification failed", exc_info=True)


def _menu_action(action: Callable[[], Any]) -> Callable[[Any, Any], None]:
    def run(icon: Any, item: Any) -> None:
        try:
            action()
        except Exception as error:  # noqa: BLE001 - a menu click never kills the tray
            log.warning("tray: %s", error)
    return run


def _menu_check(enabled: Callable[[], bool]) -> Callable[[Any], bool]:
    return lambda item: enabled()


# ----- entry point -----
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="revitpyiot-sidecar tray",
                                     description="Tray icon: starts the sidecar and controls it")
    parser.add_argument("--command-endpoint", help="default: [sidecar] command_endpoint of --config, "
                        f"else {protocol.DEFAULT_COMMAND_ENDPOINT}")
    parser.add_argument("--event-endpoint", help="default: [sidecar] event_endpoint of --config, "
                        f"else {protocol.DEFAULT_EVENT_ENDPOINT}")
    parser.add_argument("--data-dir", help="the sidecar's data folder (token, logs); default: [sidecar] data_dir "
                        "of --config, else the user's application-data folder")
    parser.add_argument("--config", help="the sidecar's TOML settings: passed on to it, and where the tray "
                        "reads the endpoints from")
    parser.add_argument("--attach", action="store_true",
                        help="control an already running sidecar instead of starting one")
    parser.add_argument("--start", action="store_true", help="start monitoring once the sidecar is up")
    parser.add_argument("--startup-timeout", type=float, default=30.0)
    return parser


@dataclass(frozen=True)
class TraySettings:
    """Where the sidecar listens and keeps its files, as the tray and its child agree on them."""

    command_endpoint: str
    event_endpoint: str
    data_dir: Path
    config_path: Path | None
    endpoints_from_cli: bool

    @property
    def token_path(self) -> Path:
        return self.data_dir / protocol.TOKEN_FILE_NAME

    @property
    def log_path(self) -> Path:
        return self.data_dir / "sidecar.log"

    def serve_arguments(self) -> list[str]:
        """``serve`` arguments for the child: the same settings file, so it binds what the tray
        connects to; command-line values win over the file for both."""
        endpoints = self.endpoints_from_cli or self.config_path is None
        return serve_arguments(data_dir=self.data_dir, config=self.config_path,
                               command_endpoint=self.command_endpoint if endpoints else None,
                               event_endpoint=self.event_endpoint if endpoints else None)


def tray_settings(args: argparse.Namespace) -> TraySettings:
    """Command line first, then the ``--config`` file's ``[sidecar]`` section, then the defaults
    (raises ``sidecar.config.ConfigError`` for an unreadable or invalid file)."""
    from sidecar.config import load_config

    config = load_config(args.config)
    data_dir = Path(args.data_dir).expanduser() if args.data_dir else config.data_dir
    return TraySettings(command_endpoint=args.command_endpoint or config.command_endpoint,
                        event_endpoint=args.event_endpoint or config.event_endpoint, data_dir=data_dir,
                        config_path=Path(args.config).resolve() if args.config else None,
                        endpoints_from_cli=bool(args.command_endpoint or args.event_endpoint))


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    from sidecar.config import ConfigError

    try:
        settings = tray_settings(args)
    except ConfigError as error:
        print(f"revitpyiot-sidecar tray: {error}", file=sys.stderr)
        return 2
    token_path, log_path = settings.token_path, settings.log_path
    log.info("sidecar at %s (events %s)", settings.command_endpoint, settings.event_endpoint)
    client = RequestClient(settings.command_endpoint, "", timeout_s=5.0)
    process: SidecarLauncher | None = None
    watcher: EventWatcher | None = None
    try:
        try:
            if args.attach:
                say_hello(client, client_name=TRAY_CLIENT, token_path=token_path, timeout_s=args.startup_timeout)
            else:
                process = SidecarLauncher(settings.serve_arguments(), log_path=log_path, append_log=True,
                                          client_name=TRAY_CLIENT, console=False)
                process.start(ready_timeout_s=args.startup_timeout)
                client.token = process.token
        except (LaunchError, TimeoutError) as error:
            print(f"revitpyiot-sidecar tray: {error}", file=sys.stderr)
            return 2
        controller = TrayController(client, log_path=log_path if process is not None else None)
        controller.refresh()
        if args.start and controller.state != protocol.STATE_MONITORING:
            try:
                controller.start_monitoring()
            except SidecarError as error:
                log.warning("tray: could not start monitoring: %s", error)
        watcher = EventWatcher(settings.event_endpoint, controller.on_event)
        watcher.start()
        icon = controller.build_icon()
        stopped = threading.Event()
        _stop_on_signals(controller, stopped)

        def setup(icon: Any) -> None:
            icon.visible = True
            log.info("tray icon running (%s), sidecar %s", type(icon).__module__, controller.state)

        icon.run(setup=setup)
        stopped.set()
        log.info("tray icon stopped")
        return 0
    finally:
        if watcher is not None:
            watcher.stop()
            watcher.join(2.0)
        client.close()
        if process is not None:
            process.stop()


def _stop_on_signals(controller: TrayController, stopped: threading.Event) -> None:
    if hasattr(signal, "SIGUSR1"):  # `kill -USR1 <pid>` dumps every thread's stack: diagnosing a hung tray
        import faulthandler

        faulthandler.register(signal.SIGUSR1, all_threads=True)

    def handler(signum: int, frame: Any) -> None:
        # Not in the handler itself: the icon's loop may hold its display lock on this thread.
        threading.Thread(target=controller.quit, daemon=True).start()
        threading.Thread(target=_nudge_xorg_loop, args=(controller.icon, stopped), daemon=True).start()

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)



def _nudge_xorg_loop(icon: Any, stopped: threading.Event) -> None:
    """python-xlib sends a request queued from another thread only once the thread waiting
    on the connection wakes up; an idle X11 icon gets no events, so a stop asked from a
    signal could wait forever. A client message sent over a second connection to the
    icon's window wakes its loop (the other backends need nothing)."""
    if type(icon).__module__ != "pystray._xorg":
        return
    window = getattr(icon, "_window", None)
    if window is None:
        return
    try:
        import Xlib.display
        import Xlib.protocol.event
        import Xlib.X

        display = Xlib.display.Display()
    except Exception:  # noqa: BLE001
        return
    try:
        atom = display.intern_atom("_REVITPYIOT_WAKE")
        while not stopped.wait(0.5):
            event = Xlib.protocol.event.ClientMessage(window=window.id, client_type=atom, data=(32, [0] * 5))
            display.send_event(window.id, event, event_mask=Xlib.X.NoEventMask)
            display.flush()
    except Exception:
        log.debug("tray: wake-up message not sent", exc_info=True)
    finally:
        display.close()


if __name__ == "__main__":
    sys.exit(main())
