"""Run the real sidecar (``python -m sidecar serve``) as a subprocess for a test.

``running_sidecar()`` binds both endpoints to free loopback ports (``tcp://127.0.0.1:*``, so no
port race), uses a fresh temporary data dir, waits for the ``ready`` log line, yields a
``SidecarHandle`` and stops the process (SIGTERM, then kill) whatever happens. Its log is kept
in ``<data dir>/sidecar.log`` and shown when start-up fails.
"""
from __future__ import annotations

import contextlib
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READY = re.compile(r"\bready command=(\S+) events=(\S+) token_file=(.+)$", re.MULTILINE)


@dataclass
class SidecarHandle:
    command_endpoint: str
    event_endpoint: str
    token: str
    data_dir: Path
    process: subprocess.Popen[bytes]
    log_path: Path

    # Tuple-like unpacking: (command endpoint, event endpoint, token, data dir, process).
    def __iter__(self) -> Iterator[object]:
        return iter((self.command_endpoint, self.event_endpoint, self.token, self.data_dir, self.process))

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None


def _stop(process: subprocess.Popen[bytes], timeout_s: float = 10.0) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextlib.contextmanager
def running_sidecar(config_text: str | None = None, extra_args: list[str] | None = None,
                    data_dir: Path | None = None, ready_timeout_s: float = 30.0,
                    log_level: str = "INFO", python_flags: list[str] | None = None) -> Iterator[SidecarHandle]:
    """A started sidecar; ``config_text`` is written to a TOML file and passed as ``--config``."""
    with tempfile.TemporaryDirectory(prefix="revitpyiot-test-") as temp:
        data = Path(data_dir) if data_dir is not None else Path(temp) / "data"
        data.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, *(python_flags or []), "-m", "sidecar", "serve",
                   "--command-endpoint", "tcp://127.0.0.1:*", "--event-endpoint", "tcp://127.0.0.1:*",
                   "--data-dir", str(data), "--log-level", log_level]
        if config_text is not None:
            config_path = Path(temp) / "sidecar.toml"
            config_path.write_text(config_text, encoding="utf-8")
            command += ["--config", str(config_path)]
        command += list(extra_args or [])
        if "--dashboard-port" not in command:
            command.append("--no-dashboard")  # only the dashboard's own tests serve it (on a free port)
        env = dict(os.environ, REVITPYIOT_DATA_DIR=str(data), PYTHONUNBUFFERED="1")
        env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        log_path = Path(temp) / "sidecar.log"
        with open(log_path, "wb") as log_file:
            process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
                                       stdin=subprocess.DEVNULL)
            try:
                deadline = time.monotonic() + ready_timeout_s
                match = None
                while match is None:
                    text = log_path.read_text(encoding="utf-8", errors="replace")
                    match = READY.search(text)
                    if match is not None:
                        break
                    if process.poll() is not None:
                        raise RuntimeError(f"sidecar exited with {process.returncode} before ready:\n{text}")
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"sidecar not ready after {ready_timeout_s} s:\n{text}")
                    time.sleep(0.02)
                token_file = Path(match.group(3).strip())
                token = token_file.read_text(encoding="ascii").strip()
                yield SidecarHandle(match.group(1), match.group(2), token, data, process, log_path)
            finally:
                _stop(process)
