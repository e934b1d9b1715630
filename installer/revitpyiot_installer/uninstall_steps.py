"""Uninstall: remove exactly what ``install.json`` says the installer created, nothing else.

User data (the access token, ``config.toml``, pyRevit config backups, and whatever the sidecar
keeps in its data folder: historian, logs) stays unless ``--purge``. The record is rewritten after
each step with what is still left, so an uninstall that could not finish (a file in use on
Windows) can simply be run again.
"""
from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from . import pyrevit_config as ini
from .files import remove_empty_dirs, remove_tree, sha256_bytes, write_if_changed
from .install_steps import Context, Options, backup_file, remove_autostart
from .layout import APP_DIR_NAME, WINDOWS, Layout
from .record import RecordError, load_record
from .report import FAILED, KEPT, REMOVED, SKIPPED, UNCHANGED, UPDATED, Reporter

# Files and folders the sidecar itself creates in the data folder; --purge removes them even when
# the data folder is not a dedicated RevitPyIoT folder (REVITPYIOT_DATA_DIR pointing elsewhere).
SIDECAR_DATA_NAMES = ("token", "config.toml", "backups", "logs", "historian.sqlite",
                      "historian.sqlite-wal", "historian.sqlite-shm", "models")


def uninstall(layout: Layout, options: Options, report: Reporter, environ: Mapping[str, str]) -> int:
    record_path = Path(layout.install_record)
    try:
        record = load_record(record_path)
    except RecordError as error:
        report.step("record", FAILED, str(error))
        return 1
    report.line(f"RevitPyIoT uninstaller: {layout.platform} profile {layout.home}")
    if record is None:
        report.step("record", SKIPPED, f"no {record_path}: nothing was installed for this profile")
        if options.purge:
            purge_data(layout, report, options.dry_run, {})
        report.line(report.summary())
        return 0
    ctx = Context(layout, options, report, environ, False, record)
    steps = [("autostart", lambda: remove_autostart(ctx) if record.get("autostart") else None),
             ("pyrevit", lambda: unregister_pyrevit(ctx)),
             ("venv", lambda: remove_venv(ctx)),
             ("files", lambda: remove_app_files(ctx))]
    for name, action in steps:
        try:
            action()
        except OSError as error:
            report.step(name, FAILED, f"{error} (on Windows: quit the RevitPyIoT tray and Revit, "
                        "then run --uninstall again)")
    if options.purge:
        purge_pyrevit_settings(ctx)
    data_dir = Path(layout.data_dir)
    # Folders that hold (or lead to) user data go last, silently, and only when empty; a folder
    # of the app or the venv that is not empty holds something the user put there: say so.
    outer = {data_dir, *data_dir.parents} | {Path(p) for p in record["user_data"]}
    created = [Path(d) for d in record["created_dirs"]]
    inner = [d for d in created if d not in outer]
    left = [] if options.dry_run else remove_empty_dirs(inner)
    record["created_dirs"] = [str(d) for d in left] + [str(d) for d in created if d in outer]
    for path in left:
        report.step("folders", KEPT, f"{path} (holds files the installer did not put there)")
    if report.failed():
        ctx.save()
        report.line(f"Not everything could be removed; what is left is listed in {record_path}.")
        report.line(report.summary())
        return 1
    if not options.dry_run:
        record_path.unlink()
    report.step("record", REMOVED, str(record_path))
    if options.purge:
        purge_data(layout, report, options.dry_run, record)
    else:
        kept = [p for p in record["user_data"] if Path(p).exists()]
        for path in kept:
            report.step("user data", KEPT, f"{path} (--purge removes it)")
    if not options.dry_run:
        gone = [d for d in created if d in outer and d.is_dir()]
        remove_empty_dirs(gone)
        if data_dir in gone and not data_dir.exists():
            report.step("folders", REMOVED, str(data_dir))
    report.line(report.summary())
    return 0


def unregister_pyrevit(ctx: Context) -> None:
    entry: dict[str, Any] = ctx.record.get("pyrevit") or {}
    if not entry:
        return
    config = Path(entry["config"])
    if entry.get("preexisting"):
        ctx.report.step("pyrevit", KEPT, f"{config}: {entry['entry']} was registered before RevitPyIoT's "
                        "installer ran; left as it was")
        ctx.record["pyrevit"] = None
        return
    if not config.exists():
        ctx.report.step("pyrevit", UNCHANGED, f"{config} no longer exists")
        ctx.record["pyrevit"] = None
        ctx.save()
        return
    data = config.read_bytes()
    backup = entry.get("backup")
    if entry.get("written_sha256") == sha256_bytes(data):
        # Nobody touched the file since the install: put the original bytes back exactly.
        if entry.get("created_file"):
            if not ctx.dry_run:
                config.unlink()
            ctx.report.step("pyrevit", REMOVED, f"{config} (the installer had created it)")
        elif backup and Path(backup).exists():
            if not ctx.dry_run:
                write_if_changed(config, Path(backup).read_bytes(), False)
            ctx.report.step("pyrevit", UPDATED, f"{config}: restored as it was before the install "
                            f"(from {backup})")
        else:
            _remove_entry(ctx, config, data, entry)
    else:
        _remove_entry(ctx, config, data, entry)
    if not ctx.dry_run:
        ctx.record["pyrevit"] = None
        ctx.save()


def _remove_entry(ctx: Context, config: Path, data: bytes, entry: dict[str, Any]) -> None:
    text, encoding = ini.decode_config(data)
    windows = ctx.layout.platform == WINDOWS
    try:
        result = ini.remove_extension_dir(text, entry["entry"], windows, ctx.environ,
                                          drop_empty_key=bool(entry.get("added_key")),
                                          drop_empty_section=bool(entry.get("added_section")))
    except ini.ConfigFormatError as error:
        ctx.report.step("pyrevit", FAILED, f"{config} left untouched: {error}. Remove {entry['entry']} in "
                        "pyRevit > Settings > Custom Extension Directories")
        return
    if not result.changed:
        ctx.report.step("pyrevit", UNCHANGED, f"{config} no longer lists {entry['entry']}")
        return
    backup = backup_file(ctx, config, data)
    if not ctx.dry_run:
        write_if_changed(config, ini.encode_config(result.text, encoding), False)
    ctx.report.step("pyrevit", UPDATED, f"{config}: removed {entry['entry']} from [core] userextensions, "
                    f"everything else kept (backup: {backup})")


def remove_venv(ctx: Context) -> None:
    entry = ctx.record.get("venv") or {}
    if not entry:
        return
    venv_dir = Path(entry["dir"])
    if not entry.get("created"):
        ctx.report.step("venv", KEPT, f"{venv_dir} existed before the install")
    elif venv_dir.exists():
        if not ctx.dry_run:
            remove_tree(venv_dir)
        ctx.report.step("venv", REMOVED, str(venv_dir))
    else:
        ctx.report.step("venv", UNCHANGED, f"{venv_dir} was already gone")
    if not ctx.dry_run:
        ctx.record["venv"] = None
        ctx.record["sidecar"] = None
        ctx.save()


def remove_app_files(ctx: Context) -> None:
    files: dict[str, str] = ctx.record.get("app_files") or {}
    removed = 0
    for path_text in sorted(files):
        path = Path(path_text)
        if path.exists():
            if not ctx.dry_run:
                path.unlink()
            removed += 1
    if not ctx.dry_run:
        ctx.record["app_files"] = {}
        ctx.save()
    ctx.report.step("files", REMOVED, f"{removed} files under {ctx.layout.app_dir}")


def purge_pyrevit_settings(ctx: Context) -> None:
    """The extension's own settings live in pyRevit's config, section [RevitPyIoT]."""
    config_dir = ctx.layout.pyrevit_config_dir
    if config_dir is None:
        return
    from .install_steps import find_pyrevit_config
    config = find_pyrevit_config(ctx.layout)
    if config is None:
        return
    data = config.read_bytes()
    text, encoding = ini.decode_config(data)
    result = ini.remove_section(text, ini.EXTENSION_SETTINGS_SECTION)
    if not result.changed:
        return
    # No backup: it would go into the data folder that --purge is about to delete, and only
    # the extension's own section goes.
    if not ctx.dry_run:
        write_if_changed(config, ini.encode_config(result.text, encoding), False)
    ctx.report.step("pyrevit", UPDATED, f"{config}: removed the extension's settings "
                    f"[{ini.EXTENSION_SETTINGS_SECTION}]")


def purge_data(layout: Layout, report: Reporter, dry_run: bool, record: dict[str, Any]) -> None:
    data_dir = Path(layout.data_dir)
    if not data_dir.exists():
        report.step("purge", UNCHANGED, f"{data_dir} does not exist")
        return
    if data_dir.name == APP_DIR_NAME:
        # A folder named for the product holds only the product's data.
        if not dry_run:
            remove_tree(data_dir)
        report.step("purge", REMOVED, f"{data_dir} (token, config, backups, logs, historian)")
        return
    targets: list[Path] = [data_dir / name for name in SIDECAR_DATA_NAMES]
    targets += [Path(p) for p in record.get("user_data", [])]
    for target in sorted(set(targets)):
        if not target.exists():
            continue
        if not dry_run:
            remove_tree(target) if target.is_dir() else target.unlink()
        report.step("purge", REMOVED, str(target))
    report.step("purge", KEPT, f"{data_dir} itself (not a dedicated {APP_DIR_NAME} folder)")
