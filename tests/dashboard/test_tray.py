"""The tray: each menu action against a real sidecar process, and a smoke test of the real
icon under Xvfb (pystray's X11 backend)."""
from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from shared_schemas import protocol
from sidecar.client.launcher import SidecarLauncher, say_hello, serve_arguments
from sidecar.client.requests import RequestClient

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
XVFB = "/usr/bin/Xvfb"


class RealSidecar:
    """A sidecar started without waiting (the tray's own wait, ``say_hello``, is under test)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.command = f"tcp://127.0.0.1:{free_port()}"
        self.events = f"tcp://127.0.0.1:{free_port()}"
        self.launcher = SidecarLauncher(serve_arguments(command_endpoint=self.command, event_endpoint=self.events,
                                                        data_dir=data_dir, dashboard_port=0),
                                        log_path=data_dir / "serve.log", cwd=ROOT)
        self.launcher.start(ready_timeout_s=None)

    def stop(self) -> None:
        self.launcher.stop(15)


@pytest.fixture
def sidecar(tmp_path):
    peer = RealSidecar(tmp_path)
    try:
        yield peer
    finally:
        peer.stop()


@pytest.fixture
def controller(sidecar, tmp_path, monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    from sidecar.dashboard.tray import TRAY_CLIENT, TrayController

    client = RequestClient(sidecar.command, "")
    say_hello(client, client_name=TRAY_CLIENT, token_path=tmp_path / protocol.TOKEN_FILE_NAME, timeout_s=30.0)
    from sidecar.simulation.sample_building import build_demo_building

    client.request(protocol.CONFIGURE, build_demo_building())
    opened: dict[str, list] = {"urls": [], "files": [], "quit": []}
    ctl = TrayController(client, log_path=tmp_path / "sidecar.log",
                         open_url=opened["urls"].append, open_file=opened["files"].append,
                         on_quit=lambda: opened["quit"].append(True))
    ctl.opened = opened  # type: ignore[attr-defined]
    ctl.refresh()
    try:
        yield ctl
    finally:
        client.close()


def test_each_menu_action_through_the_dummy_backend(controller, sidecar):
    icon = controller.build_icon()
    items = {item.text: item for item in icon.menu.items}
    assert list(items) == ["Start monitoring", "Stop monitoring", "Open dashboard", "Open logs", "Quit"]
    assert controller.state == protocol.STATE_CONFIGURED
    assert items["Start monitoring"].enabled and not items["Stop monitoring"].enabled

    items["Start monitoring"](icon)
    assert controller.state == protocol.STATE_MONITORING
    assert controller.client.request(protocol.STATUS)["state"] == protocol.STATE_MONITORING
    assert items["Stop monitoring"].enabled and not items["Start monitoring"].enabled

    items["Stop monitoring"](icon)
    assert controller.client.request(protocol.STATUS)["state"] != protocol.STATE_MONITORING
    assert controller.state == controller.client.request(protocol.STATUS)["state"]

    items["Open dashboard"](icon)  # the address the sidecar names in its status, never a guess
    url = wait_for_dashboard_url(controller.client)
    assert controller.opened["urls"] == [url] and not url.endswith(":8765/")
    items["Open logs"](icon)
    assert controller.opened["files"] == [controller.log_path] and controller.log_path.exists()
    items["Quit"](icon)
    assert controller.opened["quit"] == [True]


def wait_for_dashboard_url(client, timeout_s: float = 20.0) -> str:
    deadline = time.monotonic() + timeout_s
    while not (url := client.request(protocol.STATUS).get("dashboard_url")):
        assert time.monotonic() < deadline, "the sidecar never named its dashboard_url"
        time.sleep(0.1)
    return url


def write_config(path: Path, command: str, events: str, data_dir: Path) -> Path:
    path.write_text(f"""[sidecar]
command_endpoint = "{command}"
event_endpoint = "{events}"
data_dir = '{data_dir}'

[dashboard]
port = 0
""", encoding="utf-8")
    return path


def test_tray_follows_the_config_file_and_the_status_dashboard_url(tmp_path, monkeypatch):
    monkeypatch.setenv("PYSTRAY_BACKEND", "dummy")
    import urllib.request

    from sidecar.dashboard.tray import EventWatcher, TrayController, build_parser, tray_settings

    command, events = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "sidecar.toml", command, events, tmp_path / "data")
    settings = tray_settings(build_parser().parse_args(["--config", str(config)]))
    assert (settings.command_endpoint, settings.event_endpoint) == (command, events)
    assert settings.data_dir == tmp_path / "data" and settings.token_path.parent == tmp_path / "data"
    child = settings.serve_arguments()
    assert child[child.index("--config") + 1] == str(config.resolve())
    assert "--command-endpoint" not in child, "the child reads the same file: one source of truth"

    process = SidecarLauncher(child, log_path=settings.log_path, append_log=True)
    client = RequestClient(settings.command_endpoint, "")
    watcher = None
    try:
        process.start(ready_timeout_s=30.0)
        assert process.command_endpoint == command and process.token_path == settings.token_path
        client.token = process.token
        opened: list[str] = []
        controller = TrayController(client, log_path=settings.log_path, open_url=opened.append)
        controller.refresh()
        icon = controller.build_icon()
        url = wait_for_dashboard_url(client)
        {item.text: item for item in icon.menu.items}["Open dashboard"](icon)
        assert opened == [url]
        with urllib.request.urlopen(url, timeout=10) as response:  # the dashboard really is there
            assert response.status == 200 and b"RevitPyIoT" in response.read()
        # and the configured event endpoint is the one the sidecar publishes on
        seen: list[str] = []
        watcher = EventWatcher(settings.event_endpoint, lambda topic, body: seen.append(topic))
        watcher.start()
        deadline = time.monotonic() + 15
        while protocol.TOPIC_STATUS not in seen:
            assert time.monotonic() < deadline, "no status event on the configured event endpoint"
            time.sleep(0.1)
    finally:
        if watcher is not None:
            watcher.stop()
            watcher.join(3)
        client.close()
        process.stop()
    assert "dashboard at http://127.0.0.1:" in settings.log_path.read_text(encoding="utf-8")


def test_command_line_overrides_the_config_file_and_a_bad_file_is_refused(tmp_path):
    from sidecar.dashboard.tray import build_parser, main, tray_settings

    config = write_config(tmp_path / "sidecar.toml", "tcp://127.0.0.1:5999", "tcp://127.0.0.1:5998", tmp_path)
    settings = tray_settings(build_parser().parse_args(["--config", str(config), "--command-endpoint",
                                                        "tcp://127.0.0.1:6001", "--data-dir", str(tmp_path / "x")]))
    assert settings.command_endpoint == "tcp://127.0.0.1:6001" and settings.event_endpoint == "tcp://127.0.0.1:5998"
    assert settings.data_dir == tmp_path / "x"
    child = settings.serve_arguments()
    assert child[child.index("--command-endpoint") + 1] == "tcp://127.0.0.1:6001"
    assert child[child.index("--data-dir") + 1] == str(tmp_path / "x")
    defaults = tray_settings(build_parser().parse_args([]))
    assert defaults.command_endpoint == protocol.DEFAULT_COMMAND_ENDPOINT and defaults.config_path is None
    bad = tmp_path / "bad.toml"
    bad.write_text("[sidecar]\ncommand_endpoint = 5\n", encoding="utf-8")
    assert main(["--config", str(bad)]) == 2  # refused before anything starts
    assert main(["--config", str(tmp_path / "missing.toml")]) == 2


def test_menu_errors_are_reported_not_raised(controller, sidecar):
    icon = controller.build_icon()
    items = {item.text: item for item in icon.menu.items}
    sidecar.stop()  # the sidecar is gone: the click fails with a clear message, the tray survives
    controller.client.timeout_s = 0.5
    items["Start monitoring"](icon)
    assert "did not answer" in controller.last_error
    assert controller.notifications and "start failed" in controller.notifications[-1][1]


def test_icon_colour_follows_the_worst_status_and_critical_alerts_notify(controller, sidecar):
    from PIL import Image

    from sidecar.dashboard.tray import EventWatcher, icon_image

    for status, colour in protocol.STATUS_COLOURS.items():
        image = icon_image(status)
        assert isinstance(image, Image.Image) and image.size == (64, 64)
        assert image.getpixel((6, 32))[:3] == colour  # the disc's edge

    icon = controller.build_icon()
    watcher = EventWatcher(sidecar.events, controller.on_event)
    watcher.start()
    try:
        assert watcher.subscribed.wait(5)
        controller.start_monitoring()
        # a reading far beyond its critical limit, through the real pipeline
        from sidecar.simulation.sample_building import build_demo_building

        sensor = next(e["sensor"] for e in build_demo_building()["elements"]
                      if e.get("sensor", {}).get("limits", {}).get("high_critical") is not None)
        value = sensor["limits"]["high_critical"] * 3 + 100
        deadline = time.monotonic() + 30
        while controller.worst != protocol.STATUS_CRITICAL:
            assert time.monotonic() < deadline, f"icon never turned critical (worst={controller.worst})"
            controller.client.request(protocol.INGEST, {"readings": [[sensor["sensor_id"], time.time(), value]]})
            time.sleep(0.3)
        assert icon.icon.getpixel((6, 32))[:3] == protocol.STATUS_COLOURS[protocol.STATUS_CRITICAL]
        deadline = time.monotonic() + 10
        while not any(title == "Critical alert" for title, _ in controller.notifications):
            assert time.monotonic() < deadline, controller.notifications
            time.sleep(0.1)
    finally:
        watcher.stop()
        watcher.join(3)


def _start_xvfb(log_path: Path) -> tuple[subprocess.Popen, str, int, Any]:
    """Xvfb on a free display (it picks one and reports it through -displayfd), proven to accept
    clients: the returned X connection is held open until the test ends, and ``-noreset`` keeps the
    server from resetting when a client leaves (a client arriving during such a reset has its
    connection reset: seen once in a full-suite run)."""
    assert os.path.exists(XVFB), f"{XVFB} is missing: apt-get install -y xvfb"
    read_fd, write_fd = os.pipe()
    log = open(log_path, "w")  # noqa: SIM115 - Xvfb writes to it until it is stopped
    xvfb = subprocess.Popen([XVFB, "-displayfd", str(write_fd), "-screen", "0", "1024x768x24", "-nolisten", "tcp",
                             "-noreset"], pass_fds=(write_fd,), stdout=log, stderr=subprocess.STDOUT)
    os.close(write_fd)
    log.close()
    reported = b""
    deadline = time.monotonic() + 20
    while not reported.endswith(b"\n"):  # keep the pipe open: closing it early would SIGPIPE Xvfb
        assert time.monotonic() < deadline and xvfb.poll() is None, "Xvfb did not report its display:\n" + log_path.read_text()
        ready, _, _ = select.select([read_fd], [], [], 1.0)
        if ready:
            reported += os.read(read_fd, 32)
    display = f":{reported.decode().strip()}"
    from Xlib import display as xdisplay
    from Xlib import error as xerror

    while True:
        try:
            probe = xdisplay.Display(display)
            break
        except (xerror.DisplayError, xerror.ConnectionClosedError, OSError):
            assert time.monotonic() < deadline and xvfb.poll() is None, "Xvfb takes no clients:\n" + log_path.read_text()
            time.sleep(0.2)
    return xvfb, display, read_fd, probe


def test_tray_under_xvfb_starts_the_sidecar_and_stops_cleanly(tmp_path):
    xvfb, display, display_fd, probe = _start_xvfb(tmp_path / "xvfb.log")
    command, events = f"tcp://127.0.0.1:{free_port()}", f"tcp://127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "sidecar.toml", command, events, tmp_path)  # endpoints from the file only
    env = dict(os.environ, DISPLAY=display, PYSTRAY_BACKEND="xorg", PYTHONUNBUFFERED="1")
    tray = subprocess.Popen([sys.executable, "-m", "sidecar", "tray", "--config", str(config)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    # a reader thread: select() on a buffered text pipe misses lines already read ahead
    reader = threading.Thread(target=lambda: output.extend(iter(tray.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any("tray icon running" in line for line in list(output)):
            assert tray.poll() is None, "tray exited early:\n" + "".join(output) + "\nXvfb:\n" + (
                tmp_path / "xvfb.log").read_text()
            assert time.monotonic() < deadline, "".join(output)
            time.sleep(0.1)
        assert "pystray._xorg" in "".join(output)
        # the child sidecar answers while the icon runs
        token = (tmp_path / protocol.TOKEN_FILE_NAME).read_text().strip()
        client = RequestClient(command, token)
        assert client.request(protocol.STATUS)["state"] in protocol.STATES
        client.close()

        tray.send_signal(signal.SIGTERM)
        tray.wait(30)
        reader.join(10)
        assert tray.returncode == 0, "".join(output)
        assert "tray icon stopped" in "".join(output)
        # the sidecar child is gone with it: its command port is free again
        client = RequestClient(command, token, timeout_s=0.5)
        with pytest.raises(TimeoutError):
            client.request(protocol.STATUS)
        client.close()
        assert "stopped" in (tmp_path / "sidecar.log").read_text()
    finally:
        if tray.poll() is None:
            tray.kill()
            tray.wait(5)
        probe.close()
        xvfb.terminate()
        xvfb.wait(10)
        os.close(display_fd)
