"""Storage: per-sensor ring buffers (``ring``) and the historian (``historian``, backends
``sqlite`` and ``postgres``, write-ahead ``journal``), and the ``history`` request (``history``).
"""
from __future__ import annotations

from pathlib import Path

from sidecar.store.historian import Historian, HistorianBackend
from sidecar.store.journal import Journal
from sidecar.store.settings import HistorianSettings


def historian_from_settings(settings: HistorianSettings, data_dir: Path) -> Historian | None:
    """The configured historian, not yet opened (None with ``backend = "none"``)."""
    backend: HistorianBackend
    if settings.backend == "none":
        return None
    if settings.backend == "postgresql":
        from sidecar.store.postgres import PostgresBackend
        backend = PostgresBackend(settings.dsn(), settings.schema)
    else:
        from sidecar.store.sqlite import SQLiteBackend
        backend = SQLiteBackend(settings.sqlite_path(data_dir))
    journal = Journal(data_dir / "historian" / "journal", settings.journal_segment_bytes)
    return Historian(backend, journal, settings)
