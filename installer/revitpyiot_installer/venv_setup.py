"""The sidecar's own virtual environment: created with the user's Python, the sidecar wheel
installed into it with pip (dependencies from PyPI or whatever index the user's pip uses)."""
from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

MIN_PYTHON = (3, 11)     # pyproject.toml requires-python
DISTRIBUTION = "revitpyiot"


class VenvError(RuntimeError):
    pass


def python_version_of(python: str) -> tuple | None:
    """(major, minor, micro) of an interpreter, or None when it does not run."""
    try:
        completed = subprocess.run(
            [python, "-I", "-c", "import sys; print('%d %d %d' % sys.version_info[:3])"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if completed.returncode != 0:
        return None
    try:
        return tuple(int(part) for part in completed.stdout.split())
    except ValueError:
        return None


def installed_version(venv_python: Path) -> str | None:
    """The ``revitpyiot`` version installed in the venv, or None (no venv, broken, not installed)."""
    if not venv_python.exists():
        return None
    code = ("import importlib.metadata as m, sys\n"
            f"try:\n    print(m.version({DISTRIBUTION!r}))\nexcept m.PackageNotFoundError:\n    sys.exit(3)\n")
    try:
        # -I and a neutral cwd: a source checkout in the current folder (with its *.egg-info)
        # must not pass for an installed distribution.
        completed = subprocess.run([str(venv_python), "-I", "-c", code], stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, timeout=120,
                                   cwd=str(venv_python.parent), check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return completed.stdout.strip() if completed.returncode == 0 else None


def venv_runs(venv_python: Path) -> bool:
    return python_version_of(str(venv_python)) is not None


def create_venv(base_python: str, venv_dir: Path) -> None:
    completed = subprocess.run([base_python, "-m", "venv", str(venv_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
    if completed.returncode != 0:
        hint = ""
        if "ensurepip" in completed.stdout:
            hint = ("\n  This Python has no 'ensurepip' (Debian/Ubuntu: apt install python3-venv; "
                    "Windows: use the python.org installer).")
        raise VenvError(f"creating the virtual environment {venv_dir} failed:\n"
                        + completed.stdout[-3000:] + hint)


def pip_install(venv_python: Path, requirements: Sequence[str], pip_args: Sequence[str] = (),
                extra: Sequence[str] = ()) -> None:
    """pip install into the venv; pip's own output goes to this console so a long download
    shows progress."""
    command: list[str] = [str(venv_python), "-I", "-m", "pip", "install", "--disable-pip-version-check",
                          "--no-input", *extra, *pip_args, *requirements]
    sys.stdout.flush()
    completed = subprocess.run(command, cwd=str(venv_python.parent), check=False)
    if completed.returncode != 0:
        raise VenvError("pip could not install the sidecar:\n  " + " ".join(command)
                        + "\n  See pip's messages above; behind a proxy or without internet, pass "
                        "--pip-arg=--index-url=<your mirror> (docs/install.md, Troubleshooting).")
