"""``[historian]`` settings (kept by ``sidecar.config`` in ``SidecarConfig.extra``)."""
from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidecar.config import ConfigError
from sidecar.store.ring import DEFAULT_CAPACITY

BACKENDS = ("sqlite", "postgresql", "none")
DEFAULT_DSN_ENV = "REVITPYIOT_PG_DSN"
DAY_S = 86400.0


@dataclass(slots=True)
class HistorianSettings:
    backend: str = "sqlite"
    path: Path | None = None            # SQLite file; default <data dir>/historian/history.sqlite3
    dsn_env: str = DEFAULT_DSN_ENV       # PostgreSQL: the environment variable holding the DSN
    schema: str = "revitpyiot"           # PostgreSQL schema holding the tables
    raw_retention_days: float = 30.0
    rollup_1m_retention_days: float = 400.0
    rollup_1h_retention_days: float = 3650.0
    flush_interval_s: float = 1.0        # the writer commits at least this often
    flush_rows: int = 200_000            # ... and as soon as this many readings wait
    fsync_ingest: bool = True            # ingest replies wait until their readings are on disk
    ring_points: int = DEFAULT_CAPACITY  # per-sensor in-memory ring buffer
    journal_segment_bytes: int = 16 << 20

    def dsn(self) -> str:
        value = os.environ.get(self.dsn_env, "")
        if not value:
            raise ConfigError(f"historian.backend is postgresql but the environment variable {self.dsn_env} "
                              "(historian.dsn_env) holding its DSN is not set")
        return value


def _number(section: Mapping[str, Any], key: str, default: float, minimum: float = 0.0) -> float:
    value = section.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value <= minimum:
        raise ConfigError(f"historian.{key}: must be a number above {minimum:g}, got {value!r}")
    return float(value)


def historian_settings(extra: Mapping[str, Any], data_dir: Path) -> HistorianSettings:
    section = extra.get("historian", {})
    if not isinstance(section, dict):
        raise ConfigError("[historian] must be a table")
    known = {"backend", "path", "dsn_env", "schema", "raw_retention_days", "rollup_1m_retention_days",
             "rollup_1h_retention_days", "flush_interval_ms", "flush_rows", "fsync_ingest", "ring_points",
             "journal_segment_bytes"}
    unknown = sorted(set(section) - known)
    if unknown:
        raise ConfigError(f"[historian]: unknown key(s) {', '.join(unknown)}")
    settings = HistorianSettings()
    backend = section.get("backend", settings.backend)
    if backend not in BACKENDS:
        raise ConfigError(f"historian.backend: must be one of {', '.join(BACKENDS)}, got {backend!r}")
    settings.backend = backend
    path = section.get("path")
    if path is not None and not isinstance(path, str):
        raise ConfigError("historian.path: must be a string")
    settings.path = Path(path).expanduser() if path else data_dir / "historian" / "history.sqlite3"
    for key in ("dsn_env", "schema"):
        value = section.get(key, getattr(settings, key))
        if not isinstance(value, str) or not value:
            raise ConfigError(f"historian.{key}: must be a non-empty string")
        setattr(settings, key, value)
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", settings.schema):
        raise ConfigError("historian.schema: lower-case letters, digits and _ only")
    settings.raw_retention_days = _number(section, "raw_retention_days", settings.raw_retention_days)
    settings.rollup_1m_retention_days = _number(section, "rollup_1m_retention_days",
                                                settings.rollup_1m_retention_days)
    settings.rollup_1h_retention_days = _number(section, "rollup_1h_retention_days",
                                                settings.rollup_1h_retention_days)
    if "flush_interval_ms" in section:
        settings.flush_interval_s = _number(section, "flush_interval_ms", 1000.0) / 1000.0
    settings.flush_rows = int(_number(section, "flush_rows", settings.flush_rows))
    settings.ring_points = int(_number(section, "ring_points", settings.ring_points))
    settings.journal_segment_bytes = int(_number(section, "journal_segment_bytes",
                                                 settings.journal_segment_bytes, 4095))
    fsync = section.get("fsync_ingest", settings.fsync_ingest)
    if not isinstance(fsync, bool):
        raise ConfigError("historian.fsync_ingest: must be true or false")
    settings.fsync_ingest = fsync
    return settings
