"""Run the real sidecar (``python -m sidecar serve``) as a subprocess for a test.

``running_sidecar()`` starts it through the sidecar's own launcher
(``sidecar.client.launcher``): both endpoints on free loopback ports (``tcp://127.0.0.1:*``,
so no port race), a fresh temporary data dir, ready once the ``ready`` line is logged and
``hello`` is answered; it yields a ``SidecarHandle`` and stops the process (SIGTERM, then
kill) whatever happens. Its log is kept in ``sidecar.log`` beside the data dir and shown
when start-up fails.
"""
from __future__ import annotations

import contextlib
import os
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sidecar.client.launcher import LOOPBACK_ANY_PORT, SidecarLauncher, serve_arguments

ROOT = Path(__file__).resolve().parents[2]


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


@contextlib.contextmanager
def running_sidecar(config_text: str | None = None, extra_args: list[str] | None = None,
                    data_dir: Path | None = None, ready_timeout_s: float = 30.0,
                    log_level: str = "INFO", python_flags: list[str] | None = None) -> Iterator[SidecarHandle]:
    """A started sidecar; ``config_text`` is written to a TOML file and passed as ``--config``."""
    with tempfile.TemporaryDirectory(prefix="revitpyiot-test-") as temp:
        data = Path(data_dir) if data_dir is not None else Path(temp) / "data"
        data.mkdir(parents=True, exist_ok=True)
        config_path = None
        if config_text is not None:
            config_path = Path(temp) / "sidecar.toml"
            config_path.write_text(config_text, encoding="utf-8")
        extra = list(extra_args or [])
        # only the dashboard's own tests serve it (on a free port)
        args = serve_arguments(command_endpoint=LOOPBACK_ANY_PORT, event_endpoint=LOOPBACK_ANY_PORT, data_dir=data,
                               log_level=log_level, config=config_path,
                               dashboard="--dashboard-port" in extra) + extra
        launcher = SidecarLauncher(args, log_path=Path(temp) / "sidecar.log", cwd=ROOT, python_flags=python_flags or (),
                                   env=dict(os.environ, REVITPYIOT_DATA_DIR=str(data)), client_name="revitpyiot-tests")
        with launcher.start(ready_timeout_s=ready_timeout_s):
            assert launcher.process is not None
            yield SidecarHandle(launcher.command_endpoint, launcher.event_endpoint, launcher.token, data,
                                launcher.process, launcher.log_path)
