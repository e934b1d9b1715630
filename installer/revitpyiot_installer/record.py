"""``install.json``: what the installer created (so uninstall removes exactly that) and what the
extension's launcher needs (the venv's interpreters, the data folder, the config file).

Written deterministically (sorted keys, no clock) and only when its content changes, so a
repeated install leaves it untouched.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .files import write_if_changed

FORMAT = 1


class RecordError(RuntimeError):
    pass


def empty_record() -> dict[str, Any]:
    return {"format": FORMAT, "product": "RevitPyIoT", "app_files": {}, "created_dirs": [],
            "user_data": [], "pyrevit": None, "venv": None, "autostart": None, "sidecar": None}


def load_record(path: Path) -> dict[str, Any] | None:
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise RecordError(f"{path} is unreadable ({error}); move it away and install again") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise RecordError(f"{path} is not a RevitPyIoT install record of format {FORMAT}")
    record = empty_record()
    record.update(data)
    return record


def dump_record(record: dict[str, Any]) -> bytes:
    normalised = dict(record)
    normalised["created_dirs"] = sorted(set(record.get("created_dirs", [])))
    normalised["user_data"] = sorted(set(record.get("user_data", [])))
    return (json.dumps(normalised, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")


def save_record(path: Path, record: dict[str, Any], dry_run: bool) -> str:
    return write_if_changed(path, dump_record(record), dry_run)
