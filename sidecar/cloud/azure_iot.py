"""Azure IoT Hub connector (``azure-iot-device`` asyncio ``IoTHubDeviceClient``, MQTT).

- Telemetry: batched JSON device-to-cloud messages, ``content_type=application/json``,
  ``content_encoding=utf-8``, ``message_id`` = the outbox id (IoT Hub routes and the receiving
  app dedupe on it), custom properties ``building``, ``type`` (telemetry, telemetry_rollup,
  alert, health, command_result, data_loss), ``quantity`` and ``sensor`` when the batch has one.
- Alerts: their own messages (``type=alert`` plus ``severity`` and ``state`` properties).
- Commands: direct methods (method name = request type, payload = body; answered with the
  direct-method response) and cloud-to-device messages (``{"type", "body", "id"}``; answered by
  a ``command_result`` message whose ``correlation_id`` is the C2D message id).
- Status: the sidecar's and the connector's status in the device twin's reported properties
  (``revitpyiot``), at most every ``status_interval_s`` and on each sidecar state change.
- Auth: device connection string (from the env var ``connection_string_env`` or the profile
  secrets file) or X.509 (``auth = "x509"``, ``hostname``, ``device_id``, certificate and key
  files, optional key pass phrase from ``private_key_passphrase_env``).

The SDK's own retry is switched off (``connection_retry=False``, ``auto_connect=False``): the
connector reconnects with its jittered back-off and the outbox is the only queue, so nothing
can sit unseen in an SDK buffer.
"""
from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

from azure.iot.device import X509, Message, MethodResponse
from azure.iot.device.aio import IoTHubDeviceClient

from .base import (
    STATE_CONNECTED,
    STATE_CONNECTING,
    STATE_DISCONNECTED,
    CloudConnector,
    CommandError,
    CommandHandler,
    parse_command,
)
from .outbox import KIND_COMMAND_RESULT, OutboxMessage
from .secrets import SecretError, redact_error, resolve_secret
from .settings import AzureSettings

log = logging.getLogger("sidecar.cloud.azure")

DEFAULT_CONNECTION_STRING_ENV = "REVITPYIOT_AZURE_CONNECTION_STRING"
_HTTP_STATUS = {"bad_request": 400, "unauthorized": 403, "unknown_type": 404, "conflict": 409,
                "unsupported_version": 400, "too_large": 413, "internal": 500}


def _quiet_sdk_log() -> None:
    """The SDK logs four INFO lines per message sent: keep them for ``--log-level DEBUG``."""
    sdk = logging.getLogger("azure.iot.device")
    if sdk.level == logging.NOTSET and logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        sdk.setLevel(logging.WARNING)


class AzureIoTConnector(CloudConnector[AzureSettings]):
    kind = "azure"
    settings_type = AzureSettings

    def __init__(self, name: str, settings: AzureSettings, data_dir: Path, commands: CommandHandler) -> None:
        super().__init__(name, settings, data_dir, commands)
        _quiet_sdk_log()
        # The SDK runs each send_message on a worker thread, so concurrent sends can overtake
        # each other on the wire: one message in flight keeps delivery in order.
        self.common = replace(self.common, inflight_window=1)
        ca = settings.server_verification_cert_file
        self.server_ca: str | None = Path(ca).expanduser().read_text() if ca else None
        self._client: IoTHubDeviceClient | None = None
        self._connection_string: str | None = None
        self.device_id: str = ""
        self.hostname: str = ""
        if self.common.enabled:
            self._load_credentials()

    def _load_credentials(self) -> None:
        s = self.settings
        if self.settings.auth == "connection_string":
            refs = dict(s.secret_refs)
            refs.setdefault("connection_string_env", DEFAULT_CONNECTION_STRING_ENV)
            cs = resolve_secret(refs, "connection_string", "azure", self.data_dir)
            assert cs is not None
            parts = dict(p.split("=", 1) for p in cs.split(";") if "=" in p)
            if not parts.get("HostName") or not parts.get("DeviceId"):
                raise SecretError("the Azure connection string lacks HostName or DeviceId "
                                  "(copy the device's primary connection string from the portal)")
            if "SharedAccessKey" not in parts and "x509" not in cs.lower():
                raise SecretError("the Azure connection string lacks SharedAccessKey")
            self._connection_string = cs
            self.hostname, self.device_id = parts["HostName"], parts["DeviceId"]
        else:
            self.hostname, self.device_id = s.hostname, s.device_id

    def _make_client(self) -> IoTHubDeviceClient:
        kwargs: dict[str, Any] = {"connection_retry": False, "auto_connect": False, "keep_alive": self.settings.keep_alive_s}
        if self.server_ca:
            kwargs["server_verification_cert"] = self.server_ca
        if self.settings.auth == "connection_string":
            assert self._connection_string is not None
            return IoTHubDeviceClient.create_from_connection_string(self._connection_string, **kwargs)
        s = self.settings
        passphrase = resolve_secret(s.secret_refs, "private_key_passphrase", "azure", self.data_dir, required=False)
        x509 = X509(cert_file=str(Path(s.certificate_file).expanduser()),
                    key_file=str(Path(s.private_key_file).expanduser()), pass_phrase=passphrase)
        return IoTHubDeviceClient.create_from_x509_certificate(
            x509=x509, hostname=self.hostname, device_id=self.device_id, **kwargs)

    # -- connection -----------------------------------------------------------------------------
    def _transport_connected(self) -> bool:
        return self._client is not None and bool(self._client.connected)

    async def _ensure_connected(self) -> None:
        await self._drop_client()
        self._state = STATE_CONNECTING
        client = None
        try:
            client = self._make_client()
            await asyncio.wait_for(client.connect(), self.settings.connect_timeout_s)
            loop = asyncio.get_running_loop()
            # The setters subscribe synchronously on the SDK's own loop: run them off ours.
            client.on_connection_state_change = self._on_connection_state_change  # type: ignore[assignment]
            await loop.run_in_executor(None, setattr, client, "on_method_request_received", self._on_method)
            await loop.run_in_executor(None, setattr, client, "on_message_received", self._on_c2d_message)
        except asyncio.CancelledError:
            if client is not None:
                await _shutdown(client)
            raise
        except Exception as exc:  # noqa: BLE001 - the Azure SDK may raise anything; recorded redacted, retried
            if client is not None:
                await _shutdown(client)
            self._state = STATE_DISCONNECTED
            self._note_error(f"connect to {self.hostname} as {self.device_id}", exc)
            await self._backoff.sleep()
            return
        self._client = client
        self._state = STATE_CONNECTED
        log.info("%s: connected to %s as %s", self.name, self.hostname, self.device_id)

    def _on_connection_state_change(self) -> None:
        # called on an SDK thread; `connected` is read by the sender, which reconnects
        if self._client is not None and not self._client.connected:
            self._state = STATE_DISCONNECTED

    async def _publish_failed(self) -> None:
        await self._drop_client()
        self._state = STATE_DISCONNECTED

    async def _drop_client(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await _shutdown(client)

    async def _close_transport(self) -> None:
        await self._drop_client()

    # -- outgoing -------------------------------------------------------------------------------
    async def _publish(self, message: OutboxMessage) -> None:
        client = self._client
        if client is None or not client.connected:
            raise ConnectionError("not connected to IoT Hub")
        msg = Message(message.payload(), message_id=message.message_id, content_encoding="utf-8",
                      content_type="application/json")
        for key, value in message.props.items():
            if key == "_correlation_id":
                msg.correlation_id = str(value)
            elif not key.startswith("_"):
                msg.custom_properties[key] = str(value)
        await client.send_message(msg)

    async def _report_status(self, document: dict) -> None:
        if not self.settings.report_twin or self._client is None:
            return
        await self._client.patch_twin_reported_properties({"revitpyiot": document})

    # -- incoming commands ----------------------------------------------------------------------
    def _on_method(self, request: Any) -> None:
        # SDK handler thread: hand over to the sidecar's loop, where the command handler lives
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._answer_method(request), self._loop)

    async def _answer_method(self, request: Any) -> None:
        payload = request.payload
        if payload is None:
            payload = {}
        result: dict[str, Any]
        if not isinstance(payload, dict):
            result = {"ok": False, "error": {"code": "bad_request", "message": "method payload must be a JSON object"}}
        else:
            result = await self.run_command(str(request.name), payload)
        status = 200 if result["ok"] else _HTTP_STATUS.get(result["error"]["code"], 500)
        client = self._client
        if client is None:
            log.warning("%s: method %s answered after the link dropped; IoT Hub times it out",
                        self.name, request.name)
            return
        try:
            await client.send_method_response(MethodResponse.create_from_method_request(request, status, json.loads(json.dumps(result))))
        except Exception as exc:  # noqa: BLE001 - the Azure SDK may raise anything; recorded redacted, retried
            self._note_error("method response", exc)

    def _on_c2d_message(self, message: Any) -> None:
        assert self._loop is not None
        asyncio.run_coroutine_threadsafe(self._answer_c2d(message), self._loop)

    async def _answer_c2d(self, message: Any) -> None:
        props = message.custom_properties or {}
        data = message.data if isinstance(message.data, bytes) else str(message.data or "").encode()
        command_id: str | None = None
        try:
            if props.get("command"):  # body-only form: the type rides in a property
                kind = str(props["command"])
                _, body, command_id = parse_command(b'{"type":"x","body":' + (data or b"{}") + b"}")
            else:
                kind, body, command_id = parse_command(data)
            result = await self.run_command(kind, body)
        except CommandError as exc:
            kind, result = str(props.get("command", "")), {"ok": False, "error": {"code": exc.code,
                                                                                  "message": exc.message}}
        reply = {"v": 1, "type": KIND_COMMAND_RESULT, "command": kind, "id": command_id,
                 "correlation_id": message.message_id, **result}
        out_props = {"building": self._building_id or "", "type": KIND_COMMAND_RESULT, "command": kind}
        if message.message_id:
            out_props["_correlation_id"] = str(message.message_id)
        self.queue_command_result(out_props, reply)


async def _shutdown(client: IoTHubDeviceClient) -> None:
    try:
        await asyncio.wait_for(client.shutdown(), 10)
    except Exception as exc:  # noqa: BLE001 - a dead link's shutdown may fail; the client is discarded anyway
        log.debug("azure client shutdown: %s", redact_error(exc))
