# -*- coding: utf-8 -*-
"""Where the sidecar keeps its data and token, shared by both sides.

IronPython 2.7-safe: the extension uses this to find the token file.
"""
import os
import sys

from shared_schemas.protocol import APP_DIR_NAME, TOKEN_FILE_NAME


def default_data_dir(environ=None, platform=None):
    """The user's RevitPyIoT data folder.

    Windows: ``%LOCALAPPDATA%\\RevitPyIoT``; elsewhere ``$XDG_DATA_HOME/RevitPyIoT``
    or ``~/.local/share/RevitPyIoT``. ``REVITPYIOT_DATA_DIR`` overrides both.
    """
    environ = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    override = environ.get("REVITPYIOT_DATA_DIR")
    if override:
        return override
    if platform.startswith("win") or platform == "cli" and os.name == "nt":
        base = environ.get("LOCALAPPDATA") or os.path.join(
            environ.get("USERPROFILE", os.path.expanduser("~")), "AppData", "Local")
        return base.rstrip("\\/") + "\\" + APP_DIR_NAME
    base = environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, APP_DIR_NAME)


def default_token_path(environ=None, platform=None):
    data_dir = default_data_dir(environ, platform)
    sep = "\\" if "\\" in data_dir and "/" not in data_dir else os.sep
    return data_dir + sep + TOKEN_FILE_NAME
