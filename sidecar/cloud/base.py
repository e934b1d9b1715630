"""The one interface every cloud connector implements, and the machinery they share.

The sidecar calls the event methods (``on_readings``, ``on_alert``, ``on_health``,
``on_status``, ``on_config``) on its event-loop thread; they only append to an in-memory queue
and return. A pump task turns the queue into outbox rows (JSON messages, committed to SQLite
on the connector's own DB thread), and a sender task publishes the outbox oldest-first through
the platform module (``azure_iot``, ``aws_iot``), deleting rows only once the broker
acknowledged them. Commands arriving from the cloud go to the sidecar's command handler
(``CommandHandler``, the same one the ZeroMQ endpoint uses) and their results go back.
"""
from __future__ import annotations

import abc
import asyncio
import collections
import importlib
import json
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, ClassVar, Generic, TypeVar

from sidecar.backoff import Backoff
from sidecar.rates import RateMeter
from sidecar.settings import SettingsError

from .outbox import (
    KIND_ALERT,
    KIND_COMMAND_RESULT,
    KIND_HEALTH,
    KIND_TELEMETRY,
    Loss,
    Outbox,
    OutboxMessage,
    encode_body,
)
from .secrets import install_log_redaction, redact, redact_error
from .settings import DEFAULT_ALLOWED_COMMANDS, ConnectorSettings, parse_connector

CommandHandler = Callable[[str, dict], Awaitable[dict]]
LossListener = Callable[[dict], None]
T = TypeVar("T")

STATE_CONNECTED = "connected"
STATE_CONNECTING = "connecting"
STATE_DISCONNECTED = "disconnected"
STATE_DISABLED = "disabled"

log = logging.getLogger("sidecar.cloud")


# A ``[cloud.*]`` section is wrong; the message names the key.
ConnectorConfigError = SettingsError


class CommandError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def parse_command(payload: bytes) -> tuple[str, dict, str | None]:
    """A cloud command message ``{"type": str, "body": {...}?, "id": str?}`` -> (type, body, id)."""
    try:
        obj = json.loads(payload.decode("utf-8")) if payload else None
    except (UnicodeDecodeError, ValueError):
        raise CommandError("bad_request", "command payload is not UTF-8 JSON") from None
    if not isinstance(obj, dict):
        raise CommandError("bad_request", "command payload must be a JSON object")
    kind, body, cid = obj.get("type"), obj.get("body", {}), obj.get("id")
    if not isinstance(kind, str) or not kind:
        raise CommandError("bad_request", "command field 'type' must be a non-empty string")
    if body is None:
        body = {}
    if not isinstance(body, dict):
        raise CommandError("bad_request", "command field 'body' must be an object")
    return kind, body, (str(cid) if cid is not None else None)


S = TypeVar("S", bound=ConnectorSettings)


class CloudConnector(abc.ABC, Generic[S]):
    """Base of the platform connectors, over their typed settings ``S`` (``AzureSettings``...).
    Subclasses implement the transport hooks at the bottom."""

    kind: ClassVar[str] = ""
    settings_type: ClassVar[type[ConnectorSettings]] = ConnectorSettings

    def __init__(self, name: str, settings: S, data_dir: Path, commands: CommandHandler) -> None:
        assert isinstance(settings, self.settings_type), f"{self.kind} needs {self.settings_type.__name__}"
        self.name = name
        self.settings: S = settings
        self.common = settings.common
        self.data_dir = Path(data_dir)
        self.commands = commands
        self.outbox_path = self.data_dir / "cloud" / f"{name}-outbox.sqlite3"
        self.outbox: Outbox | None = None
        self._db = ThreadPoolExecutor(1, thread_name_prefix=f"cloud-{name}-db")
        self._pending: collections.deque[tuple[str, Any]] = collections.deque()
        self._pending_wake = asyncio.Event()
        self._outbox_wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._running = False
        self._state = STATE_DISABLED if not self.common.enabled else STATE_DISCONNECTED
        self._last_error: str | None = None
        self._last_error_ts: float | None = None
        self._delivered = 0
        self._overflow_dropped = 0
        self._meter = RateMeter(window_s=10.0)
        self._backoff = Backoff(self.common.backoff_initial_s, self.common.backoff_max_s)
        self._building_id: str | None = self.common.building_id
        self._quantity_of: dict[str, str] = {}
        self._loss_listeners: list[LossListener] = []
        self._commands_handled = 0
        self._last_status: dict | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._oldest_created: float | None = None

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.common.enabled or self._running:
            return
        install_log_redaction()
        self._loop = asyncio.get_running_loop()
        self.outbox = await self._in_db(Outbox, self.outbox_path, self.common.limits)
        self._running = True
        self._tasks = [asyncio.create_task(self._pump(), name=f"cloud-{self.name}-pump"),
                       asyncio.create_task(self._sender(), name=f"cloud-{self.name}-sender"),
                       asyncio.create_task(self._status_loop(), name=f"cloud-{self.name}-status")]
        if self.outbox.rows:
            log.info("%s: %d messages waiting in the outbox from before", self.name, self.outbox.rows)
            self._outbox_wake.set()

    async def stop(self, drain_s: float = 2.0) -> None:
        """Commit what is queued, give the sender ``drain_s`` to deliver, then close. What is not
        delivered stays in the outbox for the next start."""
        if not self._running:
            return
        self._running = False
        await self._flush_pending()
        deadline = time.monotonic() + drain_s
        while self.outbox is not None and not self.outbox.idle() and time.monotonic() < deadline \
                and self._state == STATE_CONNECTED:
            await asyncio.sleep(0.02)
        await _cancel(self._tasks)
        self._tasks = []
        try:
            await self._close_transport()
        except Exception as exc:  # noqa: BLE001 - closing a dead link must not stop the sidecar
            log.debug("%s: close: %s", self.name, redact_error(exc))
        if self.outbox is not None:
            await self._in_db(self.outbox.close)
        self._db.shutdown(wait=True)
        self._db = ThreadPoolExecutor(1, thread_name_prefix=f"cloud-{self.name}-db")
        if self._state != STATE_DISABLED:
            self._state = STATE_DISCONNECTED

    async def flush(self) -> None:
        """Commit everything queued so far to the outbox (it survives a crash from then on)."""
        await self._flush_pending()

    def add_loss_listener(self, listener: LossListener) -> None:
        """``listener(info)`` is called (on the loop thread) whenever data had to be dropped."""
        self._loss_listeners.append(listener)

    # -- events from the sidecar (never block) --------------------------------------------------
    def on_readings(self, batch: list[tuple[str, float, float]]) -> None:
        self._enqueue("readings", batch)

    def on_alert(self, alert: dict) -> None:
        self._enqueue("alert", alert)

    def on_health(self, items: list[dict]) -> None:
        if self.common.send_health:
            self._enqueue("health", items)

    def on_status(self, status: dict) -> None:
        self._last_status = dict(status)
        if isinstance(status.get("building_id"), str) and not self.common.building_id:
            self._set_building(status["building_id"])

    def on_config(self, config: dict) -> None:
        """The BuildingConfig the sidecar accepted: gives sensors their quantity (a message
        property) and the building id (the AWS topics)."""
        quantities = {}
        for element in config.get("elements", []) or []:
            sensor = element.get("sensor") if isinstance(element, dict) else None
            if isinstance(sensor, dict) and isinstance(sensor.get("sensor_id"), str):
                quantities[sensor["sensor_id"]] = str(sensor.get("quantity") or "")
        self._quantity_of = quantities
        if isinstance(config.get("building_id"), str) and not self.common.building_id:
            self._set_building(config["building_id"])

    def _set_building(self, building_id: str) -> None:
        if building_id != self._building_id:
            self._building_id = building_id
            self._building_changed()

    def _enqueue(self, kind: str, item: Any) -> None:
        if not self._running:
            return
        if len(self._pending) >= self.common.max_pending_items:
            # the DB thread cannot keep up: count and announce, never silently
            readings = len(item) if kind == "readings" else 0
            self._overflow_dropped += readings or 1
            self._announce_loss({"reason": "pending queue full", "messages": 1, "readings": readings})
            return
        self._pending.append((kind, item))
        self._pending_wake.set()

    # -- status ---------------------------------------------------------------------------------
    def status(self) -> dict:
        ob = self.outbox
        oldest = None
        if ob is not None and ob.rows and self._oldest_created is not None:
            oldest = round(max(0.0, time.time() - self._oldest_created), 3)
        return {
            "name": self.name,
            "kind": self.kind,
            "state": self._state,
            "backlog": (ob.rows if ob else 0) + len(self._pending),
            "backlog_bytes": ob.bytes if ob else 0,
            "oldest_backlog_s": oldest,
            "last_error": self._last_error,
            "last_error_ts": self._last_error_ts,
            "messages_per_s": self._meter.rate(),
            "delivered": self._delivered,
            "dropped": (ob.dropped_readings if ob else 0) + self._overflow_dropped,
            "dropped_messages": ob.dropped_messages if ob else 0,
            "rolled_up_readings": ob.rolled_up_readings if ob else 0,
            "commands_handled": self._commands_handled,
            "building_id": self._building_id,
        }

    def _note_error(self, where: str, exc: BaseException | str) -> None:
        text = redact(exc) if isinstance(exc, str) else redact_error(exc)
        self._last_error = f"{where}: {text}"
        self._last_error_ts = time.time()
        log.warning("%s: %s", self.name, self._last_error)

    # -- pump: pending items -> outbox rows -----------------------------------------------------
    async def _in_db(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._db, fn, *args)

    async def _pump(self) -> None:
        while True:
            await self._pending_wake.wait()
            self._pending_wake.clear()
            try:
                await self._flush_pending()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - a bad item must not stop the pipeline
                self._note_error("outbox", exc)
            if self.common.min_message_interval_s:
                # readings arriving meanwhile share the next message: caps messages/s (IoT Core
                # allows 100 publishes/s per connection) without capping readings/s
                await asyncio.sleep(self.common.min_message_interval_s)

    async def _flush_pending(self) -> None:
        if not self._pending or self.outbox is None:
            return
        items = list(self._pending)
        self._pending.clear()
        rows = self._rows_for(items)
        loss: Loss = await self._in_db(self.outbox.append, rows)
        if loss:
            self._announce_loss({"reason": "outbox bound reached", "messages": loss.messages,
                                 "readings": loss.readings, "first_ts": loss.first_ts,
                                 "last_ts": loss.last_ts, "kinds": loss.kinds})
        self._outbox_wake.set()

    def _rows_for(self, items: list[tuple[str, Any]]) -> list[tuple[str, dict, bytes, int]]:
        rows: list[tuple[str, dict, bytes, int]] = []
        building = self._building_id or ""
        readings: list[tuple[str, float, float]] = []
        for kind, item in items + [("end", None)]:
            if kind == "readings":
                readings.extend(item)
                continue
            if readings:  # keep the relative order of telemetry and alerts
                rows.extend(self._telemetry_rows(building, readings))
                readings = []
            if kind == "alert":
                props = {"building": str(item.get("building_id") or building), "type": KIND_ALERT,
                         "severity": str(item.get("severity", "")), "state": str(item.get("state", ""))}
                if item.get("sensor_id"):
                    props["sensor"] = str(item["sensor_id"])
                    q = self._quantity_of.get(str(item["sensor_id"]))
                    if q:
                        props["quantity"] = q
                rows.append((KIND_ALERT, props, encode_body(
                    {"v": 1, "type": KIND_ALERT, "building_id": props["building"], "alert": _jsonable(item)}), 0))
            elif kind == "health":
                rows.append((KIND_HEALTH, {"building": building, "type": KIND_HEALTH}, encode_body(
                    {"v": 1, "type": KIND_HEALTH, "building_id": building, "items": _jsonable(item)}), 0))
            elif kind == "command_result":
                props, body = item
                rows.append((KIND_COMMAND_RESULT, props, encode_body(body), 0))
        return rows

    def _telemetry_rows(self, building: str, readings: list[tuple[str, float, float]]) -> list[tuple[str, dict, bytes, int]]:
        by_quantity: dict[str, list[list[Any]]] = {}
        for reading in readings:
            try:
                sensor_id, ts, value = str(reading[0]), float(reading[1]), float(reading[2])
            except (TypeError, ValueError, IndexError):
                continue  # the sidecar only forwards accepted readings; this is belt and braces
            if not (math.isfinite(ts) and math.isfinite(value)):
                continue
            by_quantity.setdefault(self._quantity_of.get(sensor_id, ""), []).append([sensor_id, ts, value])
        rows = []
        step = self.common.max_readings_per_message
        for quantity, group in by_quantity.items():
            for i in range(0, len(group), step):
                chunk = group[i:i + step]
                props = {"building": building, "type": KIND_TELEMETRY}
                if quantity:
                    props["quantity"] = quantity
                sensors = {r[0] for r in chunk}
                if len(sensors) == 1:
                    props["sensor"] = chunk[0][0]
                body = encode_body({"v": 1, "type": KIND_TELEMETRY, "building_id": building,
                                    "quantity": quantity or None, "readings": chunk})
                rows.append((KIND_TELEMETRY, props, body, len(chunk)))
        return rows

    def _announce_loss(self, info: dict) -> None:
        info = {"connector": self.name, **info}
        log.warning("%s: cloud backlog over its bound, data dropped: %s", self.name, info)
        for listener in self._loss_listeners:
            try:
                listener(info)
            except Exception as exc:  # noqa: BLE001 - one listener's failure must not silence the others
                log.error("%s: loss listener failed: %s", self.name, redact_error(exc))

    # -- sender: outbox -> cloud -----------------------------------------------------------------
    async def _sender(self) -> None:
        assert self.outbox is not None
        while True:
            try:
                if not self._transport_connected():
                    await self._ensure_connected()
                    continue
                self._outbox_wake.clear()  # before peeking: a row committed after this wakes us
                messages = await self._in_db(self.outbox.peek, self.common.inflight_window)
                if not messages:
                    self._oldest_created = None
                    try:
                        await asyncio.wait_for(self._outbox_wake.wait(), 1.0)
                    except TimeoutError:
                        pass
                    continue
                self._oldest_created = messages[0].created
                await self._deliver(messages)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - an SDK may raise anything; recorded redacted, never fatal
                self._note_error("sender", exc)
                await self._backoff.sleep()

    async def _deliver(self, messages: list[OutboxMessage]) -> None:
        assert self.outbox is not None
        timeout = self.common.publish_timeout_s
        results = await asyncio.gather(*(asyncio.wait_for(self._publish(m), timeout) for m in messages),
                                       return_exceptions=True)
        delivered: list[int] = []
        failure: BaseException | None = None
        for message, result in zip(messages, results):
            if isinstance(result, BaseException):
                failure = result
                break
            delivered.append(message.row_id)
        if delivered:
            await self._in_db(self.outbox.ack, delivered)
            self._delivered += len(delivered)
            self._meter.add(len(delivered))
        if failure is not None:
            # resend everything after the first failure, in order: at-least-once, never out of order
            await self._in_db(self.outbox.release)
            if isinstance(failure, asyncio.CancelledError):
                raise failure
            self._note_error("publish", failure if str(failure) else type(failure).__name__)
            await self._publish_failed()
            await self._backoff.sleep()
        else:
            self._backoff.reset()

    async def _status_loop(self) -> None:
        """Report the sidecar's and this connector's status to the platform's status channel."""
        last_state = None
        last_sent = 0.0
        while self._running:
            await asyncio.sleep(min(1.0, self.common.status_interval_s))
            if not self._transport_connected() or self._last_status is None:
                continue
            state = self._last_status.get("state")
            if state == last_state and time.monotonic() - last_sent < self.common.status_interval_s:
                continue
            try:
                await asyncio.wait_for(self._report_status(self._status_document()), self.common.publish_timeout_s)
                last_state, last_sent = state, time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - an SDK may raise anything; recorded redacted, never fatal
                self._note_error("status report", exc)

    def _status_document(self) -> dict:
        side = self._last_status or {}
        keep = ("state", "building_id", "sensors", "readings_per_s", "active_alerts", "uptime_s", "sources")
        connector = {k: v for k, v in self.status().items() if k != "last_error_ts"}
        return {"sidecar": {k: side[k] for k in keep if k in side}, "connector": connector, "ts": time.time()}

    # -- commands from the cloud ----------------------------------------------------------------
    async def run_command(self, kind: str, body: dict) -> dict:
        """Run a cloud command through the sidecar's handler. Returns the reply envelope
        ``{"ok": True, "body": ...}`` or ``{"ok": False, "error": {"code", "message"}}``; never raises."""
        self._commands_handled += 1
        if kind not in self.common.allowed_commands:
            return {"ok": False, "error": {"code": "unknown_type" if kind not in DEFAULT_ALLOWED_COMMANDS
                                           and kind not in ("configure", "ingest", "hello") else "unauthorized",
                                           "message": f"command {kind!r} is not allowed from the cloud"}}
        try:
            result = await self.commands(kind, body)
            return {"ok": True, "body": _jsonable(result)}
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure is the command's reply, never a crash
            code = getattr(exc, "code", None) or "internal"
            message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
            log.info("%s: cloud command %s failed: %s", self.name, kind, redact(message))
            return {"ok": False, "error": {"code": str(code), "message": redact(message)}}

    def queue_command_result(self, props: dict, body: dict) -> None:
        """Send a command result through the outbox (delivered at-least-once, in order)."""
        self._enqueue("command_result", (props, body))

    # -- transport hooks ------------------------------------------------------------------------
    @abc.abstractmethod
    def _transport_connected(self) -> bool: ...

    @abc.abstractmethod
    async def _ensure_connected(self) -> None:
        """Return once connected, or after one failed attempt (having waited its back-off)."""

    @abc.abstractmethod
    async def _publish(self, message: OutboxMessage) -> None:
        """Publish one message; return once the broker acknowledged it, raise otherwise."""

    async def _publish_failed(self) -> None:
        """A publish failed: drop a link that may be dead (the platform decides)."""

    @abc.abstractmethod
    async def _report_status(self, document: dict) -> None: ...

    @abc.abstractmethod
    async def _close_transport(self) -> None: ...

    def _building_changed(self) -> None:
        """The building id changed (AWS resubscribes its command topic)."""


def _jsonable(value: Any) -> Any:
    """``value`` reduced to what JSON carries (bytes as hex, non-finite floats as null)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).hex()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return str(value)


_REGISTRY = {"azure": "sidecar.cloud.azure_iot:AzureIoTConnector",
             "aws": "sidecar.cloud.aws_iot:AwsIoTConnector"}


def connector_kinds() -> tuple[str, ...]:
    return tuple(_REGISTRY)


def create_connector(kind: str, settings: ConnectorSettings | Mapping[str, Any], data_dir: Path,
                     commands: CommandHandler, name: str | None = None) -> CloudConnector[Any]:
    """The connector for ``[cloud.<kind>]`` (its parsed settings, or the raw table, parsed here);
    the SDK is imported only here (it is slow to import)."""
    target = _REGISTRY.get(kind)
    if target is None:
        raise ConnectorConfigError(f"unknown cloud connector {kind!r}: expected one of {sorted(_REGISTRY)}")
    if not isinstance(settings, ConnectorSettings):
        settings = parse_connector(kind, settings)
    module_name, _, cls_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), cls_name)
    connector: CloudConnector[Any] = cls(name or kind, settings, data_dir, commands)
    return connector


async def _cancel(tasks: list[asyncio.Task[Any]], attempts: int = 20) -> None:
    """Cancel ``tasks`` and wait for them, cancelling again while any is still running.

    On Python 3.11 ``asyncio.wait_for`` can swallow a cancellation that arrives just as its inner
    awaitable finishes; a loop task then carries on and a plain ``gather`` would wait forever.
    """
    for _ in range(attempts):
        pending = [task for task in tasks if not task.done()]
        if not pending:
            break
        for task in pending:
            task.cancel()
        await asyncio.wait(pending, timeout=0.5)
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            log.debug("cloud task %s ended with %r", task.get_name(), task.exception())
