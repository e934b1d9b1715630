"""The historian against real databases: SQLite and a real PostgreSQL server (same tests).

Batching, 1-minute and 1-hour roll-ups, retention, out-of-order and duplicate readings (key
(sensor, ts), last write wins), and journal replay after an unclean stop.
"""
from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)

from support.buildings import small_building
from support.postgres import PostgresServer

from sidecar.model import build_model
from sidecar.readings import ReadingBatch
from sidecar.store import historian as historian_module
from sidecar.store import historian_from_settings
from sidecar.store.historian import Historian
from sidecar.store.settings import HistorianSettings

NOW = 1_800_000_000.0  # a fixed "now" (2027-01-15), hour-aligned
MODEL = build_model(small_building())
IDS = [s.sensor_id for s in MODEL.sensors]


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer()
    yield server
    server.stop()


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "postgresql"])
def make_historian(request: pytest.FixtureRequest, tmp_path: Path,
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Historian]]:
    """``make_historian(**settings)`` -> an opened Historian; same data dir and database each call."""
    schema = None
    extra: dict[str, Any] = {}
    if request.param == "postgresql":
        server: PostgresServer = request.getfixturevalue("postgres")
        schema = server.new_schema()
        monkeypatch.setenv("REVITPYIOT_TEST_HISTORIAN_DSN", server.dsn)
        extra = {"dsn_env": "REVITPYIOT_TEST_HISTORIAN_DSN", "schema": schema}
    opened: list[Historian] = []

    def make(clock: Callable[[], float] | None = None, **overrides: Any) -> Historian:
        settings = HistorianSettings(backend=request.param, path=tmp_path / "h.sqlite3", flush_interval_s=3600.0,
                                     **extra, **overrides)
        historian = historian_from_settings(settings, tmp_path)
        assert historian is not None
        if clock is not None:
            historian.clock = clock
        historian.open()
        opened.append(historian)
        return historian

    yield make
    for historian in opened:
        if historian._thread is not None and historian._thread.is_alive():
            historian.close()
    if schema is not None:
        request.getfixturevalue("postgres").drop_schema(schema)


def batch(sensor: list[int], ts: list[float], value: list[float]) -> ReadingBatch:
    return ReadingBatch(MODEL, np.array(sensor, dtype=np.int32), np.array(ts, dtype=np.float64),
                        np.array(value, dtype=np.float64))


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def query(h: Historian, sensor_id: str, resolution: str, start: float = NOW - 86400 * 3,
                end: float = NOW) -> tuple[list[float], ...]:
    series = await h.query(sensor_id, start, end, resolution)
    assert series is not None
    if resolution == "raw":
        return series.ts.tolist(), series.value.tolist()
    assert series.vmin is not None and series.vmax is not None and series.count is not None
    return (series.ts.tolist(), series.value.tolist(), series.vmin.tolist(), series.vmax.tolist(),
            series.count.tolist())


def expected_rollup(ts: np.ndarray, value: np.ndarray, width: float) -> tuple[list[float], ...]:
    buckets = np.floor(ts / width) * width
    keys = np.unique(buckets)
    rows = [(k, value[buckets == k]) for k in keys]
    return ([float(k) for k, _ in rows], [float(v.mean()) for _, v in rows], [float(v.min()) for _, v in rows],
            [float(v.max()) for _, v in rows], [int(v.size) for _, v in rows])


def readings(seed: int, n: int = 600) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sensor = rng.integers(0, len(IDS), n).astype(np.int32)
    ts = NOW - 7200 + np.round(rng.random(n) * 7000, 3)   # about two hours, across hour buckets
    value = np.round(rng.normal(20, 5, n), 3)
    return sensor, ts, value


def test_a_flush_stores_every_queued_batch_in_few_chunk_rows(make_historian: Callable[..., Historian]) -> None:
    h = make_historian(clock=Clock())
    for k in range(20):
        h.on_readings(batch([0, 1, 2, 3] * 25, [NOW - 1000 + k * 25 + i // 4 for i in range(100)],
                            [float(i) for i in range(100)]))
    assert h.status()["backlog"] == 2000
    run(h.flush())
    status = h.status()
    assert status["backlog"] == 0 and status["rows"] == 2000 and status["rows_written"] == 2000
    assert status["last_flush_ts"] == NOW and status["errors"] == 0
    ts, _ = run(query(h, IDS[0], "raw"))
    assert len(ts) == 500 and ts == sorted(ts)


def test_rollups_match_the_raw_readings(make_historian: Callable[..., Historian]) -> None:
    h = make_historian(clock=Clock())
    sensor, ts, value = readings(1)
    for lo in range(0, len(ts), 100):  # several flushes: roll-ups are merged incrementally
        h.on_readings(batch(sensor[lo:lo + 100].tolist(), ts[lo:lo + 100].tolist(), value[lo:lo + 100].tolist()))
        run(h.flush())
    for index, sensor_id in enumerate(IDS):
        mine = sensor == index
        order = np.argsort(ts[mine])
        t, v = ts[mine][order], value[mine][order]
        assert run(query(h, sensor_id, "raw")) == (t.tolist(), v.tolist())
        for resolution, width in (("1m", 60.0), ("1h", 3600.0)):
            got = run(query(h, sensor_id, resolution))
            want = expected_rollup(t, v, width)
            assert got[0] == want[0] and got[2:] == want[2:]
            assert np.allclose(got[1], want[1])


@pytest.mark.parametrize("seed", [2, 3])
def test_arrival_order_does_not_change_what_is_stored(make_historian: Callable[..., Historian], seed: int) -> None:
    sensor, ts, value = readings(seed, 400)
    in_order = np.lexsort((ts, sensor))
    shuffled = np.random.default_rng(seed).permutation(len(ts))
    results = []
    for order in (in_order, shuffled):
        h = make_historian(clock=Clock())
        for lo in range(0, len(order), 37):
            part = order[lo:lo + 37]
            h.on_readings(batch(sensor[part].tolist(), ts[part].tolist(), value[part].tolist()))
            if lo % 3 == 0:
                run(h.flush())
        run(h.flush())
        results.append([run(query(h, sid, res)) for sid in IDS for res in ("raw", "1m", "1h")])
        h.close()
        _wipe(h)
    first, second = results
    for a, b in zip(first, second):
        assert a[0] == b[0] and a[2:] == b[2:] and np.allclose(a[1], b[1])


def _wipe(h: Historian) -> None:
    """Empty the database between two runs in one test."""
    backend: Any = h.backend
    conn = backend._connect()
    for table in ("chunks", "rollup_1m", "rollup_1h", "sensors"):
        conn.execute(f"DELETE FROM {table}")
    conn.close()


def test_duplicates_last_write_wins_and_count_once(make_historian: Callable[..., Historian]) -> None:
    h = make_historian(clock=Clock())
    t0 = NOW - 600.0
    h.on_readings(batch([0, 0, 0], [t0, t0 + 1, t0], [1.0, 2.0, 3.0]))      # duplicate inside one batch
    run(h.flush())
    assert run(query(h, IDS[0], "raw")) == ([t0, t0 + 1], [3.0, 2.0])
    h.on_readings(batch([0], [t0 + 1], [7.0]))                              # duplicate of a stored one
    run(h.flush())
    assert run(query(h, IDS[0], "raw")) == ([t0, t0 + 1], [3.0, 7.0])
    minute = run(query(h, IDS[0], "1m"))
    assert minute[0] == [t0] and minute[1] == [5.0] and minute[2:] == ([3.0], [7.0], [2])
    hour = run(query(h, IDS[0], "1h"))
    assert hour[2:] == ([3.0], [7.0], [2])
    assert h.status()["rows"] == 2


def test_late_reading_recomputes_its_buckets(make_historian: Callable[..., Historian]) -> None:
    h = make_historian(clock=Clock())
    base = NOW - 3600.0
    h.on_readings(batch([1] * 3, [base + 10, base + 70, base + 130], [1.0, 2.0, 3.0]))
    run(h.flush())
    h.on_readings(batch([1], [base + 20], [9.0]))                           # late, into the first minute
    run(h.flush())
    assert run(query(h, IDS[1], "raw"))[1] == [1.0, 9.0, 2.0, 3.0]
    minute = run(query(h, IDS[1], "1m"))
    assert minute[0] == [base, base + 60, base + 120] and minute[1] == [5.0, 2.0, 3.0] and minute[4] == [2, 1, 1]
    assert run(query(h, IDS[1], "1h"))[2:] == ([1.0], [9.0], [4])


def test_retention_drops_old_readings_and_purges(make_historian: Callable[..., Historian]) -> None:
    clock = Clock()
    h = make_historian(clock=clock, raw_retention_days=1.0, rollup_1m_retention_days=2.0,
                       rollup_1h_retention_days=3.0)
    h.on_readings(batch([0, 0], [NOW - 2 * 86400, NOW - 100], [1.0, 2.0]))  # the first is beyond raw retention
    run(h.flush())
    assert h.status()["too_old"] == 1 and h.status()["rows"] == 1
    clock.now = NOW + 1.5 * 86400                                           # a day and a half later
    run(h.flush(purge=True))
    assert run(query(h, IDS[0], "raw", NOW - 3 * 86400, clock.now)) == ([], [])
    assert run(query(h, IDS[0], "1m", NOW - 3 * 86400, clock.now))[4] == [1]   # roll-ups outlive raw data
    clock.now = NOW + 2.5 * 86400
    run(h.flush(purge=True))
    assert run(query(h, IDS[0], "1m", NOW - 3 * 86400, clock.now))[4] == []
    assert run(query(h, IDS[0], "1h", NOW - 3 * 86400, clock.now))[4] == [1]


def test_unstored_batches_are_replayed_from_the_journal(make_historian: Callable[..., Historian]) -> None:
    h = make_historian(clock=Clock())
    h.on_readings(batch([0, 1], [NOW - 50, NOW - 40], [1.0, 2.0]))
    run(h.flush())
    h.on_readings(batch([0, 2], [NOW - 30, NOW - 20], [3.0, 4.0]))          # queued, never flushed
    run(h.durable())
    # Simulate a kill: the writer thread dies with the process; nothing is closed.
    with h._cond:
        h._closing = True
        h._queue = []
        h._backlog = 0
        h._cond.notify_all()
    assert h._thread is not None
    h._thread.join()
    again = make_historian(clock=Clock())
    assert again.replayed >= 2
    assert run(query(again, IDS[0], "raw")) == ([NOW - 50, NOW - 30], [1.0, 3.0])
    assert run(query(again, IDS[2], "raw")) == ([NOW - 20], [4.0])
    assert run(query(again, IDS[0], "1m"))[4] == [2]                       # replayed duplicates count once
    assert again.journal.segments() == [] or all(p.stat().st_size == 0 for p in again.journal.segments())


def test_a_clean_close_empties_the_journal_and_data_persists(make_historian: Callable[..., Historian]) -> None:
    h = make_historian(clock=Clock())
    h.on_readings(batch([3], [NOW - 5], [42.0]))
    h.close()
    assert h.journal.segments() == []
    again = make_historian(clock=Clock())
    assert again.replayed == 0
    assert run(query(again, IDS[3], "raw")) == ([NOW - 5], [42.0])
    assert again.status()["rows"] == 1


def _until(condition: Callable[[], bool], timeout_s: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_a_backlog_worth_a_commit_is_committed_once_the_input_goes_quiet(
        make_historian: Callable[..., Historian], monkeypatch: pytest.MonkeyPatch) -> None:
    """The flush interval (an hour here) gathers readings into few commits; once the input has
    gone quiet a backlog worth a commit does not wait for it, a trickle does."""
    monkeypatch.setattr(historian_module, "QUIET_MIN_S", 1.0)   # quiet: no batch for 1 s
    h = make_historian(clock=Clock())
    h.on_readings(batch([0, 1] * 50, [NOW - 900 + i for i in range(100)], [1.0] * 100))   # a trickle
    n = historian_module.COMMIT_MIN_ROWS
    sensor, ts, value = [i % 4 for i in range(n)], [NOW - 800 + i * 0.01 for i in range(n)], [2.0] * n
    h.on_readings(batch(sensor, ts, value))                  # now worth a commit, with the trickle
    time.sleep(0.2)
    assert h.status()["backlog"] == 100 + n                  # more may still come: keep gathering
    assert _until(lambda: h.status()["backlog"] == 0)        # quiet: committed without a flush request
    assert h.status()["rows"] == 100 + n and h.status()["errors"] == 0
    h.on_readings(batch([2], [NOW - 10], [3.0]))             # a trickle again: waits for the interval
    time.sleep(1.5)
    assert h.status()["backlog"] == 1 and h.status()["rows"] == 100 + n
