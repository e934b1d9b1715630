# -*- coding: utf-8 -*-
"""Finding and starting the installed sidecar (the Connect button uses this when nothing answers).

The installer writes ``install.json`` into the RevitPyIoT data folder
(``%LOCALAPPDATA%\\RevitPyIoT`` on Windows, see ``shared_schemas.paths``); its ``sidecar`` entry
names the venv's interpreters, the data folder and the config file. This module only reads it.

IronPython 2.7-safe (and CPython 3): ``subprocess`` starts the sidecar detached from Revit, with no
console window, so closing Revit does not stop it and a crash of either never takes the other.
"""
from __future__ import absolute_import

import io
import json
import os
import subprocess
import sys

from shared_schemas import paths

INSTALL_RECORD_NAME = "install.json"

# Windows process creation flags (winbase.h): no console of its own or Revit's, and its own
# process group so console control events aimed at Revit never reach it.
DETACHED_PROCESS = 0x00000008
CREATE_NEW_PROCESS_GROUP = 0x00000200


class LauncherError(Exception):
    """The sidecar is not installed for this user, or its interpreter is missing."""


def _is_windows():
    return sys.platform.startswith("win") or (sys.platform == "cli" and os.name == "nt")


def install_record_path(data_dir=None):
    return os.path.join(data_dir or paths.default_data_dir(), INSTALL_RECORD_NAME)


def read_install_record(data_dir=None):
    """The installer's record (a dict), or None when RevitPyIoT was not installed for this user."""
    path = install_record_path(data_dir)
    if not os.path.isfile(path):
        return None
    try:
        with io.open(path, "r", encoding="utf-8") as handle:
            record = json.load(handle)
    except (IOError, OSError, ValueError) as error:
        raise LauncherError("cannot read %s: %s" % (path, error))
    if not isinstance(record, dict):
        raise LauncherError("%s is not an install record" % path)
    return record


def find_sidecar_command(tray=True, data_dir=None, extra_args=None, record=None):
    """The command line that starts the installed sidecar, or None when it is not installed.

    ``tray=True`` gives ``<pythonw> -I -m sidecar tray ...`` (the tray icon, which runs the service),
    ``tray=False`` gives ``<python(w)> -I -m sidecar serve ...``. Both get ``--data-dir`` and, when the
    installer wrote one, ``--config``; ``extra_args`` (e.g. ``["--command-endpoint", E]``) go last.
    """
    if record is None:
        record = read_install_record(data_dir)
    if not record or not isinstance(record.get("sidecar"), dict):
        return None
    sidecar = record["sidecar"]
    python = sidecar.get("pythonw") if _is_windows() else sidecar.get("python")
    python = python or sidecar.get("python")
    if not python or not os.path.isfile(python):
        return None
    # -I (isolated): Revit's or the user's PYTHONPATH / user site-packages never reach the venv.
    command = [python, "-I", "-m", sidecar.get("module") or "sidecar", "tray" if tray else "serve",
               "--data-dir", data_dir or sidecar.get("data_dir") or paths.default_data_dir()]
    config = sidecar.get("config")
    if config and os.path.isfile(config):
        command += ["--config", config]
    if extra_args:
        command += list(extra_args)
    return command


def start_sidecar(tray=True, data_dir=None, extra_args=None, log_path=None):
    """Start the installed sidecar detached from this process; returns the ``Popen``.

    Raises ``LauncherError`` when it is not installed. The caller then polls ``hello`` (with its
    usual time-out) until the sidecar answers: starting takes a second or two. On POSIX the
    output goes to ``log_path`` (default ``<data dir>/logs/launcher.log``); on Windows the
    windowless interpreter has no console and the sidecar writes its own log.
    """
    command = find_sidecar_command(tray=tray, data_dir=data_dir, extra_args=extra_args)
    if command is None:
        raise LauncherError(
            "the RevitPyIoT sidecar is not installed for this user (no %s with a working "
            "interpreter): run the RevitPyIoT installer (python install.py)"
            % install_record_path(data_dir))
    workdir = command[command.index("--data-dir") + 1]   # never Revit's own working folder
    if not os.path.isdir(workdir):
        os.makedirs(workdir)
    if _is_windows():
        # No redirection: with close_fds Python 2.7 refuses std handles on Windows, and keeping
        # Revit's handles out of the child matters more than its (windowless) output.
        return subprocess.Popen(command, cwd=workdir, close_fds=True,
                                creationflags=DETACHED_PROCESS | CREATE_NEW_PROCESS_GROUP)
    if log_path is None:
        log_dir = os.path.join(workdir, "logs")
        if not os.path.isdir(log_dir):
            os.makedirs(log_dir)
        log_path = os.path.join(log_dir, "launcher.log")
    log = open(log_path, "ab")
    devnull = open(os.devnull, "rb")
    try:
        options = {"cwd": workdir, "stdin": devnull, "stdout": log,
                   "stderr": subprocess.STDOUT, "close_fds": True}
        if sys.version_info[0] >= 3:
            options["start_new_session"] = True   # leaves the caller's session and process group
        else:
            options["preexec_fn"] = os.setsid
        return subprocess.Popen(command, **options)
    finally:
        devnull.close()
        log.close()
