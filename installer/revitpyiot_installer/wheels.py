"""Building the sidecar's wheel (``revitpyiot``: packages ``sidecar`` and ``shared_schemas``).

pip builds from a temporary copy of the source, because setuptools writes ``build/`` and
``*.egg-info`` into the folder it builds: the user's download and a developer's checkout stay
untouched.
"""
from __future__ import annotations

import shutil
import subprocess
import tempfile
import zipfile
from collections.abc import Sequence
from pathlib import Path

from .files import SKIPPED_NAMES, SKIPPED_SUFFIXES

# What the wheel is built from (pyproject.toml names the packages and reads the version).
WHEEL_SOURCES = ("pyproject.toml", "README.md", "LICENSE", "sidecar", "shared_schemas")
EXAMPLE_CONFIG = "sidecar/sidecar.example.toml"


class WheelError(RuntimeError):
    pass


def _ignore(_directory: str, names: list[str]) -> list[str]:
    return [n for n in names if n in SKIPPED_NAMES or n.endswith(SKIPPED_SUFFIXES) or n == "build"]


def copy_wheel_sources(source_root: Path, destination: Path) -> None:
    for part in WHEEL_SOURCES:
        path = source_root / part
        if path.is_dir():
            shutil.copytree(path, destination / part, ignore=_ignore)
        elif path.is_file():
            shutil.copyfile(path, destination / part)


def build_wheel(source_root: Path, out_dir: Path, python: str,
                pip_args: Sequence[str] = (), log: object | None = None) -> Path:
    """Build ``revitpyiot-<version>-py3-none-any.whl`` into ``out_dir`` with ``python -m pip``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="revitpyiot-build-") as scratch:
        copy = Path(scratch) / "src"
        copy.mkdir()
        copy_wheel_sources(source_root, copy)
        wheel_dir = Path(scratch) / "wheel"
        command = [python, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check",
                   "--no-input", "-w", str(wheel_dir), *pip_args, str(copy)]
        completed = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, check=False)
        if completed.returncode != 0:
            raise WheelError("building the sidecar wheel failed:\n  " + " ".join(command) + "\n"
                             + completed.stdout[-4000:])
        built = sorted(wheel_dir.glob("revitpyiot-*.whl"))
        if len(built) != 1:
            raise WheelError(f"expected one revitpyiot wheel, pip made {[p.name for p in built]}")
        target = out_dir / built[0].name
        shutil.copyfile(built[0], target)
        return target


def example_config_from_wheel(wheel: Path) -> bytes | None:
    with zipfile.ZipFile(wheel) as archive:
        try:
            return archive.read(EXAMPLE_CONFIG)
        except KeyError:
            return None
