"""Storage: per-sensor ring buffers (``ring``) and the historian (``historian``, backends
``sqlite`` and ``postgres``, write-ahead ``journal``), and the ``history`` request (``history``).
"""
from __future__ import annotations

from sidecar.config import SidecarConfig
from sidecar.store.historian import Historian, HistorianBackend
from sidecar.store.journal import Journal
from sidecar.store.settings import HistorianSettings, historian_settings


def create_historian(config: SidecarConfig) -> Historian | None:
    """The configured historian, not yet opened (None with ``backend = "none"``)."""
    settings = historian_settings(config.extra, config.data_dir)
    return historian_from_settings(settings, config.data_dir)


def historian_from_settings(settings: HistorianSettings, data_dir) -> Historian | None:  # type: ignore[no-untyped-def]
    backend: HistorianBackend
    if settings.backend == "none":
        return None
    if settings.backend == "postgresql":
        from sidecar.store.postgres import PostgresBackend
        backend = PostgresBackend(settings.dsn(), settings.schema)
    else:
        from sidecar.store.sqlite import SQLiteBackend
        assert settings.path is not None
        backend = SQLiteBackend(settings.path)
    journal = Journal(data_dir / "historian" / "journal", settings.journal_segment_bytes)
    return Historian(backend, journal, settings)
