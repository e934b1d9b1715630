"""AWS IoT Core connector (``awsiotsdk`` MQTT 5 client over mutual TLS).

- Telemetry (incl. roll-ups and data-loss notices) on ``topic_telemetry``
  (default ``building/{building_id}/sensors/data``), alerts on ``topic_alerts``
  (``building/{building_id}/alerts``), health on ``topic_health`` when ``send_health``.
  Every message: QoS 1, ``content_type=application/json``, UTF-8 payload format indicator,
  user properties ``message_id``, ``building``, ``type`` (+ ``quantity``, ``sensor``,
  ``severity``, ``state`` where they apply); ``message_id`` and ``seq`` are in the JSON too.
- Commands: subscribed on ``topic_commands`` (``building/{building_id}/controls/commands``),
  payload ``{"type", "body", "id"}``; the result goes to the request's MQTT 5 response topic
  (with its correlation data) or else to ``topic_results``
  (``building/{building_id}/controls/results``), through the outbox.
- Status: the sidecar's and the connector's status in the thing's device shadow
  (``$aws/things/{thing_name}/shadow/update``, or a named shadow with ``shadow_name``), as
  ``{"state": {"reported": {"revitpyiot": ...}}}``.

Reconnection is the MQTT 5 client's own (exponential back-off with jitter, configured from
``backoff_initial_s`` / ``backoff_max_s``); its offline queue is switched off
(``FAIL_ALL_ON_DISCONNECT``) so the outbox stays the only queue.
"""
from __future__ import annotations

import asyncio
import json
import logging
import threading
from pathlib import Path
from typing import Any

from awscrt import mqtt5
from awsiot import mqtt5_client_builder

from .base import (
    STATE_CONNECTED,
    STATE_CONNECTING,
    STATE_DISCONNECTED,
    CloudConnector,
    CommandError,
    CommandHandler,
    ConnectorConfigError,
    parse_command,
)
from .outbox import KIND_ALERT, KIND_COMMAND_RESULT, KIND_HEALTH, KIND_LOSS, OutboxMessage
from .secrets import redact, remember_secret, resolve_secret
from .settings import AwsSettings

log = logging.getLogger("sidecar.cloud.aws")



class AwsIoTConnector(CloudConnector[AwsSettings]):
    kind = "aws"
    settings_type = AwsSettings

    def __init__(self, name: str, settings: AwsSettings, data_dir: Path, commands: CommandHandler) -> None:
        super().__init__(name, settings, data_dir, commands)
        thing, shadow_name = settings.thing_name, settings.shadow_name
        self.shadow_topic = (f"$aws/things/{thing}/shadow/name/{shadow_name}/update" if shadow_name
                             else f"$aws/things/{thing}/shadow/update")
        self._client: mqtt5.Client | None = None
        self._connected = threading.Event()  # set/cleared on CRT threads, read anywhere
        self._connected_async = asyncio.Event()
        self._stopped = threading.Event()
        self._subscribed_topic: str | None = None

    def topic(self, key: str) -> str:
        return self.settings.topics[key].format(building_id=self._building_id or "unknown", thing_name=self.settings.thing_name)

    # -- connection -----------------------------------------------------------------------------
    def _build_client(self) -> mqtt5.Client:
        s = self.settings
        kwargs: dict[str, Any] = {
            "endpoint": self.settings.endpoint, "port": self.settings.port, "client_id": self.settings.client_id,
            "keep_alive_interval_sec": self.settings.keep_alive_s,
            "ack_timeout_sec": int(max(1, self.common.publish_timeout_s)),
            "connack_timeout_ms": int(self.settings.connect_timeout_s * 1000),
            "session_behavior": mqtt5.ClientSessionBehaviorType.CLEAN,
            "offline_queue_behavior": mqtt5.ClientOperationQueueBehaviorType.FAIL_ALL_ON_DISCONNECT,
            "retry_jitter_mode": mqtt5.ExponentialBackoffJitterMode.DECORRELATED,
            "min_reconnect_delay_ms": int(self.common.backoff_initial_s * 1000),
            "max_reconnect_delay_ms": int(self.common.backoff_max_s * 1000),
            "on_publish_received": self._on_publish_received,
            "on_lifecycle_connection_success": self._on_connection_success,
            "on_lifecycle_connection_failure": self._on_connection_failure,
            "on_lifecycle_disconnection": self._on_disconnection,
            "on_lifecycle_stopped": lambda data: self._stopped.set()}
        if s.ca_file:
            kwargs["ca_filepath"] = str(Path(s.ca_file).expanduser())
        cert = str(Path(s.certificate_file).expanduser())
        key_pem = resolve_secret(s.secret_refs, "private_key", "aws", self.data_dir, required=False)
        if key_pem:
            return mqtt5_client_builder.mtls_from_bytes(
                cert_bytes=Path(cert).read_bytes(), pri_key_bytes=key_pem.encode(), **kwargs)
        key_file = Path(s.private_key_file).expanduser()
        try:  # so that redaction masks the key should any text ever quote it
            remember_secret(key_file.read_text().strip())
        except OSError as exc:
            raise ConnectorConfigError(f"[cloud.aws] cannot read private_key_file {key_file}: "
                                       f"{type(exc).__name__}") from None
        return mqtt5_client_builder.mtls_from_path(cert_filepath=cert, pri_key_filepath=str(key_file), **kwargs)

    def _transport_connected(self) -> bool:
        return self._client is not None and self._connected.is_set()

    async def _ensure_connected(self) -> None:
        if self._client is None:
            self._state = STATE_CONNECTING
            try:
                self._client = self._build_client()
            except Exception as exc:  # noqa: BLE001 - the AWS SDK may raise anything; recorded redacted, retried
                self._state = STATE_DISCONNECTED
                self._note_error("aws client", exc)
                await self._backoff.sleep()
                return
            self._stopped.clear()
            self._client.start()
        try:
            await asyncio.wait_for(self._connected_async.wait(), 1.0)
        except TimeoutError:
            pass

    # CRT threads call these: hand everything over to the loop
    def _to_loop(self, callback: Any, *args: Any) -> None:
        try:
            if self._loop is not None:
                self._loop.call_soon_threadsafe(callback, *args)
        except RuntimeError:  # the loop has closed (shutdown): the CRT's late news has no reader
            pass

    def _on_connection_success(self, data: Any) -> None:
        self._connected.set()
        self._to_loop(self._after_connect)

    def _on_connection_failure(self, data: Any) -> None:
        self._connected.clear()
        self._to_loop(self._after_disconnect, "connect", data.exception)

    def _on_disconnection(self, data: Any) -> None:
        self._connected.clear()
        self._to_loop(self._after_disconnect, "disconnected", data.exception)

    def _after_connect(self) -> None:
        if not self._connected.is_set():
            return
        self._state = STATE_CONNECTED
        self._connected_async.set()
        self._subscribed_topic = None  # clean session: subscribe again
        log.info("%s: connected to %s:%d as %s", self.name, self.settings.endpoint, self.settings.port, self.settings.client_id)
        asyncio.ensure_future(self._subscribe_commands())
        self._outbox_wake.set()

    def _after_disconnect(self, where: str, exc: BaseException | None) -> None:
        self._connected_async.clear()
        if self._running:
            self._state = STATE_CONNECTING
            self._note_error(where, exc if exc is not None else "link lost")

    def _building_changed(self) -> None:
        if self._transport_connected():
            asyncio.ensure_future(self._subscribe_commands())

    async def _subscribe_commands(self) -> None:
        client, topic = self._client, self.topic("topic_commands")
        if client is None or topic == self._subscribed_topic or \
                ("{building_id}" in self.settings.topics["topic_commands"] and not self._building_id):
            return
        try:
            if self._subscribed_topic:
                await asyncio.shield(asyncio.wrap_future(client.unsubscribe(mqtt5.UnsubscribePacket([self._subscribed_topic]))))
            suback = await asyncio.shield(asyncio.wrap_future(client.subscribe(mqtt5.SubscribePacket(
                [mqtt5.Subscription(topic, mqtt5.QoS.AT_LEAST_ONCE)]))))
            codes = getattr(suback, "reason_codes", None) or []
            if any(int(c) >= 128 for c in codes):
                raise ConnectionError(f"subscription to {topic} refused: {codes}")
            self._subscribed_topic = topic
            log.info("%s: listening for commands on %s", self.name, topic)
        except Exception as exc:  # noqa: BLE001 - the AWS SDK may raise anything; recorded redacted, retried
            self._note_error("subscribe", exc)

    async def _close_transport(self) -> None:
        client, self._client = self._client, None
        self._connected.clear()
        self._connected_async.clear()
        if client is not None:
            client.stop()
            await asyncio.get_running_loop().run_in_executor(None, self._stopped.wait, 5.0)

    # -- outgoing -------------------------------------------------------------------------------
    def _topic_for(self, message: OutboxMessage) -> str:
        if message.kind == KIND_COMMAND_RESULT and message.props.get("_topic"):
            return str(message.props["_topic"])
        key = {KIND_ALERT: "topic_alerts", KIND_HEALTH: "topic_health", KIND_LOSS: "topic_alerts",
               KIND_COMMAND_RESULT: "topic_results"}.get(message.kind, "topic_telemetry")
        building = message.props.get("building") or self._building_id or "unknown"
        return self.settings.topics[key].format(building_id=building, thing_name=self.settings.thing_name)

    async def _publish(self, message: OutboxMessage) -> None:
        client = self._client
        if client is None or not self._connected.is_set():
            raise ConnectionError("not connected to AWS IoT Core")
        props = [mqtt5.UserProperty("message_id", message.message_id)]
        props += [mqtt5.UserProperty(str(k), str(v)) for k, v in message.props.items() if not k.startswith("_")]
        packet = mqtt5.PublishPacket(
            topic=self._topic_for(message), payload=message.payload(), qos=mqtt5.QoS.AT_LEAST_ONCE,
            content_type="application/json", payload_format_indicator=mqtt5.PayloadFormatIndicator.AWS_MQTT5_PFI_UTF8,
            user_properties=props)
        if message.props.get("_correlation"):
            packet.correlation_data_bytes = bytes.fromhex(str(message.props["_correlation"]))
        await _acked(client.publish(packet))

    async def _report_status(self, document: dict) -> None:
        if not self.settings.shadow or self._client is None:
            return
        payload = json.dumps({"state": {"reported": {"revitpyiot": document}}}).encode()
        await _acked(self._client.publish(mqtt5.PublishPacket(
            topic=self.shadow_topic, payload=payload, qos=mqtt5.QoS.AT_LEAST_ONCE)))

    # -- incoming commands ----------------------------------------------------------------------
    def _on_publish_received(self, data: Any) -> None:
        packet = data.publish_packet
        if self._loop is None or packet.topic != self._subscribed_topic:
            return
        payload = packet.payload if isinstance(packet.payload, bytes) else str(packet.payload or "").encode()
        correlation = packet.correlation_data_bytes
        if isinstance(correlation, str):
            correlation = correlation.encode()
        asyncio.run_coroutine_threadsafe(
            self._answer(bytes(payload), packet.response_topic, correlation), self._loop)

    async def _answer(self, payload: bytes, response_topic: str | None, correlation: bytes | None) -> None:
        command_id = None
        try:
            kind, body, command_id = parse_command(payload)
            result = await self.run_command(kind, body)
        except CommandError as exc:
            kind, result = "", {"ok": False, "error": {"code": exc.code, "message": exc.message}}
        reply = {"v": 1, "type": KIND_COMMAND_RESULT, "command": kind, "id": command_id, **result}
        props: dict[str, Any] = {"building": self._building_id or "", "type": KIND_COMMAND_RESULT, "command": kind}
        if response_topic:
            if "#" in response_topic or "+" in response_topic:
                log.warning("%s: ignoring wildcard response topic %s", self.name, redact(response_topic))
            else:
                props["_topic"] = response_topic
        if correlation:
            props["_correlation"] = correlation.hex()
        self.queue_command_result(props, reply)


async def _acked(future: Any) -> None:
    # shielded: cancelling our wait must not cancel the CRT's future (it completes it later)
    completion = await asyncio.shield(asyncio.wrap_future(future))
    puback = getattr(completion, "puback", None)
    code = getattr(puback, "reason_code", 0) if puback is not None else 0
    if int(code) >= 128:
        raise ConnectionError(f"broker refused the publish: {code!r} {getattr(puback, 'reason_string', '')}")
