"""The release as a user gets it: build.py makes the zip, the zip installs on a clean profile with a
real virtual environment, the installed sidecar answers ``hello`` over ZeroMQ, the extension's
launcher starts it, and uninstall takes it all away.

The venv install (pip installs ~550 MB of wheels) runs once for this module.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
import zipfile

import msgpack
import pytest
import zmq
from conftest import ROOT, clean_env, run_install, snapshot, step_lines
from revitpyiot import launcher
from revitpyiot_installer.version import read_version

pytestmark = pytest.mark.timeout(600)
VERSION = read_version(ROOT)


@pytest.fixture(scope="module")
def release(tmp_path_factory):
    out = tmp_path_factory.mktemp("dist")
    build = subprocess.run([sys.executable, str(ROOT / "installer" / "build.py"), "--out", str(out)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=600, check=False)
    assert build.returncode == 0, build.stdout
    return out


@pytest.fixture(scope="module")
def installed(release, tmp_path_factory):
    unpacked = tmp_path_factory.mktemp("download")
    with zipfile.ZipFile(release / (f"RevitPyIoT-{VERSION}.zip")) as archive:
        archive.extractall(unpacked)
    home = tmp_path_factory.mktemp("profile") / "user"
    home.mkdir()
    # --no-compile (passed through to pip): skips byte-compiling ~550 MB of dependencies, which
    # only costs this test time; Python compiles what it imports on first use anyway.
    result = run_install(["--user-dir", home, "--platform", "posix", "--pip-arg=--no-compile"],
                         script=unpacked / (f"RevitPyIoT-{VERSION}") / "install.py")
    data = home / ".local" / "share" / "RevitPyIoT"
    return {"home": home, "data": data, "output": result.stdout, "download": unpacked}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask_hello(endpoint, token, timeout_s=20.0):
    context = zmq.Context.instance()
    dealer = context.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.connect(endpoint)
    try:
        request = {"v": 1, "type": "hello", "id": uuid.uuid4().hex, "ts": time.time(), "token": token,
                   "body": {"client": "installer-test", "client_version": VERSION, "protocols": [1]}}
        dealer.send_multipart([b"", msgpack.packb(request)])
        assert dealer.poll(int(timeout_s * 1000)), f"no reply to hello within {timeout_s} s"
        frames = dealer.recv_multipart()
        return msgpack.unpackb(frames[-1])
    finally:
        dealer.close()


def wait_ready(process, lines):
    """Read the sidecar's output until its ``ready`` line (or it exits)."""
    def pump():
        for line in process.stdout:
            lines.append(line)
    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any("ready" in line for line in lines):
            return
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError("sidecar not ready:\n" + "".join(lines))


def test_the_zip_holds_what_a_user_needs(release):
    with zipfile.ZipFile(release / (f"RevitPyIoT-{VERSION}.zip")) as archive:
        names = set(archive.namelist())
    top = f"RevitPyIoT-{VERSION}/"
    for needed in ("install.py", "installer/install.py", "README.md", "docs/install.md",
                   "RevitPyIoT.extension/lib/revitpyiot/__init__.py", "shared_schemas/protocol.py",
                   f"wheels/revitpyiot-{VERSION}-py3-none-any.whl"):
        assert top + needed in names, needed
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert (release / (f"revitpyiot-{VERSION}-py3-none-any.whl")).is_file()
    with zipfile.ZipFile(release / (f"revitpyiot-{VERSION}-py3-none-any.whl")) as wheel:
        wheel_names = set(wheel.namelist())
    assert "sidecar/__main__.py" in wheel_names and "shared_schemas/protocol.py" in wheel_names


def test_the_zip_installs_a_real_venv_on_a_clean_profile(installed, release):
    steps = step_lines(installed["output"])
    assert steps["venv"] == ["created"] and steps["sidecar"] == ["created"], installed["output"]
    assert steps["files"] == ["created"] and steps["token"] == ["created"]
    assert steps["config"] == ["created"]          # from sidecar/sidecar.example.toml inside the wheel
    with zipfile.ZipFile(release / (f"revitpyiot-{VERSION}-py3-none-any.whl")) as wheel:
        assert (installed["data"] / "config.toml").read_bytes() == wheel.read("sidecar/sidecar.example.toml")
    python = installed["data"] / "venv" / "bin" / "python"
    out = subprocess.run([str(python), "-I", "-c", ("import importlib.metadata as m, sidecar; "
                          "print(m.version('revitpyiot'), sidecar.__file__)")],
                         stdout=subprocess.PIPE, text=True, check=True, cwd=str(installed["home"])).stdout.split()
    assert out[0] == VERSION
    assert out[1].startswith(str(installed["data"] / "venv"))     # the venv's copy, not the repo's
    record = json.loads((installed["data"] / "install.json").read_text())
    assert record["sidecar"]["python"] == str(python)
    assert record["venv"]["created"] is True and record["venv"]["fingerprint"].startswith("wheel:")


def test_installing_again_changes_nothing(installed):
    before = snapshot(installed["home"])
    result = run_install(["--user-dir", installed["home"], "--platform", "posix"],
                         script=installed["download"] / (f"RevitPyIoT-{VERSION}") / "install.py")
    steps = step_lines(result.stdout)
    for step in ("files", "venv", "sidecar", "config", "token", "record"):
        assert steps[step] == ["unchanged"], (step, result.stdout)
    assert snapshot(installed["home"]) == before


def test_the_installed_sidecar_answers_hello(installed):
    data = installed["data"]
    command_endpoint = f"tcp://127.0.0.1:{free_port()}"
    event_endpoint = f"tcp://127.0.0.1:{free_port()}"
    args = [str(data / "venv" / "bin" / "python"), "-I", "-m", "sidecar", "serve",
            "--command-endpoint", command_endpoint, "--event-endpoint", event_endpoint,
            "--data-dir", str(data), "--config", str(data / "config.toml")]
    process = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=clean_env(), cwd=str(data))
    lines = []
    try:
        wait_ready(process, lines)
        token = (data / "token").read_text().strip()
        reply = ask_hello(command_endpoint, token)
        assert reply["ok"] is True, reply
        assert reply["type"] == "hello"
        assert reply["body"]["sidecar_version"] == VERSION
        assert reply["body"]["protocol"] == 1
        refused = ask_hello(command_endpoint, "not-the-token")
        assert refused["ok"] is False and refused["error"]["code"] == "unauthorized"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_the_extension_launcher_finds_and_starts_the_installed_sidecar(installed):
    data = str(installed["data"])
    command = launcher.find_sidecar_command(tray=True, data_dir=data)
    assert command[:5] == [str(installed["data"] / "venv" / "bin" / "python"), "-I", "-m", "sidecar", "tray"]
    assert command[5:] == ["--data-dir", data, "--config", str(installed["data"] / "config.toml")]
    command_endpoint = f"tcp://127.0.0.1:{free_port()}"
    extra = ["--command-endpoint", command_endpoint,
             "--event-endpoint", f"tcp://127.0.0.1:{free_port()}"]
    process = launcher.start_sidecar(tray=False, data_dir=data, extra_args=extra)
    try:
        assert process.pid != os.getpid()
        assert os.getsid(process.pid) == process.pid          # detached into its own session
        token = (installed["data"] / "token").read_text().strip()
        deadline = time.monotonic() + 60
        reply = None
        while reply is None and time.monotonic() < deadline and process.poll() is None:
            try:
                reply = ask_hello(command_endpoint, token, timeout_s=2.0)
            except AssertionError:
                reply = None
        log = installed["data"] / "logs" / "launcher.log"
        assert reply is not None and reply["ok"] is True, log.read_text() if log.exists() else "no log"
    finally:
        process.terminate()
        process.wait(timeout=30)


def test_installing_from_the_repository_over_it_rebuilds_only_the_sidecar(installed):
    # A different source (a checkout instead of the release wheel): the venv stays, the wheel is
    # built from the checkout with the venv's pip and replaces the installed one. The checkout is
    # a frozen copy (the release's files plus the sidecar sources), so it cannot change under us.
    checkout = installed["download"].parent / "checkout"
    shutil.copytree(installed["download"] / (f"RevitPyIoT-{VERSION}"), checkout,
                    ignore=shutil.ignore_patterns("wheels", "__pycache__", "*.pyc"))
    shutil.copytree(ROOT / "sidecar", checkout / "sidecar", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    shutil.copyfile(ROOT / "pyproject.toml", checkout / "pyproject.toml")
    result = run_install(["--user-dir", installed["home"], "--platform", "posix"],
                         script=checkout / "installer" / "install.py")
    steps = step_lines(result.stdout)
    assert steps["venv"] == ["unchanged"] and steps["sidecar"] == ["updated"], result.stdout
    assert steps["files"] == ["unchanged"]
    record = json.loads((installed["data"] / "install.json").read_text())
    assert record["venv"]["fingerprint"].startswith("repo:")
    again = run_install(["--user-dir", installed["home"], "--platform", "posix"],
                        script=checkout / "installer" / "install.py")
    assert step_lines(again.stdout)["sidecar"] == ["unchanged"]


def test_launcher_reports_a_missing_install(tmp_path):
    assert launcher.find_sidecar_command(data_dir=str(tmp_path)) is None
    with pytest.raises(launcher.LauncherError, match="not installed"):
        launcher.start_sidecar(data_dir=str(tmp_path))


def test_uninstall_removes_the_venv_and_purge_the_rest(installed):
    home, data = installed["home"], installed["data"]
    installed_copy = data / "app" / "installer" / "install.py"
    result = run_install(["--user-dir", home, "--platform", "posix", "--uninstall"], script=installed_copy)
    steps = step_lines(result.stdout)
    assert steps["venv"] == ["removed"] and steps["files"] == ["removed"]
    assert not (data / "venv").exists() and not (data / "app").exists()
    assert (data / "token").exists()
    run_install(["--user-dir", home, "--platform", "posix", "--purge"])
    assert not data.exists()
    # uninstall forgot which parent folders it made; purge leaves those (now empty) alone
    assert [p for p in home.rglob("*") if p.is_file()] == []
