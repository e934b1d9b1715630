#!/usr/bin/env python3
"""Developer bootstrap: the two commands README promises.

    python installer/dev.py demo [--duration S]   set up .venv, run the end-to-end demo
    python installer/dev.py test [PYTEST ARGS]    set up .venv, run the whole test suite

Only the standard library is used here, so this runs with nothing but Python 3.11+
installed, on Windows as on Linux. It creates (or reuses) ``.venv`` at the
repository root and installs the project into it; it reinstalls only when
``pyproject.toml`` changed since the last install.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import signal
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
STAMP = VENV / ".revitpyiot-install-stamp"
MIN_PYTHON = (3, 11)

# Debian packages the tests need for their real peers, by the command that proves each is there.
DEBIAN_TEST_PACKAGES = {
    "mosquitto": "mosquitto",
    "initdb": "postgresql",
    "Xvfb": "xvfb",
    "chromium": "chromium",
}
POSTGRES_BIN_GLOB = "/usr/lib/postgresql/*/bin/initdb"


def log(message: str) -> None:
    print(f"[dev] {message}", flush=True)


def venv_python() -> Path:
    if os.name == "nt":
        return VENV / "Scripts" / "python.exe"
    return VENV / "bin" / "python"


def install_fingerprint() -> str:
    digest = hashlib.sha256()
    digest.update((ROOT / "pyproject.toml").read_bytes())
    digest.update(sys.version.encode())
    return digest.hexdigest()


def ensure_venv() -> Path:
    """Create or reuse .venv and install the project (with its test extras) into it."""
    if sys.version_info < MIN_PYTHON:
        sys.exit(f"RevitPyIoT needs Python {MIN_PYTHON[0]}.{MIN_PYTHON[1]}+, this is {sys.version.split()[0]}")
    python = venv_python()
    if not python.exists():
        log(f"creating virtual environment {VENV}")
        venv.EnvBuilder(with_pip=True, clear=VENV.exists()).create(VENV)
    fingerprint = install_fingerprint()
    if STAMP.exists() and STAMP.read_text().strip() == fingerprint:
        log(f"reusing {VENV} (project already installed)")
        return python
    log("installing RevitPyIoT and its dependencies into .venv (first run takes a minute)")
    run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "--upgrade", "pip"])
    run([str(python), "-m", "pip", "install", "--disable-pip-version-check", "-q", "-e", f"{ROOT}[test]"])
    run([str(python), "-m", "pip", "check"])
    STAMP.write_text(fingerprint)
    return python


def run(command: list[str], **kwargs) -> None:
    result = subprocess.run(command, cwd=ROOT, check=False, **kwargs)
    if result.returncode != 0:
        sys.exit(f"command failed ({result.returncode}): {' '.join(command)}")


def missing_debian_packages() -> list[str]:
    missing = []
    for command, package in DEBIAN_TEST_PACKAGES.items():
        if shutil.which(command):
            continue
        if command == "initdb" and list(Path("/").glob(POSTGRES_BIN_GLOB.lstrip("/"))):
            continue
        missing.append(package)
    return missing


def ensure_test_services() -> None:
    """On Debian/Ubuntu as root, install the packages whose servers the tests start.

    Elsewhere the tests that need a missing peer fail with a message naming it.
    """
    if not sys.platform.startswith("linux"):
        return
    missing = missing_debian_packages()
    if not missing:
        return
    is_root = hasattr(os, "geteuid") and os.geteuid() == 0
    if not (is_root and shutil.which("apt-get")):
        log(f"missing test peers: {', '.join(missing)}; install them (e.g. apt-get install {' '.join(missing)})")
        return
    log(f"installing Debian packages for the tests' real peers: {' '.join(missing)}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], env=env, check=False)
    run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


def cmd_test(args: argparse.Namespace, extra: list[str]) -> int:
    python = ensure_venv()
    ensure_test_services()
    command = [str(python), "-m", "pytest", *extra]
    log("running " + " ".join(command[1:]))
    return subprocess.call(command, cwd=ROOT)


def cmd_demo(args: argparse.Namespace, extra: list[str]) -> int:
    python = ensure_venv()
    command = [str(python), str(ROOT / "installer" / "demo.py"), *extra]
    if args.duration is not None:
        command += ["--duration", str(args.duration)]
    log("running the demo: sidecar + simulated building + headless extension client (Ctrl-C stops it)")
    return run_demo(command)


def run_demo(command: list[str]) -> int:
    """Run the demo so that Ctrl-C, a closed terminal or a SIGTERM reaches it and only it: it
    prints its summary and stops its sidecar itself. (``subprocess.call`` would kill it 0.25 s
    after a Ctrl-C, before it has stopped the sidecar, which runs in its own session.)"""
    sys.stdout.flush()
    sys.stderr.flush()
    if os.name == "posix":  # become the demo: no process in between to take or pass on signals
        os.chdir(ROOT)
        os.execv(command[0], command)
    # Windows: the console's Ctrl-C, Ctrl-Break and close reach the demo directly; this one waits.
    for name in ("SIGINT", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    return subprocess.Popen(command, cwd=ROOT).wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dev.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="set up .venv and run the end-to-end demo")
    demo.add_argument("--duration", type=float, default=None, help="stop after S seconds with a summary")
    demo.set_defaults(func=cmd_demo)
    test = sub.add_parser("test", help="set up .venv and run the whole test suite (extra args go to pytest)")
    test.set_defaults(func=cmd_test)
    args, extra = parser.parse_known_args(argv)
    return args.func(args, extra)


if __name__ == "__main__":
    sys.exit(main())
