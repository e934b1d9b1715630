"""Connect's start path: nothing answers, the installer's record (install.json in the data dir)
names an interpreter, the user agrees, and the launcher starts a REAL sidecar (detached, on the
endpoints the extension is configured for); Connect then says hello and shows the status."""
import json
import os
import signal
import socket
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_PYTHON = ROOT / ".venv" / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _free_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def _write_install_record(data, python):
    """What the installer writes (installer/revitpyiot_installer/install_steps.py record_sidecar)."""
    config = data / "config.toml"
    config.write_text("[dashboard]\nenabled = false\n", encoding="utf-8")   # no fixed dashboard port in tests
    record = {"version": 1, "sidecar": {"python": str(python), "pythonw": str(python), "data_dir": str(data),
                                        "config": str(config), "module": "sidecar"}}
    (data / "install.json").write_text(json.dumps(record), encoding="utf-8")


def _stop(process):
    if process.poll() is not None:
        return
    if hasattr(os, "killpg"):
        os.killpg(process.pid, signal.SIGTERM)     # its own session/group: the launcher detached it
    else:
        process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(20)


def test_connect_starts_the_installed_sidecar_then_says_hello(fake_revit, monkeypatch, tmp_path):
    import ext_building
    import revitpyiot
    from revitpyiot import launcher
    host = fake_revit
    data = tmp_path / "RevitPyIoT"                    # a fresh data dir: no token until the sidecar starts
    data.mkdir()
    monkeypatch.setenv("REVITPYIOT_DATA_DIR", str(data))
    assert VENV_PYTHON.is_file(), VENV_PYTHON
    _write_install_record(data, VENV_PYTHON)
    command_endpoint = f"tcp://127.0.0.1:{_free_port()}"
    event_endpoint = f"tcp://127.0.0.1:{_free_port()}"
    # No tray icon here (no display); users get the tray by default.
    host.config({"command_endpoint": command_endpoint, "event_endpoint": event_endpoint, "timeout_s": "5",
                 "start_with_tray": "false"})
    ext_building.build(host, floors=1, link_floors=1)
    assert launcher.find_sidecar_command(tray=False)[:5] == [str(VENV_PYTHON), "-I", "-m", "sidecar", "serve"]

    started = []
    start_sidecar = launcher.start_sidecar

    def recording_start(*args, **kwargs):
        started.append(start_sidecar(*args, **kwargs))
        return started[-1]
    monkeypatch.setattr(launcher, "start_sidecar", recording_start)
    asked = []

    def agree(shown):
        asked.append(shown["msg"])
        return True
    host.answer(agree)
    try:
        out = host.run_button("Connect")
        text = out.text()
        assert asked == ["The RevitPyIoT sidecar is not running. Start it now?"]
        assert len(started) == 1 and started[0].poll() is None, text
        assert f"## RevitPyIoT sidecar {revitpyiot.__version__} (protocol 1)" in text, text
        rows = {row[0]: row[1] for row in out.tables()[0]["rows"]}
        assert rows["state"] == "idle"
        assert "No building is configured yet" in text
        # It is the installed interpreter, isolated, serving on the extension's endpoints with the
        # record's data dir and config, detached into its own session.
        if os.path.isdir("/proc"):
            argv = Path(f"/proc/{started[0].pid}/cmdline").read_bytes().decode().split("\0")
            assert argv[:5] == [str(VENV_PYTHON), "-I", "-m", "sidecar", "serve"]
            assert argv[argv.index("--command-endpoint") + 1] == command_endpoint
            assert argv[argv.index("--event-endpoint") + 1] == event_endpoint
            assert argv[argv.index("--data-dir") + 1] == str(data)
            assert argv[argv.index("--config") + 1] == str(data / "config.toml")
        if hasattr(os, "getsid"):
            assert os.getsid(started[0].pid) == started[0].pid
        assert (data / "token").is_file()

        # Running now: the next click asks nothing (no dialog answer is queued) and starts nothing.
        out = host.run_button("Connect")
        assert "(protocol 1)" in out.text() and len(started) == 1
        # And the sidecar it started is a working one: Export Sensors configures it.
        out = host.run_button("Export Sensors")
        assert "The sidecar accepted" in out.text()
    finally:
        for process in started:
            _stop(process)


def test_connect_without_an_install_record_only_explains(fake_revit, monkeypatch, tmp_path):
    import ext_building
    data = tmp_path / "RevitPyIoT"
    data.mkdir()
    monkeypatch.setenv("REVITPYIOT_DATA_DIR", str(data))
    port = _free_port()
    fake_revit.config({"command_endpoint": f"tcp://127.0.0.1:{port}", "event_endpoint": f"tcp://127.0.0.1:{port}",
                       "timeout_s": "2"})
    ext_building.build(fake_revit, floors=1, link_floors=1)
    text = fake_revit.run_button("Connect").text()     # no dialog: there is nothing to start
    assert "sidecar is not running" in text and "revitpyiot-sidecar serve" in text


def test_connect_reports_a_sidecar_that_exits_at_once(fake_revit, monkeypatch, tmp_path):
    """The recorded interpreter runs, but the sidecar cannot start (its config is broken): Connect
    says so and where the log is, instead of waiting for nothing."""
    import ext_building
    data = tmp_path / "RevitPyIoT"
    data.mkdir()
    monkeypatch.setenv("REVITPYIOT_DATA_DIR", str(data))
    _write_install_record(data, VENV_PYTHON)
    (data / "config.toml").write_text("this is [not toml\n", encoding="utf-8")
    port = _free_port()
    fake_revit.config({"command_endpoint": f"tcp://127.0.0.1:{port}",
                       "event_endpoint": f"tcp://127.0.0.1:{_free_port()}", "timeout_s": "2",
                       "start_with_tray": "false"})
    ext_building.build(fake_revit, floors=1, link_floors=1)
    fake_revit.answer(True)
    text = fake_revit.run_button("Connect").text()
    assert "The sidecar stopped right after starting" in text, text
    assert f"see its log in `{data}`" in text
    assert "sidecar is not running" in text
    assert (data / "logs" / "launcher.log").read_text(encoding="utf-8", errors="replace").strip()
