"""Where every installed thing goes, for one user profile on one platform.

Pure path logic: ``layout_for`` takes the platform, the environment and an optional profile
folder, and a path class, so Windows layouts are computed (and tested) on Linux with
``PureWindowsPath``. Nothing here touches the file system.

Windows (``%LOCALAPPDATA%`` is ``<profile>\\AppData\\Local``)::

    %LOCALAPPDATA%\\RevitPyIoT\\            data folder (same as shared_schemas.paths.default_data_dir)
        app\\RevitPyIoT.extension\\         the extension, registered in place with pyRevit
        app\\shared_schemas\\               imported by the extension from its parent folder
        app\\installer\\                    a copy of this installer, for --uninstall
        venv\\                              the sidecar's own virtual environment
        config.toml, token, install.json   sidecar settings, access token, install record
        backups\\                           copies of pyRevit's config taken before each edit
    %APPDATA%\\pyRevit\\pyRevit_config.ini  pyRevit's settings ([core] userextensions)
    %APPDATA%\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\RevitPyIoT tray.cmd  (--autostart)

Elsewhere (``$XDG_DATA_HOME`` is ``~/.local/share``): ``$XDG_DATA_HOME/RevitPyIoT/`` with the
same content (``venv/bin/python``), autostart in ``$XDG_CONFIG_HOME/autostart/revitpyiot.desktop``.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePath

APP_DIR_NAME = "RevitPyIoT"          # shared_schemas.protocol.APP_DIR_NAME
TOKEN_FILE_NAME = "token"            # shared_schemas.protocol.TOKEN_FILE_NAME
EXTENSION_DIR_NAME = "RevitPyIoT.extension"
INSTALL_RECORD_NAME = "install.json"
PYREVIT_CONFIG_NAME = "pyRevit_config.ini"
WINDOWS_AUTOSTART_NAME = "RevitPyIoT tray.cmd"
XDG_AUTOSTART_NAME = "revitpyiot.desktop"

WINDOWS = "windows"
POSIX = "posix"


def host_platform(platform: str | None = None) -> str:
    """``windows`` or ``posix`` for a ``sys.platform`` value (default: this interpreter's)."""
    platform = sys.platform if platform is None else platform
    return WINDOWS if platform.startswith("win") else POSIX


@dataclass(frozen=True)
class Layout:
    platform: str                    # WINDOWS or POSIX
    home: PurePath                   # the user profile folder
    data_dir: PurePath               # everything RevitPyIoT installs or keeps lives here
    app_dir: PurePath                # registered with pyRevit as an extension search path
    venv_dir: PurePath
    venv_python: PurePath            # console interpreter (pip, tests, diagnostics)
    venv_pythonw: PurePath           # windowless interpreter (tray, Connect button); = python on POSIX
    config_file: PurePath
    token_file: PurePath
    install_record: PurePath
    backups_dir: PurePath
    logs_dir: PurePath
    pyrevit_config_dir: PurePath | None      # None where pyRevit cannot exist (not Windows)
    pyrevit_install_dirs: Sequence[PurePath]    # where a pyRevit clone may live (detection only)
    autostart_file: PurePath

    @property
    def extension_dir(self) -> PurePath:
        return self.app_dir / EXTENSION_DIR_NAME

    @property
    def pyrevit_config_file(self) -> PurePath | None:
        if self.pyrevit_config_dir is None:
            return None
        return self.pyrevit_config_dir / PYREVIT_CONFIG_NAME


def layout_for(platform: str, environ: Mapping[str, str], user_dir: PurePath | None = None,
               path_cls: type[PurePath] = Path) -> Layout:
    """The layout for ``platform`` (WINDOWS/POSIX).

    With ``user_dir`` the profile is that folder and the environment's profile variables are
    ignored (``--user-dir``: install for another profile, or a fake one in tests); without it
    the environment decides, ``REVITPYIOT_DATA_DIR`` included, exactly as the sidecar and the
    extension find their data folder (``shared_schemas.paths``).
    """
    if platform == WINDOWS:
        return _windows_layout(environ, user_dir, path_cls)
    if platform == POSIX:
        return _posix_layout(environ, user_dir, path_cls)
    raise ValueError(f"unknown platform {platform!r} (expected {WINDOWS!r} or {POSIX!r})")


def _in_data_dir(data_dir: PurePath, scripts: str, python: str, pythonw: str) -> dict[str, PurePath]:
    """The Layout fields inside the data folder, alike on every platform but for the virtual
    environment's scripts folder and interpreter names."""
    venv_dir = data_dir / "venv"
    return {"data_dir": data_dir, "app_dir": data_dir / "app", "venv_dir": venv_dir,
            "venv_python": venv_dir / scripts / python, "venv_pythonw": venv_dir / scripts / pythonw,
            "config_file": data_dir / "config.toml", "token_file": data_dir / TOKEN_FILE_NAME,
            "install_record": data_dir / INSTALL_RECORD_NAME, "backups_dir": data_dir / "backups",
            "logs_dir": data_dir / "logs"}


def _windows_layout(environ: Mapping[str, str], user_dir: PurePath | None,
                    path_cls: type[PurePath]) -> Layout:
    if user_dir is not None:
        home = path_cls(user_dir)
        roaming = home / "AppData" / "Roaming"
        local = home / "AppData" / "Local"
        program_data = home / "ProgramData"
        data_dir = local / APP_DIR_NAME
    else:
        home = path_cls(environ.get("USERPROFILE") or os.path.expanduser("~"))
        roaming = path_cls(environ["APPDATA"]) if environ.get("APPDATA") else home / "AppData" / "Roaming"
        local = path_cls(environ["LOCALAPPDATA"]) if environ.get("LOCALAPPDATA") else home / "AppData" / "Local"
        program_data = path_cls(environ.get("PROGRAMDATA") or "C:\\ProgramData")
        override = environ.get("REVITPYIOT_DATA_DIR")
        data_dir = path_cls(override) if override else local / APP_DIR_NAME
    startup = roaming / "Microsoft" / "Windows" / "Start Menu" / "Programs" / "Startup"
    return Layout(
        platform=WINDOWS, home=home, **_in_data_dir(data_dir, "Scripts", "python.exe", "pythonw.exe"),
        pyrevit_config_dir=roaming / "pyRevit",
        # pyRevit >= 4.8 installs per user into %APPDATA%\pyRevit-Master, all-users installs
        # into %PROGRAMDATA% or Program Files; only used to tell the user what was found.
        pyrevit_install_dirs=(roaming / "pyRevit-Master", program_data / "pyRevit-Master",
                              program_data / "pyRevit"),
        autostart_file=startup / WINDOWS_AUTOSTART_NAME,
    )


def _posix_layout(environ: Mapping[str, str], user_dir: PurePath | None,
                  path_cls: type[PurePath]) -> Layout:
    if user_dir is not None:
        home = path_cls(user_dir)
        data_home = home / ".local" / "share"
        config_home = home / ".config"
        data_dir = data_home / APP_DIR_NAME
    else:
        home = path_cls(environ.get("HOME") or os.path.expanduser("~"))
        data_home = path_cls(environ["XDG_DATA_HOME"]) if environ.get("XDG_DATA_HOME") \
            else home / ".local" / "share"
        config_home = path_cls(environ["XDG_CONFIG_HOME"]) if environ.get("XDG_CONFIG_HOME") \
            else home / ".config"
        override = environ.get("REVITPYIOT_DATA_DIR")
        data_dir = path_cls(override) if override else data_home / APP_DIR_NAME
    return Layout(
        platform=POSIX, home=home, **_in_data_dir(data_dir, "bin", "python", "python"),
        pyrevit_config_dir=None, pyrevit_install_dirs=(),
        autostart_file=config_home / "autostart" / XDG_AUTOSTART_NAME,
    )
