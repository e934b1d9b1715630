"""PostgreSQL historian backend (``[historian] backend = "postgresql"``), psycopg 3.

Same tables and behaviour as the SQLite backend (``chunked.py``), in the schema
``historian.schema`` (default ``revitpyiot``); the DSN comes from the environment variable
named by ``historian.dsn_env`` (default ``REVITPYIOT_PG_DSN``), never from the config file, so
no password is ever written there or logged. Each commit is durable by PostgreSQL's own WAL.
"""
from __future__ import annotations

from typing import Any

import psycopg

from sidecar.store.chunked import ChunkedBackend


class PostgresBackend(ChunkedBackend):
    name = "postgresql"
    PLACEHOLDER = "%s"
    LEAST = "LEAST"
    GREATEST = "GREATEST"

    def __init__(self, dsn: str, schema: str = "revitpyiot"):
        super().__init__()
        self.dsn = dsn
        self.schema = schema

    def _connect(self) -> Any:
        conn = psycopg.connect(self.dsn, autocommit=True, connect_timeout=10,
                               application_name="revitpyiot-historian")
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{self.schema}"')
        conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    def _ddl(self) -> list[str]:
        return [
            "CREATE TABLE IF NOT EXISTS sensors (sid SERIAL PRIMARY KEY, sensor_id TEXT NOT NULL UNIQUE)",
            ("CREATE TABLE IF NOT EXISTS chunks (sid INTEGER NOT NULL, t0 DOUBLE PRECISION NOT NULL, "
             "t1 DOUBLE PRECISION NOT NULL, n INTEGER NOT NULL, ts BYTEA NOT NULL, value BYTEA NOT NULL, "
             "PRIMARY KEY (sid, t0))"),
            "CREATE INDEX IF NOT EXISTS chunks_t1 ON chunks (t1)",
            *(f"CREATE TABLE IF NOT EXISTS {table} (sid INTEGER NOT NULL, bucket DOUBLE PRECISION NOT NULL, "
              "vmin DOUBLE PRECISION NOT NULL, vmax DOUBLE PRECISION NOT NULL, vsum DOUBLE PRECISION NOT NULL, "
              "n BIGINT NOT NULL, PRIMARY KEY (sid, bucket))" for table in ("rollup_1m", "rollup_1h")),
        ]

    def _all(self, conn: Any, sql: str, params: Any = ()) -> list[Any]:
        with conn.cursor() as cursor:
            cursor.execute(self._sql(sql), params)
            return list(cursor.fetchall()) if cursor.description else []
