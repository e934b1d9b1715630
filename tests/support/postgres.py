"""A real PostgreSQL server for tests.

``postgres_dsn()`` returns, in order of preference: ``REVITPYIOT_TEST_PG_DSN``; the development
machines' server at ``postgresql://postgres@127.0.0.1:5432/test`` when it answers; else a
throw-away cluster made with ``initdb``/``pg_ctl`` on a free port in a temporary directory (as
the ``postgres`` user when running as root, since PostgreSQL refuses to run as root), stopped
and removed by ``stop()``. Missing binaries fail the test with a message naming the Debian
package ``postgresql``. Tests isolate themselves with a schema of their own.
"""
from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
ENV_DSN = "REVITPYIOT_TEST_PG_DSN"


def _answers(dsn: str) -> bool:
    try:
        with psycopg.connect(dsn, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


def _binary(name: str) -> str:
    found = shutil.which(name) or next(iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)), None)
    if not found:
        raise RuntimeError(f"PostgreSQL's {name} is not installed: install the Debian package `postgresql` "
                           "(apt-get install postgresql) or set REVITPYIOT_TEST_PG_DSN to a server")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ThrowAwayCluster:
    def __init__(self) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="revitpyiot-pg-"))
        self.data = self.directory / "data"
        self.port = _free_port()
        self.as_user = "postgres" if hasattr(os, "geteuid") and os.geteuid() == 0 else None
        if self.as_user:
            shutil.chown(self.directory, self.as_user)
            self.directory.chmod(0o700)

    def _run(self, *command: str) -> None:
        full = list(command)
        if self.as_user:
            full = ["runuser", "-u", self.as_user, "--", *full]
        result = subprocess.run(full, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{result.stdout}\n{result.stderr}")

    def start(self) -> str:
        self._run(_binary("initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--no-sync")
        self._run(_binary("pg_ctl"), "-D", str(self.data), "-l", str(self.directory / "server.log"), "-w", "-o",
                  f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off", "start")
        dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        deadline = time.monotonic() + 30
        while not _answers(dsn):
            if time.monotonic() > deadline:
                raise RuntimeError(f"throw-away PostgreSQL on port {self.port} did not answer")
            time.sleep(0.2)
        return dsn

    def stop(self) -> None:
        try:
            self._run(_binary("pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
        except RuntimeError:  # already stopped
            pass
        shutil.rmtree(self.directory, ignore_errors=True)


class PostgresServer:
    def __init__(self) -> None:
        self.cluster: ThrowAwayCluster | None = None
        explicit = os.environ.get(ENV_DSN)
        if explicit:
            self.dsn = explicit
        elif _answers(DEFAULT_DSN):
            self.dsn = DEFAULT_DSN
        else:
            self.cluster = ThrowAwayCluster()
            self.dsn = self.cluster.start()

    def new_schema(self) -> str:
        return f"t_{uuid.uuid4().hex[:12]}"

    def drop_schema(self, schema: str) -> None:
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')

    def stop(self) -> None:
        if self.cluster is not None:
            self.cluster.stop()
