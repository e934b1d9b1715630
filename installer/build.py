"""Build a RevitPyIoT release: the sidecar wheel and a versioned zip for BIM managers.

    python installer/build.py [--out DIR]

Makes ``dist/revitpyiot-<version>-py3-none-any.whl`` (``pip wheel . --no-deps``) and
``dist/RevitPyIoT-<version>.zip`` holding one folder ``RevitPyIoT-<version>/`` with::

    README.md, docs/install.md       what to do, and the details
    install.py                       the installer (python install.py)
    installer/                       its package (revitpyiot_installer) and install.py
    RevitPyIoT.extension/            the pyRevit extension
    shared_schemas/                  the contract the extension imports
    wheels/revitpyiot-<v>-....whl    the sidecar, installed into its own venv by install.py

The version comes from ``shared_schemas/protocol.py`` ``__version__`` (pyproject.toml reads it too).
"""
import argparse
import os
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from revitpyiot_installer.files import tree_files
from revitpyiot_installer.version import read_version
from revitpyiot_installer.wheels import build_wheel

RELEASE_TREES = ("RevitPyIoT.extension", "shared_schemas", "installer/revitpyiot_installer")
RELEASE_FILES = ("README.md", "docs/install.md", "installer/install.py", "LICENSE")
# A top-level install.py so the zip's instructions are one line: python install.py
TOP_LEVEL_INSTALLER = (
    "# -*- coding: utf-8 -*-\n"
    '"""Install RevitPyIoT: python install.py  (see README.md; --help for options)."""\n'
    "import os\n"
    "import runpy\n"
    "import sys\n\n"
    "HERE = os.path.dirname(os.path.abspath(__file__))\n"
    "sys.argv[0] = os.path.join(HERE, 'installer', 'install.py')\n"
    "runpy.run_path(sys.argv[0], run_name='__main__')\n"
)


def _add(archive, path, arcname, stamp):
    info = zipfile.ZipInfo(arcname, date_time=stamp)
    info.external_attr = 0o644 << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    archive.writestr(info, path.read_bytes() if isinstance(path, Path) else path)


def build(out_dir, python=sys.executable, pip_args=()):
    """(wheel path, zip path)."""
    version = read_version(ROOT)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in list(out_dir.glob(f"revitpyiot-{version}-*.whl")):
        stale.unlink()
    wheel = build_wheel(ROOT, out_dir, python, pip_args)
    missing = [name for name in ("README.md", "docs/install.md") if not (ROOT / name).is_file()]
    if missing:
        raise SystemExit("cannot build a release without " + ", ".join(missing))
    top = f"RevitPyIoT-{version}"
    target = out_dir / (top + ".zip")
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    stamp = time.gmtime(int(epoch)) if epoch else time.localtime()
    stamp = tuple(stamp[:6])
    temporary = target.with_suffix(".zip.tmp")
    with zipfile.ZipFile(temporary, "w") as archive:
        for name in RELEASE_TREES:
            for relative in tree_files(ROOT / name):
                _add(archive, ROOT / name / relative, f"{top}/{name}/{relative.as_posix()}", stamp)
        for name in RELEASE_FILES:
            if (ROOT / name).is_file():
                _add(archive, ROOT / name, f"{top}/{name}", stamp)
        _add(archive, TOP_LEVEL_INSTALLER.encode("utf-8"), f"{top}/install.py", stamp)
        _add(archive, wheel, f"{top}/wheels/{wheel.name}", stamp)
    os.replace(temporary, target)
    return wheel, target


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    parser.add_argument("--python", default=sys.executable, help="the Python whose pip builds the wheel")
    parser.add_argument("--pip-arg", dest="pip_args", action="append", default=[], metavar="ARG")
    args = parser.parse_args(argv)
    wheel, archive = build(args.out, args.python, args.pip_args)
    print(f"wheel:   {wheel} ({wheel.stat().st_size} bytes)")
    print(f"release: {archive} ({archive.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
