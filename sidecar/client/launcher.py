"""Running ``python -m sidecar serve`` as a child process: start, wait until it answers, stop.

Used by the tray, the demo, the benchmarks and the tests (the extension, under IronPython,
has its own). ``SidecarLauncher`` starts the child with its output in a log file, waits
for the ``ready`` line the sidecar logs once it has bound its endpoints (it names them,
so ``tcp://127.0.0.1:*`` works and there is no port race) and then for a ``hello`` reply,
and stops it politely (SIGTERM; CTRL_BREAK on Windows) then firmly (kill).

The child runs in its own session (POSIX) or process group (Windows): a Ctrl-C or a
closed terminal reaches only the parent, which stops the child itself and can still ask
it for a last ``status`` first.

    >>> with SidecarLauncher(serve_arguments(data_dir=path), log_path=path / "sidecar.log") as sidecar:
    ...     sidecar.client().request("status")                       # doctest: +SKIP
"""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

import zmq

from shared_schemas import protocol
from sidecar.client.requests import RequestClient, SidecarError, SidecarTimeout

__all__ = ["LaunchError", "SidecarLauncher", "say_hello", "serve_arguments"]

# What ``python -m sidecar serve`` logs once its endpoints are bound (whatever the log level).
READY = re.compile(r"\bready command=(\S+) events=(\S+) token_file=(.+)$", re.MULTILINE)
# The folder that holds the ``sidecar`` package: the child imports the same code as its parent.
PACKAGE_ROOT = Path(__file__).resolve().parents[2]
LOOPBACK_ANY_PORT = "tcp://127.0.0.1:*"


class LaunchError(RuntimeError):
    """The sidecar exited, or did not answer, before it was ready (the message ends with its log)."""


def serve_arguments(*, data_dir: Path | str | None = None, config: Path | str | None = None,
                    command_endpoint: str | None = None, event_endpoint: str | None = None,
                    dashboard_port: int | None = None, dashboard: bool = True,
                    log_level: str | None = None) -> list[str]:
    """``serve``'s command line; ``None`` leaves a setting to the config file (or its default)."""
    args: list[str] = []
    for flag, value in (("--command-endpoint", command_endpoint), ("--event-endpoint", event_endpoint),
                        ("--data-dir", data_dir), ("--config", config), ("--log-level", log_level),
                        ("--dashboard-port", dashboard_port)):
        if value is not None:
            args += [flag, str(value)]
    if not dashboard:
        args.append("--no-dashboard")
    return args


def say_hello(client: RequestClient, *, client_name: str, token_path: Path | None = None,
              timeout_s: float = 30.0, alive: Callable[[], bool] = lambda: True,
              exited: Callable[[], str] = lambda: "the sidecar exited") -> dict[str, Any]:
    """Wait for the sidecar to answer ``hello`` (reading its token from ``token_path`` when
    given, as soon as the file exists); its reply. Raises ``LaunchError`` when ``alive()``
    turns false and ``TimeoutError`` (a ``SidecarTimeout``) after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last: Exception | None = None
    while True:
        if not alive():
            raise LaunchError(exited())
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        if token_path is not None and token_path.exists():
            client.token = token_path.read_text(encoding="utf-8").strip()
        if token_path is None or client.token:
            try:
                return client.request(protocol.HELLO, {"client": client_name, "client_version": protocol.__version__,
                                                       "protocols": [protocol.PROTOCOL_VERSION]},
                                      timeout_s=min(2.0, max(0.05, remaining)))
            except SidecarError as error:  # not listening yet, or a token from an earlier run
                last = error
        time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
    raise SidecarTimeout(f"the sidecar at {client.endpoint} did not answer within {timeout_s:g} s ({last})")


def stop_process(process: subprocess.Popen[Any] | None, grace_s: float = 5.0,
                 polite: Callable[[subprocess.Popen[Any]], None] = subprocess.Popen.terminate) -> None:
    """Ask a child process to stop (``polite``), and kill it if it has not within ``grace_s``."""
    if process is None or process.poll() is not None:
        return
    polite(process)
    try:
        process.wait(grace_s)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(grace_s)


def _polite_stop(process: subprocess.Popen[Any]) -> None:
    # The sidecar runs in a process group of its own on Windows, where CTRL_BREAK is its SIGTERM.
    if sys.platform == "win32":
        process.send_signal(signal.CTRL_BREAK_EVENT)
    else:
        process.terminate()


class SidecarLauncher:
    """``python -m sidecar serve <serve_args>`` as a child; ``start()`` then ``stop()``, or ``with``."""

    def __init__(self, serve_args: Sequence[str], *, log_path: Path, append_log: bool = False,
                 env: Mapping[str, str] | None = None, cwd: Path | None = None,
                 python_flags: Sequence[str] = (), cpu: int | None = None, client_name: str = "revitpyiot-launcher",
                 console: bool = True) -> None:
        self.serve_args = list(serve_args)
        self.log_path = log_path
        self.append_log = append_log
        self.env = env
        self.cwd = cwd
        self.python_flags = list(python_flags)
        self.cpu = cpu                      # pin the child to this CPU (Linux; benchmarks)
        self.client_name = client_name
        self.console = console              # False: no console window on Windows (the tray)
        self.process: subprocess.Popen[bytes] | None = None
        self.command_endpoint = ""
        self.event_endpoint = ""
        self.token = ""
        self.token_path: Path | None = None
        self.hello: dict[str, Any] = {}
        self._log_offset = 0
        self._log_file: Any = None

    # ----- lifetime -----
    def start(self, *, ready_timeout_s: float | None = 30.0,
              context: zmq.Context[Any] | None = None) -> Self:
        """Start the child and (unless ``ready_timeout_s`` is None) wait until it answers."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_offset = self.log_path.stat().st_size if self.append_log and self.log_path.exists() else 0
        self._log_file = open(self.log_path, "ab" if self.append_log else "wb")  # noqa: SIM115 - closed in stop()
        env = dict(os.environ if self.env is None else self.env)
        env["PYTHONPATH"] = os.pathsep.join([str(PACKAGE_ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
        env.setdefault("PYTHONUNBUFFERED", "1")
        options: dict[str, Any] = {}
        if sys.platform == "win32":
            # its own process group: CTRL_BREAK can be sent to it alone, and the console's Ctrl-C is not
            options["creationflags"] = (subprocess.CREATE_NEW_PROCESS_GROUP
                                        | (0 if self.console else subprocess.CREATE_NO_WINDOW))
        else:
            options["start_new_session"] = True
            if self.cpu is not None and hasattr(os, "sched_setaffinity"):
                cpu = self.cpu
                options["preexec_fn"] = lambda: os.sched_setaffinity(0, {cpu})
        command = [sys.executable, *self.python_flags, "-m", "sidecar", "serve", *self.serve_args]
        self.process = subprocess.Popen(command, cwd=self.cwd, env=env, stdout=self._log_file,
                                        stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, **options)
        if ready_timeout_s is not None:
            try:
                self.wait_ready(ready_timeout_s, context=context)
            except BaseException:
                self.stop()
                raise
        return self

    def wait_ready(self, timeout_s: float = 30.0, *, context: zmq.Context[Any] | None = None) -> dict[str, Any]:
        """Wait for the ``ready`` line, read the token, then wait for a ``hello`` reply (returned)."""
        deadline = time.monotonic() + timeout_s
        match = None
        while match is None:
            text = self.log()
            match = READY.search(text)
            if match is not None:
                break
            if not self.running():
                raise LaunchError(self._exited_message())
            if time.monotonic() > deadline:
                raise LaunchError(f"the sidecar was not ready after {timeout_s:g} s; its log:\n{text}")
            time.sleep(0.02)
        self.command_endpoint, self.event_endpoint = match.group(1), match.group(2)
        self.token_path = Path(match.group(3).strip())
        self.token = self.token_path.read_text(encoding="utf-8").strip()
        with self.client(timeout_s=2.0, context=context) as client:
            try:
                self.hello = say_hello(client, client_name=self.client_name,
                                       timeout_s=max(0.5, deadline - time.monotonic()),
                                       alive=self.running, exited=self._exited_message)
            except TimeoutError as error:
                raise LaunchError(f"{error}; its log:\n{self.log()}") from error
        return self.hello

    def stop(self, timeout_s: float = 10.0) -> int:
        """Stop politely, then firmly after ``timeout_s``; the exit code (0 when never started)."""
        process = self.process
        stop_process(process, timeout_s, polite=_polite_stop)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        return int(process.returncode or 0) if process is not None else 0

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def client(self, *, timeout_s: float = 10.0, retries: int = 0,
               context: zmq.Context[Any] | None = None) -> RequestClient:
        """A request client for this sidecar (after ``start``); the caller closes it."""
        return RequestClient(self.command_endpoint, self.token, timeout_s=timeout_s, retries=retries, context=context)

    def log(self) -> str:
        """What the child has written to its log since this launcher started it."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(self._log_offset)
                return handle.read().decode("utf-8", errors="replace")
        except OSError:
            return ""

    def __enter__(self) -> Self:
        return self.start() if self.process is None else self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _exited_message(self) -> str:
        code = self.process.returncode if self.process is not None else None
        return f"the sidecar exited with code {code} before it was ready; its log ({self.log_path}):\n{self.log()}"
