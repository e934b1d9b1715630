"""SQLite historian backend (the default): one file, WAL mode, ``synchronous=FULL``.

WAL lets the reader connection query while the writer commits. ``synchronous=FULL`` makes each
commit durable on power loss; it costs one fsync per flush (one flush per ``flush_interval``,
not per reading), and the journal segments are deleted only after that commit, so the chain
journal -> database never has a gap. ``NORMAL`` would survive a process kill but could lose the
last commits on power loss after their journal was already deleted.
"""
from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sidecar.store.chunked import ChunkedBackend

DDL = [
    "CREATE TABLE IF NOT EXISTS sensors (sid INTEGER PRIMARY KEY, sensor_id TEXT NOT NULL UNIQUE)",
    ("CREATE TABLE IF NOT EXISTS chunks (sid INTEGER NOT NULL, t0 REAL NOT NULL, t1 REAL NOT NULL, "
     "n INTEGER NOT NULL, ts BLOB NOT NULL, value BLOB NOT NULL, PRIMARY KEY (sid, t0)) WITHOUT ROWID"),
    "CREATE INDEX IF NOT EXISTS chunks_t1 ON chunks (t1)",
    ("CREATE TABLE IF NOT EXISTS rollup_1m (sid INTEGER NOT NULL, bucket REAL NOT NULL, vmin REAL NOT NULL, "
     "vmax REAL NOT NULL, vsum REAL NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (sid, bucket)) WITHOUT ROWID"),
    ("CREATE TABLE IF NOT EXISTS rollup_1h (sid INTEGER NOT NULL, bucket REAL NOT NULL, vmin REAL NOT NULL, "
     "vmax REAL NOT NULL, vsum REAL NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (sid, bucket)) WITHOUT ROWID"),
]


class SQLiteBackend(ChunkedBackend):
    name = "sqlite"

    def __init__(self, path: Path):
        super().__init__()
        self.path = Path(path)

    def _connect(self) -> Any:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    def _ddl(self) -> list[str]:
        return DDL
