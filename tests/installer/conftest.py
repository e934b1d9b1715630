"""Fixtures for the installer tests: fake user profiles and a runner for install.py.

Every test works in its own temporary profile (``--user-dir``); nothing touches the real user's
AppData, ~/.local or pyRevit config.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALLER_DIR = ROOT / "installer"
if str(INSTALLER_DIR) not in sys.path:
    sys.path.insert(0, str(INSTALLER_DIR))

# A pyRevit 5 style config with the user's own settings and two other extension folders; CRLF
# like the files pyRevit writes on Windows.
PYREVIT_CONFIG = (
    "[core]\r\n"
    "checkupdates = false\r\n"
    "autoupdate = false\r\n"
    "verbose = true\r\n"
    "; search folders added by the BIM team\r\n"
    "userextensions = [\"C:\\\\BIM\\\\Extensions\",\"%APPDATA%\\\\pyRevit\\\\Extensions\\\\Team\"]\r\n"
    "rocketmode = true\r\n"
    "user_locale = \"de_de\"\r\n"
    "\r\n"
    "[environment]\r\n"
    "clones = {\"master\":\"C:\\\\Users\\\\bim\\\\AppData\\\\Roaming\\\\pyRevit-Master\"}\r\n"
    "\r\n"
    "[pyRevitBundlesCreatorExtension.extension]\r\n"
    "disabled = true\r\n"
    "\r\n"
    "[RevitPyIoT]\r\n"
    "building_id = \"hq\"\r\n"
)


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if k not in ("REVITPYIOT_DATA_DIR", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "APPDATA",
                        "LOCALAPPDATA")}
    env.update(extra)
    return env


def run_install(args, script=INSTALLER_DIR / "install.py", env=None, check=True, timeout=600):
    completed = subprocess.run([sys.executable, str(script)] + [str(a) for a in args],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env or clean_env(), timeout=timeout, check=False)
    if check and completed.returncode != 0:
        raise AssertionError(f"install.py {args} failed ({completed.returncode}):\n{completed.stdout}")
    return completed


def step_lines(output):
    """{step: [outcome, ...]} from the installer's "[step] outcome: detail" lines."""
    steps = {}
    for line in output.splitlines():
        if line.startswith("[") and "] " in line:
            step, rest = line[1:].split("] ", 1)
            steps.setdefault(step, []).append(rest.split(":", 1)[0])
    return steps


def snapshot(root):
    """{relative path: (mtime_ns, bytes)} of every file under root."""
    result = {}
    for path in sorted(Path(root).rglob("*")):
        if path.is_file() and not path.is_symlink():
            result[path.relative_to(root).as_posix()] = (path.stat().st_mtime_ns, path.read_bytes())
    return result


@pytest.fixture
def windows_profile(tmp_path):
    """A Windows-like profile folder: AppData\\Roaming\\pyRevit\\pyRevit_config.ini and friends."""
    home = tmp_path / "bim"
    config = home / "AppData" / "Roaming" / "pyRevit" / "pyRevit_config.ini"
    config.parent.mkdir(parents=True)
    config.write_bytes(PYREVIT_CONFIG.encode("utf-8"))
    (home / "AppData" / "Local").mkdir(parents=True)
    # another extension the user has, which must survive everything
    other = home / "AppData" / "Roaming" / "pyRevit" / "Extensions" / "Team" / "Team.extension"
    other.mkdir(parents=True)
    (other / "extension.json").write_text("{}")
    return home


@pytest.fixture
def linux_profile(tmp_path):
    home = tmp_path / "user"
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "user-dirs.dirs").write_text("XDG_DESKTOP_DIR=\"$HOME/Desktop\"\n")
    return home
