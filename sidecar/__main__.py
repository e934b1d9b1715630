"""``python -m sidecar`` / ``revitpyiot-sidecar``.

``serve`` runs the service. ``detect|fdd|failure|rul`` hand over to the analytics CLI and
``tray`` to the tray icon; both are imported only when asked for, so ``serve`` starts fast
(pandas and scikit-learn are never imported at start).
"""
from __future__ import annotations

import argparse
import asyncio
import importlib
import logging
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from shared_schemas import protocol

ANALYTICS_COMMANDS = ("detect", "fdd", "failure", "rul")
ONBOARDING_COMMANDS = ("discover", "brick", "sample-building")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="revitpyiot-sidecar", description="RevitPyIoT sidecar")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    serve = commands.add_parser("serve", help="run the sidecar service")
    serve.add_argument("--command-endpoint", help=f"ROUTER endpoint (default {protocol.DEFAULT_COMMAND_ENDPOINT}; "
                       "a port of * picks a free one)")
    serve.add_argument("--event-endpoint", help=f"PUB endpoint (default {protocol.DEFAULT_EVENT_ENDPOINT})")
    serve.add_argument("--data-dir", help="where the token (and data) live (default: REVITPYIOT_DATA_DIR or "
                       "the user's application-data folder)")
    serve.add_argument("--config", help="TOML settings file (see sidecar/sidecar.example.toml)")
    serve.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR (default INFO)")
    serve.add_argument("--dashboard-port", type=int, help="dashboard port (default 8765; 0 picks a free port)")
    serve.add_argument("--no-dashboard", action="store_true", help="do not serve the dashboard")
    serve.add_argument("--strict", action="store_true", help="refuse to start when the config file has an unknown "
                       "setting (default: a warning naming it)")
    for name in ANALYTICS_COMMANDS:
        commands.add_parser(name, help=f"analytics: {name} (see its --help)", add_help=False)
    commands.add_parser("tray", help="tray icon to start and stop the sidecar", add_help=False)
    commands.add_parser("discover", help="onboarding: list a network's points (bacnet|mqtt|modbus)", add_help=False)
    commands.add_parser("brick", help="onboarding: Brick model export|import", add_help=False)
    commands.add_parser("sample-building", help="onboarding: write the demo building's configuration",
                        add_help=False)
    return parser


def _delegate(module_name: str, argv: list[str]) -> int:
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        print(f"revitpyiot-sidecar: {module_name} is not available in this installation ({error})", file=sys.stderr)
        return 2
    entry: Callable[[list[str]], int] = module.main
    return int(entry(argv) or 0)


def _delegate_onboarding(argv: list[str]) -> int:
    from sidecar.onboarding.cli import main as onboarding_main

    return onboarding_main(argv)


def serve(args: argparse.Namespace) -> int:
    from sidecar.config import ConfigError, load_config, log_warnings

    side: dict[str, Any] = {}
    for key in ("command_endpoint", "event_endpoint", "data_dir", "log_level"):
        if getattr(args, key):
            side[key] = getattr(args, key)
    dashboard: dict[str, Any] = {}
    if args.dashboard_port is not None:
        dashboard["port"] = args.dashboard_port
    if args.no_dashboard:
        dashboard["enabled"] = False
    try:
        # Every section is parsed and checked here, before anything starts: a bad setting is one
        # line naming it and exit code 2, never a traceback.
        config = load_config(args.config, {"sidecar": side, "dashboard": dashboard}, strict=args.strict)
    except ConfigError as error:
        print(f"revitpyiot-sidecar: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=getattr(logging, config.log_level, logging.INFO), format=LOG_FORMAT, stream=sys.stderr)
    log_warnings(config, logging.getLogger("sidecar"))
    if sys.platform == "win32":
        # zmq.asyncio needs a selector loop; the Windows default (Proactor) has none.
        asyncio.set_event_loop_policy(asyncio.WindowsSelectorEventLoopPolicy())  # type: ignore[attr-defined]
    try:
        return asyncio.run(_serve(config))
    except KeyboardInterrupt:
        return 0


async def _serve(config: Any) -> int:
    import zmq

    from sidecar.security import ensure_token
    from sidecar.service import Sidecar

    log = logging.getLogger("sidecar")
    try:
        token = ensure_token(config.token_path)
    except OSError as error:
        log.error("cannot create the token file %s: %s", config.token_path, error)
        return 2
    sidecar = Sidecar(config, token)
    try:
        sidecar.open()
    except zmq.ZMQError as error:
        log.error("cannot bind %s / %s: %s", config.command_endpoint, config.event_endpoint, error)
        return 2
    assert sidecar.server is not None and sidecar.publisher is not None
    stop = asyncio.Event()
    _install_signal_handlers(stop)
    if config.source_file:
        log.info("settings from %s", config.source_file)
    # Scripts wait for this line, so it is logged whatever --log-level says.
    announce = logging.getLogger("sidecar.lifecycle")
    announce.setLevel(logging.INFO)
    announce.info("ready command=%s events=%s token_file=%s", sidecar.server.endpoint, sidecar.publisher.endpoint,
                  config.token_path)
    await sidecar.run(stop)
    announce.info("stopped")
    return 0


def _install_signal_handlers(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    if sys.platform != "win32":
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        return
    # Windows: no loop.add_signal_handler. Ctrl-C (SIGINT) and CTRL_BREAK (SIGBREAK, what a
    # parent sends a CREATE_NEW_PROCESS_GROUP child) set the event from the signal handler;
    # a periodic wake-up makes the selector loop notice promptly.
    def handler(signum: int, frame: Any) -> None:
        loop.call_soon_threadsafe(stop.set)

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), handler)

    async def wake() -> None:
        while not stop.is_set():
            await asyncio.sleep(0.25)

    loop.create_task(wake())


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ANALYTICS_COMMANDS:
        return _delegate("sidecar.analytics.offline.cli", argv)
    if argv and argv[0] in ONBOARDING_COMMANDS:
        return _delegate_onboarding(argv)
    if argv and argv[0] == "tray":
        return _delegate("sidecar.dashboard.tray", argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command != "serve":
        parser.print_help()
        return 0 if args.command is None else 2
    return serve(args)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
