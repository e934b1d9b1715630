"""The install steps, in order. Each step looks before it leaps: when what it would make is
already there it reports "unchanged" and writes nothing.

Every creation is recorded in ``install.json`` right after it happens (the record is saved after
each step), so even an install interrupted half-way can be uninstalled exactly.
"""
from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import pyrevit_config as ini
from .autostart import autostart_content
from .files import (
    fingerprint,
    missing_dirs,
    remove_tree,
    sha256_bytes,
    sha256_file,
    tree_files,
    write_if_changed,
)
from .layout import EXTENSION_DIR_NAME, WINDOWS, Layout
from .record import empty_record, load_record, save_record
from .report import CREATED, FAILED, INFO, REMOVED, SKIPPED, UNCHANGED, UPDATED, Reporter
from .venv_setup import (
    MIN_PYTHON,
    VenvError,
    create_venv,
    installed_version,
    pip_install,
    python_version_of,
    venv_runs,
)
from .wheels import EXAMPLE_CONFIG, WheelError, build_wheel, example_config_from_wheel

# Copied into <data>/app: the extension, the contract it imports, and this installer (so the
# installed copy can uninstall itself without the download).
APP_TREES = (EXTENSION_DIR_NAME, "shared_schemas")
INSTALLER_FILES = ("installer/install.py", "installer/revitpyiot_installer")
# What the repository's wheel is built from: a change to any of it reinstalls the sidecar.
WHEEL_FINGERPRINT_PARTS = ("pyproject.toml", "README.md", "sidecar", "shared_schemas")
PYREVIT_RELEASES = "https://github.com/pyrevitlabs/pyRevit/releases"


class InstallError(RuntimeError):
    pass


@dataclass
class Source:
    """Where this installer runs from: the repository, or an unpacked release zip."""
    root: Path
    kind: str                     # "repo" or "release"
    version: str
    wheel: Path | None = None  # the release's sidecar wheel (or --wheel)

    def describe(self) -> str:
        if self.wheel is not None:
            return f"{self.kind} {self.root} (wheel {self.wheel.name})"
        return f"{self.kind} {self.root}"


@dataclass
class Options:
    dry_run: bool = False
    venv: bool = True
    autostart: bool | None = None     # None: keep what the last install did
    python: str = sys.executable
    pip_args: Sequence[str] = ()
    purge: bool = False


@dataclass
class Context:
    layout: Layout
    options: Options
    report: Reporter
    environ: Mapping[str, str]
    host_is_windows: bool
    record: dict[str, Any] = field(default_factory=empty_record)

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run

    def save(self) -> None:
        if not self.dry_run:
            save_record(Path(self.layout.install_record), self.record, False)

    def remember_dirs(self, dirs: Sequence[Path]) -> None:
        self.record["created_dirs"] = sorted(set(self.record["created_dirs"]) | {str(d) for d in dirs})


def find_source(root: Path, wheel: Path | None) -> Source:
    from .version import read_version
    if not (root / "shared_schemas" / "protocol.py").is_file():
        raise InstallError(f"{root} holds no shared_schemas/protocol.py: run install.py from the "
                           "RevitPyIoT release folder or repository")
    version = read_version(root)
    if wheel is not None:
        return Source(root, "wheel", version, wheel)
    wheels = sorted((root / "wheels").glob("revitpyiot-*.whl"))
    if wheels:
        return Source(root, "release", version, wheels[-1])
    if (root / "pyproject.toml").is_file() and (root / "sidecar").is_dir():
        return Source(root, "repo", version)
    raise InstallError(
        f"{root} has neither wheels/revitpyiot-*.whl (release) nor pyproject.toml + sidecar/ "
        "(repository). This is probably the installed copy, which can only --uninstall; run "
        "install.py from the release folder.")


# -- steps -------------------------------------------------------------------------------------

def step_python(ctx: Context) -> None:
    version = python_version_of(ctx.options.python)
    if version is None:
        ctx.report.step("python", FAILED, f"{ctx.options.python} does not run")
        raise InstallError(f"{ctx.options.python} does not run")
    shown = ".".join(str(v) for v in version)
    if ctx.options.venv and tuple(version[:2]) < MIN_PYTHON:
        need = ".".join(str(v) for v in MIN_PYTHON)
        ctx.report.step("python", FAILED, f"Python {shown} at {ctx.options.python}; the sidecar needs "
                        f"Python {need} or newer (python.org installer, 'for me only' needs no admin rights)")
        raise InstallError("Python too old")
    ctx.report.step("python", INFO, f"Python {shown} at {ctx.options.python}")


def step_app_files(ctx: Context, source: Source) -> None:
    app_dir = Path(ctx.layout.app_dir)
    trees = [(source.root / name, app_dir / name) for name in APP_TREES]
    trees += [(source.root / name, app_dir / name) for name in INSTALLER_FILES]
    wanted: dict[str, Path] = {}
    for src, dst in trees:
        if src.is_file():
            wanted[str(dst)] = src
        elif src.is_dir():
            for relative in tree_files(src):
                wanted[str(dst / relative)] = src / relative
        else:
            raise InstallError(f"{src} is missing from {source.root}")
    created = updated = unchanged = 0
    new_dirs: list[Path] = []
    for destination_text, src in sorted(wanted.items()):
        destination = Path(destination_text)
        data = src.read_bytes()
        if not destination.exists():
            new_dirs += missing_dirs(destination.parent)
        outcome = write_if_changed(destination, data, ctx.dry_run)
        created += outcome == CREATED
        updated += outcome == UPDATED
        unchanged += outcome == UNCHANGED
        ctx.record["app_files"][destination_text] = sha256_bytes(data)
    # Files an older version installed that this one no longer ships.
    stale = sorted(set(ctx.record["app_files"]) - set(wanted))
    for path_text in stale:
        if not ctx.dry_run and Path(path_text).exists():
            Path(path_text).unlink()
        del ctx.record["app_files"][path_text]
    ctx.remember_dirs(new_dirs)
    ctx.save()
    total = len(wanted)
    if created == total:
        ctx.report.step("files", CREATED, f"{app_dir} ({total} files: {', '.join(APP_TREES)}, installer)")
    elif created or updated or stale:
        ctx.report.step("files", UPDATED, f"{app_dir}: {created} new, {updated} changed, "
                        f"{len(stale)} removed, {unchanged} unchanged")
    else:
        ctx.report.step("files", UNCHANGED, f"{app_dir} ({total} files)")


def find_pyrevit_config(layout: Layout) -> Path | None:
    if layout.pyrevit_config_dir is None:
        return None
    directory = Path(layout.pyrevit_config_dir)
    default = directory / ini_file_name(layout)
    if default.is_file():
        return default
    if directory.is_dir():
        # pyRevit accepts another *.ini name in that folder (it takes the first that matches).
        for candidate in sorted(directory.glob("*.ini")):
            lowered = candidate.name.lower()
            if "pyrevit" in lowered or "config" in lowered:
                return candidate
    return None


def ini_file_name(layout: Layout) -> str:
    config_file = layout.pyrevit_config_file
    assert config_file is not None
    return config_file.name


def pyrevit_cli(environ: Mapping[str, str]) -> str | None:
    return shutil.which("pyrevit", path=environ.get("PATH"))


def cli_hint(app_dir: Path) -> str:
    return f'pyrevit extensions paths add "{app_dir}"'


def step_pyrevit(ctx: Context) -> None:
    layout = ctx.layout
    app_dir = str(layout.app_dir)
    cli = pyrevit_cli(ctx.environ)
    if layout.pyrevit_config_dir is None:
        ctx.report.step("pyrevit", SKIPPED, f"pyRevit runs on Windows only; the extension is in {app_dir} "
                        "(register that folder in pyRevit on a Windows machine)")
        return
    config = find_pyrevit_config(layout)
    found = [str(p) for p in layout.pyrevit_install_dirs if Path(p).is_dir()]
    if config is None and not Path(layout.pyrevit_config_dir).is_dir() and not found and cli is None:
        ctx.report.step("pyrevit", SKIPPED, f"pyRevit not found (no {layout.pyrevit_config_dir}). Install "
                        f"pyRevit ({PYREVIT_RELEASES}), start Revit once, then run this installer again; or "
                        f"add {app_dir} in pyRevit > Settings > Custom Extension Directories")
        return
    windows = layout.platform == WINDOWS
    previous = ctx.record.get("pyrevit") or {}
    if config is None:
        config = Path(layout.pyrevit_config_dir) / ini_file_name(layout)
        result = ini.add_extension_dir("", app_dir, windows, ctx.environ)
        data = ini.encode_config(result.text, "utf-8")
        write_if_changed(config, data, ctx.dry_run)
        ctx.record["pyrevit"] = {"config": str(config), "entry": app_dir, "created_file": True,
                                 "added_key": True, "added_section": True,
                                 "written_sha256": sha256_bytes(data), "backup": None}
        ctx.save()
        ctx.report.step("pyrevit", CREATED, f"{config} with [core] userextensions = {app_dir} "
                        "(pyRevit had no config file yet)")
    else:
        original = config.read_bytes()
        text, encoding = ini.decode_config(original)
        if not ini.user_can_extend(text):
            ctx.report.note("pyRevit's config says usercanextend = false: pyRevit may ignore user "
                            "extensions here; ask whoever manages pyRevit to allow it or add the folder")
        try:
            result = ini.add_extension_dir(text, app_dir, windows, ctx.environ)
        except ini.ConfigFormatError as error:
            ctx.report.step("pyrevit", FAILED, f"{config} left untouched: {error}. Add {app_dir} in pyRevit > "
                            f"Settings > Custom Extension Directories, or run: {cli_hint(Path(app_dir))}")
            return
        if not result.changed:
            if not previous:
                # Registered before (by hand or by an older install): not ours to remove later.
                ctx.record["pyrevit"] = {"config": str(config), "entry": app_dir, "created_file": False,
                                         "added_key": False, "added_section": False, "written_sha256": None,
                                         "backup": None, "preexisting": True}
                ctx.save()
            ctx.report.step("pyrevit", UNCHANGED, f"{config} already lists {app_dir}")
        else:
            data = ini.encode_config(result.text, encoding)
            backup = backup_file(ctx, config, original)
            write_if_changed(config, data, ctx.dry_run)
            ctx.record["pyrevit"] = {"config": str(config), "entry": app_dir, "created_file": False,
                                     "added_key": result.added_key, "added_section": result.added_section,
                                     "written_sha256": sha256_bytes(data), "backup": str(backup)}
            ctx.save()
            ctx.report.step("pyrevit", UPDATED, f"{config}: added {app_dir} to [core] userextensions "
                            f"(backup: {backup})")
    if cli is not None:
        ctx.report.note(f"pyRevit CLI found ({cli}); the same registration by hand: {cli_hint(Path(app_dir))}")
    if found:
        ctx.report.note("pyRevit installation found: " + ", ".join(found))
    if ctx.host_is_windows and revit_running():
        ctx.report.note("Revit is running: use pyRevit > Reload to see the RevitPyIoT tab. If you change "
                        "pyRevit settings in this Revit session, run this installer again afterwards.")


def backup_file(ctx: Context, path: Path, data: bytes) -> Path:
    """A copy in RevitPyIoT's own backups folder: never beside pyRevit's config, whose loader
    takes the first ``*.ini``-looking file of that folder as its config."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    backups = Path(ctx.layout.backups_dir)
    target = backups / f"{path.name}.{stamp}.bak"
    counter = 1
    while target.exists():
        counter += 1
        target = backups / f"{path.name}.{stamp}-{counter}.bak"
    if not ctx.dry_run:
        ctx.remember_dirs(missing_dirs(backups))
        write_if_changed(target, data, False)
        if str(backups) not in ctx.record["user_data"]:
            ctx.record["user_data"].append(str(backups))
    return target


def revit_running() -> bool:
    try:
        completed = subprocess.run(["tasklist", "/FI", "IMAGENAME eq Revit.exe", "/NH"],
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "revit.exe" in completed.stdout.lower()


def step_venv(ctx: Context, source: Source) -> None:
    layout = ctx.layout
    venv_dir, venv_python = Path(layout.venv_dir), Path(layout.venv_python)
    if not ctx.options.venv:
        ctx.report.step("venv", SKIPPED, "--no-venv: no virtual environment, sidecar not installed")
        return
    if source.wheel is not None:
        wanted = "wheel:" + sha256_file(source.wheel)
    else:
        wanted = "repo:" + fingerprint(source.root, WHEEL_FINGERPRINT_PARTS)
    previous = ctx.record.get("venv") or {}
    ours = bool(previous.get("created"))
    exists = venv_dir.exists()
    healthy = exists and venv_runs(venv_python)
    if healthy and previous.get("fingerprint") == wanted and installed_version(venv_python) == source.version:
        ctx.report.step("venv", UNCHANGED, f"{venv_dir}")
        ctx.report.step("sidecar", UNCHANGED, f"revitpyiot {source.version} in {venv_dir}")
        record_sidecar(ctx)
        return
    if ctx.dry_run:
        ctx.report.step("venv", UNCHANGED if healthy else CREATED, str(venv_dir))
        ctx.report.step("sidecar", UPDATED if healthy else CREATED, f"revitpyiot {source.version} from "
                        f"{source.describe()}")
        return
    venv_outcome = UNCHANGED
    if exists and not healthy:
        if not ours:
            raise InstallError(f"{venv_dir} exists but is not a working virtual environment and was not "
                               "made by this installer: move it away and run the installer again")
        remove_tree(venv_dir)   # e.g. the Python it was made from was uninstalled
        exists = False
        venv_outcome = UPDATED
    if not exists:
        ctx.remember_dirs(missing_dirs(venv_dir.parent))
        ctx.record["venv"] = {"dir": str(venv_dir), "created": True, "fingerprint": None, "version": None}
        ctx.save()   # recorded before it exists: an interrupted creation is still uninstallable
        create_venv(ctx.options.python, venv_dir)
        venv_outcome = CREATED if venv_outcome == UNCHANGED else venv_outcome
    elif not previous:
        ctx.record["venv"] = {"dir": str(venv_dir), "created": False, "fingerprint": None, "version": None}
    ctx.report.step("venv", venv_outcome, str(venv_dir))
    already = installed_version(venv_python)
    with tempfile.TemporaryDirectory(prefix="revitpyiot-wheel-") as scratch:
        wheel = source.wheel
        if wheel is None:
            ctx.report.note(f"building the sidecar wheel from {source.root}")
            try:
                wheel = build_wheel(source.root, Path(scratch), str(venv_python), ctx.options.pip_args)
            except WheelError as error:
                raise InstallError(str(error)) from None
        ctx.report.note(f"pip install {wheel.name} (and its dependencies) into {venv_dir}")
        if already is not None:
            # Same version number with new content (a development build): replace it.
            pip_install(venv_python, [str(wheel)], ctx.options.pip_args, ["--force-reinstall", "--no-deps"])
        pip_install(venv_python, [str(wheel)], ctx.options.pip_args)
    version = installed_version(venv_python)
    if version != source.version:
        raise InstallError(f"after pip install the venv reports revitpyiot {version!r}, expected {source.version}")
    ctx.record["venv"].update({"fingerprint": wanted, "version": version})
    record_sidecar(ctx)
    ctx.save()
    ctx.report.step("sidecar", UPDATED if already else CREATED, f"revitpyiot {version} in {venv_dir}")


def record_sidecar(ctx: Context) -> None:
    layout = ctx.layout
    ctx.record["sidecar"] = {
        "python": str(layout.venv_python), "pythonw": str(layout.venv_pythonw),
        "data_dir": str(layout.data_dir),
        "config": str(layout.config_file) if Path(layout.config_file).exists() or ctx.dry_run else None,
        "module": "sidecar",
    }


def example_config(source: Source) -> bytes | None:
    if source.wheel is not None:
        return example_config_from_wheel(source.wheel)
    path = source.root / EXAMPLE_CONFIG
    return path.read_bytes() if path.is_file() else None


def step_config(ctx: Context, source: Source) -> None:
    path = Path(ctx.layout.config_file)
    if path.exists():
        ctx.report.step("config", UNCHANGED, f"{path} (yours: never overwritten)")
    else:
        content = example_config(source)
        if content is None:
            ctx.report.step("config", SKIPPED, f"this build has no {EXAMPLE_CONFIG}; the sidecar runs on its "
                            "built-in defaults")
            return
        ctx.remember_dirs(missing_dirs(path.parent))
        write_if_changed(path, content, ctx.dry_run)
        ctx.record["user_data"] = sorted(set(ctx.record["user_data"]) | {str(path)})
        ctx.report.step("config", CREATED, f"{path} (from {EXAMPLE_CONFIG})")
    if ctx.record.get("sidecar"):
        ctx.record["sidecar"]["config"] = str(path)
    ctx.save()


def step_token(ctx: Context) -> None:
    path = Path(ctx.layout.token_file)
    try:
        present = path.exists() and path.read_text(encoding="ascii").strip() != ""
    except (OSError, UnicodeDecodeError):
        present = False
    if present:
        ctx.report.step("token", UNCHANGED, f"{path}")
        return
    if not ctx.dry_run:
        ctx.remember_dirs(missing_dirs(path.parent))
        write_token(path)
        ctx.record["user_data"] = sorted(set(ctx.record["user_data"]) | {str(path)})
        ctx.save()
    ctx.report.step("token", CREATED, f"{path} (readable by you only)")


def write_token(path: Path) -> None:
    """The same format the sidecar writes (sidecar/security.py): url-safe text, user-only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    if temporary.exists():      # left by an interrupted run with the same process id
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, token.encode("ascii"))
    finally:
        os.close(fd)
    os.replace(temporary, path)
    if os.name != "nt":
        os.chmod(path, 0o600)


def step_autostart(ctx: Context) -> None:
    path = Path(ctx.layout.autostart_file)
    previous = ctx.record.get("autostart")
    wanted = ctx.options.autostart
    if wanted is None:
        wanted = previous is not None
    if not wanted:
        if previous is not None:
            remove_autostart(ctx)
        else:
            ctx.report.step("autostart", SKIPPED, "not requested (--autostart starts the tray at login)")
        return
    with_config = Path(ctx.layout.config_file).exists()
    content = autostart_content(ctx.layout, with_config)
    new_dirs = missing_dirs(path.parent)
    outcome = write_if_changed(path, content, ctx.dry_run)
    if previous is None:
        ctx.remember_dirs(new_dirs)
    ctx.record["autostart"] = {"file": str(path), "sha256": sha256_bytes(content)}
    ctx.save()
    ctx.report.step("autostart", outcome, f"{path} starts the tray at login")


def remove_autostart(ctx: Context) -> None:
    previous = ctx.record.get("autostart") or {}
    path = Path(previous.get("file", ctx.layout.autostart_file))
    if path.exists():
        if not ctx.dry_run:
            path.unlink()
        ctx.report.step("autostart", REMOVED, str(path))
    else:
        ctx.report.step("autostart", UNCHANGED, f"{path} was already gone")
    if not ctx.dry_run:
        ctx.record["autostart"] = None
        ctx.save()


def install(layout: Layout, source: Source, options: Options, report: Reporter,
            environ: Mapping[str, str], host_is_windows: bool) -> int:
    record_path = Path(layout.install_record)
    record = load_record(record_path) or empty_record()
    before = record_path.read_bytes() if record_path.exists() else None
    ctx = Context(layout, options, report, environ, host_is_windows, record)
    if before is None and not Path(layout.data_dir).exists():
        ctx.remember_dirs(missing_dirs(Path(layout.data_dir)))
    record.update({"version": source.version, "platform": layout.platform,
                   "paths": {"data_dir": str(layout.data_dir), "app_dir": str(layout.app_dir),
                             "extension_dir": str(layout.extension_dir), "venv_dir": str(layout.venv_dir)}})
    report.line(f"RevitPyIoT {source.version} installer: {layout.platform} profile {layout.home}, from "
                f"{source.describe()}")
    try:
        step_python(ctx)
        step_app_files(ctx, source)
        step_pyrevit(ctx)
        step_venv(ctx, source)
        step_config(ctx, source)
        step_token(ctx)
        step_autostart(ctx)
    except (InstallError, VenvError, OSError) as error:
        report.step("install", FAILED, str(error))
        ctx.save()
        report.line("Install stopped. What it made so far is recorded in " + str(record_path)
                    + "; run again after fixing the cause, or --uninstall.")
        return 1
    after = None if options.dry_run else record_path.read_bytes() if record_path.exists() else None
    if options.dry_run:
        report.step("record", CREATED if before is None else UNCHANGED, str(record_path))
    elif before is None:
        report.step("record", CREATED, f"{record_path} (what uninstall removes; the launcher reads it)")
    elif after != before:
        report.step("record", UPDATED, str(record_path))
    else:
        report.step("record", UNCHANGED, str(record_path))
    report.line(report.summary())
    if not report.failed() and not options.dry_run:
        report.line(f"Next: start Revit (or pyRevit > Reload); the RevitPyIoT tab's Connect button starts "
                    f"the sidecar. Uninstall: python \"{Path(layout.app_dir) / 'installer' / 'install.py'}\" "
                    "--uninstall")
    return 1 if report.failed() else 0
