"""``[historian]`` settings, parsed with the rest of the file before anything starts."""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidecar.settings import SettingsError, Table
from sidecar.store.ring import DEFAULT_CAPACITY

BACKENDS = ("sqlite", "postgresql", "none")
DEFAULT_DSN_ENV = "REVITPYIOT_PG_DSN"
DAY_S = 86400.0
SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]*")


@dataclass(frozen=True, slots=True)
class HistorianSettings:
    backend: str = "sqlite"
    path: Path | None = None            # SQLite file; None: <data dir>/historian/history.sqlite3
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
            raise SettingsError(f"historian.backend is postgresql but the environment variable {self.dsn_env} "
                                "(historian.dsn_env) holding its DSN is not set")
        return value

    def sqlite_path(self, data_dir: Path) -> Path:
        return self.path or data_dir / "historian" / "history.sqlite3"


def parse_historian(section: Any) -> HistorianSettings:
    """The ``[historian]`` table (absent: the defaults); unknown keys are refused."""
    table = Table(section, "historian")
    d = HistorianSettings()
    path = table.text("path", "")
    schema = table.text("schema", d.schema, non_empty=True)
    if not SCHEMA_NAME.fullmatch(schema):
        raise table.fail("schema", "lower-case letters, digits and _ only")
    settings = HistorianSettings(
        backend=table.choice("backend", BACKENDS, d.backend),
        path=Path(path).expanduser() if path else None,
        dsn_env=table.text("dsn_env", d.dsn_env, non_empty=True),
        schema=schema,
        raw_retention_days=table.positive("raw_retention_days", d.raw_retention_days),
        rollup_1m_retention_days=table.positive("rollup_1m_retention_days", d.rollup_1m_retention_days),
        rollup_1h_retention_days=table.positive("rollup_1h_retention_days", d.rollup_1h_retention_days),
        flush_interval_s=table.positive("flush_interval_ms", d.flush_interval_s * 1000.0) / 1000.0,
        flush_rows=int(table.positive("flush_rows", d.flush_rows)),
        fsync_ingest=table.flag("fsync_ingest", d.fsync_ingest),
        ring_points=int(table.positive("ring_points", d.ring_points)),
        journal_segment_bytes=int(table.number("journal_segment_bytes", d.journal_segment_bytes, 4095, above=True)),
    )
    table.refuse_unknown()
    return settings
