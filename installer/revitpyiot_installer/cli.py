"""``python installer/install.py``: arguments, then install or uninstall."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .install_steps import InstallError, Options, find_source, install
from .layout import POSIX, WINDOWS, host_platform, layout_for
from .report import Reporter
from .uninstall_steps import uninstall


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="install.py",
        description="Install RevitPyIoT for the current user: the pyRevit extension, the sidecar in "
                    "its own virtual environment, a default config and the access token. Safe to run "
                    "again (it changes only what is missing or outdated). No admin rights needed.")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--uninstall", action="store_true",
                      help="remove exactly what install added; your token, config and data stay")
    mode.add_argument("--purge", action="store_true",
                      help="uninstall and also delete your RevitPyIoT data (token, config.toml, backups, "
                           "logs, historian) and the extension's settings in pyRevit")
    p.add_argument("--dry-run", action="store_true", help="print what would be done, change nothing")
    p.add_argument("--user-dir", type=Path, metavar="DIR",
                   help="install for the user profile in DIR (its AppData on Windows, its .local/.config "
                        "elsewhere) instead of the current user's")
    auto = p.add_mutually_exclusive_group()
    auto.add_argument("--autostart", dest="autostart", action="store_true", default=None,
                      help="start the sidecar's tray icon at login")
    auto.add_argument("--no-autostart", dest="autostart", action="store_false",
                      help="remove the login autostart a previous install added")
    p.add_argument("--no-venv", action="store_true",
                   help="do not create the sidecar's virtual environment (extension and config only)")
    p.add_argument("--python", default=sys.executable,
                   help="the Python (3.11+) the sidecar's venv is made from (default: this one)")
    p.add_argument("--wheel", type=Path, help="install the sidecar from this wheel")
    p.add_argument("--pip-arg", dest="pip_args", action="append", default=[], metavar="ARG",
                   help="extra argument for pip, repeatable, e.g. --pip-arg=--index-url=https://mirror/simple")
    p.add_argument("--platform", choices=(WINDOWS, POSIX), help=argparse.SUPPRESS)  # tests: Windows layout on Linux
    return p


def main(argv: list[str] | None = None, source_root: Path | None = None) -> int:
    args = parser().parse_args(argv)
    platform = args.platform or host_platform()
    user_dir = args.user_dir.resolve() if args.user_dir else None
    layout = layout_for(platform, os.environ, user_dir)
    report = Reporter(dry_run=args.dry_run)
    options = Options(dry_run=args.dry_run, venv=not args.no_venv, autostart=args.autostart,
                      python=args.python, pip_args=tuple(args.pip_args), purge=args.purge)
    if args.uninstall or args.purge:
        return uninstall(layout, options, report, os.environ)
    root = source_root or Path(__file__).resolve().parent.parent.parent
    try:
        source = find_source(root, args.wheel.resolve() if args.wheel else None)
    except (InstallError, OSError, ValueError) as error:
        report.line(f"error: {error}")
        return 2
    return install(layout, source, options, report, os.environ, host_platform() == WINDOWS)
