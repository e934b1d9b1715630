"""Store-and-forward: the on-disk outbox a cloud connector sends from.

Everything a connector must deliver (telemetry batches, alerts, command results, loss notices)
is first committed to an SQLite file (WAL; ``synchronous=NORMAL`` survives a killed process),
then published oldest-first and deleted only after the broker acknowledged it. Delivery is
therefore at-least-once: a message whose acknowledgement was lost is sent again, with the same
``message_id`` (``<outbox uuid>-<row id>``), so the cloud side can drop the duplicate. Row ids
only grow, so ``seq`` (= row id) orders messages and shows gaps.

Bound (``max_rows`` / ``max_bytes``), reached during a long outage:
1. **Roll-up first.** The oldest raw telemetry rows are merged, per (building, quantity), into
   ``telemetry_rollup`` messages holding one entry per sensor and ``rollup_bucket_s`` bucket
   (default one minute): ``{sensor_id, t0, n, mean, min, max, first_ts, last_ts}``. The merged
   statistics are exact for their readings; consecutive roll-ups may hold partial stats for the
   same bucket, which the receiver combines (n-weighted mean, min of mins, max of maxes). A
   roll-up row takes the place (row id) of the oldest row it replaces, so order is kept.
2. **Then drop, counted and announced.** When nothing raw is left to roll up, the oldest
   telemetry (then any other kind) is deleted; the loss is counted (``dropped_messages``,
   ``dropped_readings``, persisted), returned to the caller (who logs and alerts), and a
   ``data_loss`` message carrying the counts and the time range lost is queued, so the cloud
   learns about the gap too. Nothing is ever dropped silently.

Rows handed to the sender (``peek``) are never rolled up or dropped while in flight.
All methods are synchronous and must be called from one thread (the connector's DB thread).
"""
from __future__ import annotations

import json
import math
import sqlite3
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KIND_TELEMETRY = "telemetry"
KIND_ROLLUP = "telemetry_rollup"
KIND_ALERT = "alert"
KIND_HEALTH = "health"
KIND_COMMAND_RESULT = "command_result"
KIND_LOSS = "data_loss"
#  drop order once roll-up has nothing left: cheapest information first
_DROP_ORDER = ((KIND_TELEMETRY, KIND_ROLLUP, KIND_HEALTH), (KIND_ALERT, KIND_COMMAND_RESULT))

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    created REAL NOT NULL,
    props TEXT NOT NULL,
    body BLOB NOT NULL,
    readings INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class OutboxLimits:
    max_rows: int = 100_000
    max_bytes: int = 256 * 1024 * 1024
    rollup_chunk_rows: int = 500
    rollup_bucket_s: float = 60.0

    def __post_init__(self) -> None:
        if self.max_rows < 10 or self.max_bytes < 4096:
            raise ValueError("outbox bound too small: max_rows >= 10 and max_bytes >= 4096")
        if self.rollup_chunk_rows < 2 or not self.rollup_bucket_s > 0:
            raise ValueError("rollup_chunk_rows >= 2 and rollup_bucket_s > 0 required")


@dataclass
class OutboxMessage:
    row_id: int
    kind: str
    created: float
    props: dict[str, Any]
    body: bytes
    readings: int
    outbox_id: str

    @property
    def message_id(self) -> str:
        return f"{self.outbox_id}-{self.row_id}"

    def payload(self) -> bytes:
        """The JSON sent on the wire: the stored object with ``message_id`` and ``seq`` first."""
        head = json.dumps({"message_id": self.message_id, "seq": self.row_id})[:-1].encode()
        rest = self.body[1:]
        return head + (b"," + rest if rest != b"}" else rest)


@dataclass
class Loss:
    """What one enforcement pass had to drop (returned so the connector can alert)."""
    messages: int = 0
    readings: int = 0
    first_ts: float | None = None
    last_ts: float | None = None
    kinds: dict[str, int] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return self.messages > 0


def encode_body(obj: dict[str, Any]) -> bytes:
    body = json.dumps(obj, separators=(",", ":"), allow_nan=False).encode()
    if not body.startswith(b"{"):
        raise ValueError("outbox bodies are JSON objects")
    return body


class Outbox:
    def __init__(self, path: Path, limits: OutboxLimits | None = None) -> None:
        self.path = Path(path)
        self.limits = limits or OutboxLimits()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self.outbox_id = self._meta("outbox_id") or self._set_meta("outbox_id", uuid.uuid4().hex[:12])
        self.dropped_messages = int(self._meta("dropped_messages") or 0)
        self.dropped_readings = int(self._meta("dropped_readings") or 0)
        self.rolled_up_readings = int(self._meta("rolled_up_readings") or 0)
        rows, size = self._db.execute("SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM outbox").fetchone()
        self.rows, self.bytes = int(rows), int(size)
        self._inflight_max = 0
        self._loss_row: int | None = None  # a queued data_loss row not yet in flight: grows in place

    # -- meta ---------------------------------------------------------------------------------
    def _meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> str:
        self._db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))
        return value

    # -- producer side ------------------------------------------------------------------------
    def append(self, items: Iterable[tuple[str, dict[str, Any], bytes, int]]) -> Loss:
        """Commit messages ``(kind, props, body, readings)``; then enforce the bound."""
        now = time.time()
        rows = [(kind, now, json.dumps(props), body, readings) for kind, props, body, readings in items]
        if not rows:
            return Loss()
        with self._tx():
            self._db.executemany(
                "INSERT INTO outbox(kind, created, props, body, readings) VALUES (?, ?, ?, ?, ?)", rows)
        self.rows += len(rows)
        self.bytes += sum(len(r[3]) for r in rows)
        return self.enforce_bound()

    def _tx(self) -> _Transaction:
        return _Transaction(self._db)

    # -- consumer side ------------------------------------------------------------------------
    def peek(self, limit: int) -> list[OutboxMessage]:
        """The next ``limit`` messages after those already in flight, oldest first."""
        cur = self._db.execute(
            "SELECT id, kind, created, props, body, readings FROM outbox WHERE id > ? ORDER BY id LIMIT ?",
            (self._inflight_max, limit))
        out = [OutboxMessage(int(r[0]), str(r[1]), float(r[2]), json.loads(r[3]), bytes(r[4]), int(r[5]),
                             self.outbox_id) for r in cur]
        if out:
            self._inflight_max = out[-1].row_id
            if self._loss_row is not None and self._loss_row <= self._inflight_max:
                self._loss_row = None
        return out

    def ack(self, row_ids: list[int]) -> None:
        """Delivered: forget them."""
        if not row_ids:
            return
        marks = ",".join("?" * len(row_ids))
        with self._tx():
            size = self._db.execute(
                f"SELECT COUNT(*), COALESCE(SUM(LENGTH(body)), 0) FROM outbox WHERE id IN ({marks})",
                row_ids).fetchone()
            self._db.execute(f"DELETE FROM outbox WHERE id IN ({marks})", row_ids)
        self.rows -= int(size[0])
        self.bytes -= int(size[1])

    def release(self) -> None:
        """Publishing failed: everything not acked is sent again, from the oldest."""
        self._inflight_max = 0

    def idle(self) -> bool:
        return self.rows == 0

    def oldest_created(self) -> float | None:
        row = self._db.execute("SELECT MIN(created) FROM outbox").fetchone()
        return None if row[0] is None else float(row[0])

    def close(self) -> None:
        self._db.close()

    # -- bound --------------------------------------------------------------------------------
    def over_bound(self) -> bool:
        return self.rows > self.limits.max_rows or self.bytes > self.limits.max_bytes

    def enforce_bound(self) -> Loss:
        loss = Loss()
        while self.over_bound():
            if self._rollup_oldest():
                continue
            if not self._drop_oldest(loss):
                break  # only in-flight rows or loss notices left: the sender is about to free room
        if loss:
            self._record_loss(loss)
        return loss

    def _rollup_oldest(self) -> bool:
        """Merge the oldest chunk of raw telemetry into roll-ups; False when that frees nothing."""
        rows = self._db.execute(
            "SELECT id, props, body, readings FROM outbox WHERE kind=? AND id > ? ORDER BY id LIMIT ?",
            (KIND_TELEMETRY, self._inflight_max, self.limits.rollup_chunk_rows)).fetchall()
        if len(rows) < 2:
            return False
        groups: dict[tuple[str, str], dict[tuple[str, float], list[float]]] = {}
        covers: dict[tuple[str, str], list[int]] = {}
        for row_id, props_text, body, _ in rows:
            props = json.loads(props_text)
            obj = json.loads(body)
            key = (str(obj.get("building_id") or props.get("building") or ""), str(obj.get("quantity") or ""))
            stats = groups.setdefault(key, {})
            covers.setdefault(key, [row_id, row_id])[1] = row_id
            for sensor_id, ts, value in obj.get("readings", []):
                t0 = math.floor(ts / self.limits.rollup_bucket_s) * self.limits.rollup_bucket_s
                acc = stats.get((sensor_id, t0))
                if acc is None:
                    stats[(sensor_id, t0)] = [1, value, value, value, ts, ts]
                else:
                    acc[0] += 1
                    acc[1] += value
                    acc[2] = min(acc[2], value)
                    acc[3] = max(acc[3], value)
                    acc[4] = min(acc[4], ts)
                    acc[5] = max(acc[5], ts)
        new_rows: list[tuple[str, bytes, int]] = []
        for (building, quantity), stats in groups.items():
            entries = [{"sensor_id": s, "t0": t0, "n": a[0], "mean": a[1] / a[0], "min": a[2], "max": a[3],
                        "first_ts": a[4], "last_ts": a[5]} for (s, t0), a in sorted(stats.items())]
            n = sum(int(a[0]) for a in stats.values())
            body = encode_body({"v": 1, "type": KIND_ROLLUP, "building_id": building, "quantity": quantity,
                                "bucket_s": self.limits.rollup_bucket_s, "covers": covers[(building, quantity)],
                                "readings_merged": n, "stats": entries})
            props = {"building": building, "type": KIND_ROLLUP}
            if quantity:
                props["quantity"] = quantity
            new_rows.append((json.dumps(props), body, n))
        old_ids = [int(r[0]) for r in rows]
        old_bytes = sum(len(r[2]) for r in rows)
        new_bytes = sum(len(r[1]) for r in new_rows)
        fewer_rows = len(new_rows) < len(rows)
        fits_bytes = self.bytes + new_bytes - old_bytes <= self.limits.max_bytes
        if not (new_bytes < old_bytes or (fewer_rows and fits_bytes)):
            return False  # nothing to gain (every reading alone in its bucket): drop instead
        merged = sum(int(r[3]) for r in rows)
        with self._tx():
            # roll-ups reuse the oldest ids in the chunk, so they keep the chunk's place in line
            for slot, (props_text, body, n) in zip(old_ids, new_rows):
                self._db.execute("UPDATE outbox SET kind=?, props=?, body=?, readings=? WHERE id=?",
                                 (KIND_ROLLUP, props_text, body, n, slot))
            gone = old_ids[len(new_rows):]
            if gone:
                self._db.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(gone))})", gone)
            self.rolled_up_readings += merged
            self._set_meta("rolled_up_readings", str(self.rolled_up_readings))
        self.rows -= len(old_ids) - len(new_rows)
        self.bytes += new_bytes - old_bytes
        return True

    def _drop_oldest(self, loss: Loss) -> bool:
        excess_rows = max(1, self.rows - self.limits.max_rows)
        for kinds in _DROP_ORDER:
            marks = ",".join("?" * len(kinds))
            victims = self._db.execute(
                f"SELECT id, kind, created, LENGTH(body), readings, body FROM outbox "
                f"WHERE kind IN ({marks}) AND id > ? ORDER BY id LIMIT ?",
                (*kinds, self._inflight_max, min(excess_rows + 64, 10_000))).fetchall()
            if not victims:
                continue
            # drop just enough, oldest first
            chosen = []
            rows_left, bytes_left = self.rows, self.bytes
            for v in victims:
                if rows_left <= self.limits.max_rows and bytes_left <= self.limits.max_bytes:
                    break
                chosen.append(v)
                rows_left -= 1
                bytes_left -= int(v[3])
            ids = [int(v[0]) for v in chosen]
            with self._tx():
                self._db.execute(f"DELETE FROM outbox WHERE id IN ({','.join('?' * len(ids))})", ids)
            self.rows, self.bytes = rows_left, bytes_left
            for v in chosen:
                loss.messages += 1
                loss.readings += int(v[4])
                loss.kinds[str(v[1])] = loss.kinds.get(str(v[1]), 0) + 1
                first, last = _time_range(bytes(v[5]), float(v[2]))
                loss.first_ts = first if loss.first_ts is None else min(loss.first_ts, first)
                loss.last_ts = last if loss.last_ts is None else max(loss.last_ts, last)
            return True
        return False

    def _record_loss(self, loss: Loss) -> None:
        self.dropped_messages += loss.messages
        self.dropped_readings += loss.readings
        with self._tx():
            self._set_meta("dropped_messages", str(self.dropped_messages))
            self._set_meta("dropped_readings", str(self.dropped_readings))
            notice: dict[str, Any] = {"v": 1, "type": KIND_LOSS, "dropped_messages": loss.messages,
                      "dropped_readings": loss.readings, "first_ts": loss.first_ts, "last_ts": loss.last_ts,
                      "kinds": loss.kinds, "total_dropped_messages": self.dropped_messages,
                      "total_dropped_readings": self.dropped_readings}
            if self._loss_row is not None:
                # fold into the notice still waiting, so an outage yields one notice, not thousands
                row = self._db.execute("SELECT body FROM outbox WHERE id=?", (self._loss_row,)).fetchone()
                if row is not None:
                    prev = json.loads(row[0])
                    notice["dropped_messages"] += prev["dropped_messages"]
                    notice["dropped_readings"] += prev["dropped_readings"]
                    notice["first_ts"] = _min(prev.get("first_ts"), notice["first_ts"])
                    notice["last_ts"] = _max(prev.get("last_ts"), notice["last_ts"])
                    for k, n in prev.get("kinds", {}).items():
                        notice["kinds"][k] = notice["kinds"].get(k, 0) + n
                    body = encode_body(notice)
                    self._db.execute("UPDATE outbox SET body=? WHERE id=?", (body, self._loss_row))
                    self.bytes += len(body) - len(row[0])
                    return
            body = encode_body(notice)
            cur = self._db.execute(
                "INSERT INTO outbox(kind, created, props, body, readings) VALUES (?, ?, ?, ?, 0)",
                (KIND_LOSS, time.time(), json.dumps({"type": KIND_LOSS}), body))
            self._loss_row = int(cur.lastrowid or 0)
        self.rows += 1
        self.bytes += len(body)


def _time_range(body: bytes, created: float) -> tuple[float, float]:
    try:
        obj = json.loads(body)
        stamps = [float(r[1]) for r in obj.get("readings", [])]
        stamps += [float(s["first_ts"]) for s in obj.get("stats", [])]
        stamps += [float(s["last_ts"]) for s in obj.get("stats", [])]
        if stamps:
            return min(stamps), max(stamps)
    except (ValueError, TypeError, KeyError, IndexError):
        pass
    return created, created


def _min(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else min(a, b)


def _max(a: Any, b: Any) -> Any:
    return b if a is None else a if b is None else max(a, b)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")
