"""Starting the sidecar's tray icon at login: a Startup-folder ``.cmd`` on Windows, an XDG
autostart ``.desktop`` entry elsewhere.

The ``.cmd`` (rather than a ``.lnk`` shortcut, which needs COM, or a ``.vbs``, which many
companies block with Windows Script Host policies) runs ``pythonw.exe`` through ``start`` so the
tray keeps no console; the console of the ``.cmd`` itself shows for a moment at login.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from .layout import WINDOWS, Layout


def tray_command(layout: Layout, with_config: bool) -> list:
    # -I: the user's PYTHONPATH or user site-packages must not shadow the venv's sidecar.
    command = [str(layout.venv_pythonw), "-I", "-m", "sidecar", "tray", "--data-dir", str(layout.data_dir)]
    if with_config:
        command += ["--config", str(layout.config_file)]
    return command


def cmd_quote(argument: str) -> str:
    # Inside double quotes cmd.exe still expands %VAR%: a literal % is written %%.
    return '"' + argument.replace("%", "%%") + '"'


def cmd_argument(argument: str) -> str:
    return argument if re.fullmatch(r"[A-Za-z0-9_.\-]+", argument) else cmd_quote(argument)


def windows_cmd(command: Sequence[str]) -> bytes:
    line = 'start "" ' + " ".join(cmd_argument(argument) for argument in command)
    lines = [
        "@echo off",
        "rem RevitPyIoT: starts the sidecar's tray icon at login.",
        "rem Written by the RevitPyIoT installer; 'install.py --uninstall' or '--no-autostart' removes it.",
    ]
    if not line.isascii():
        # cmd.exe decodes each line in the current code page: switch to UTF-8 before the
        # line that holds a non-ASCII profile path.
        lines.append("chcp 65001 >nul")
    lines.append(line)
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def desktop_quote(argument: str) -> str:
    """Quote one Exec argument per the Desktop Entry Specification."""
    reserved = set(' \t\n"\'\\><~|&;$*?#()`')
    escaped = argument.replace("%", "%%")
    if not any(char in reserved for char in escaped):
        return escaped
    for char in ('\\', '"', '`', '$'):
        escaped = escaped.replace(char, "\\" + char)
    # the file format itself also un-escapes backslashes once
    return '"' + escaped.replace("\\", "\\\\") + '"'


def xdg_desktop_entry(command: Sequence[str]) -> bytes:
    text = "\n".join([
        "[Desktop Entry]",
        "Type=Application",
        "Name=RevitPyIoT sidecar",
        "Comment=Starts the RevitPyIoT sidecar tray icon at login (added by the RevitPyIoT installer)",
        "Exec=" + " ".join(desktop_quote(argument) for argument in command),
        "Terminal=false",
        "X-GNOME-Autostart-enabled=true",
        "",
    ])
    return text.encode("utf-8")


def autostart_content(layout: Layout, with_config: bool) -> bytes:
    command = tray_command(layout, with_config)
    return windows_cmd(command) if layout.platform == WINDOWS else xdg_desktop_entry(command)
