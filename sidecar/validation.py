"""Schema checks of incoming requests.

The JSON Schemas in ``shared_schemas`` are the contract; ``shared_schemas.validation``
(``validate_request(message)`` raising ``SchemaError`` with ``.field``) applies them. On top of
that, a few structural checks here guarantee the handlers the shapes they rely on even when
the shared validator is not installed.

``ingest`` readings are NOT schema-checked one by one: a malformed reading is rejected on its
own (with its index and reason) while the rest of the batch is accepted, and running a
JSON-Schema validator over 100,000 triples would cost more than the whole pipeline.
"""
from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from typing import Any

from shared_schemas import fast_checks, protocol
from sidecar.errors import RequestError

log = logging.getLogger(__name__)

_shared_validate: Callable[[dict[str, Any]], None] | None = None
_SharedSchemaError: type[BaseException] | None = None
try:
    _module = importlib.import_module("shared_schemas.validation")
    _shared_validate = _module.validate_request
    _SharedSchemaError = _module.SchemaError
except (ImportError, AttributeError) as _error:  # pragma: no cover - depends on the install
    log.debug("shared_schemas.validation unavailable (%s): structural checks only", _error)


def shared_validator_available() -> bool:
    return _shared_validate is not None


def _bad(field: str, message: str) -> RequestError:
    return RequestError(protocol.E_BAD_REQUEST, f"{field}: {message}", {"field": field})


def _expect(value: Any, kinds: type | tuple[type, ...], field: str, what: str) -> None:
    if isinstance(value, bool) and bool not in (kinds if isinstance(kinds, tuple) else (kinds,)):
        raise _bad(field, f"must be {what}, got bool")
    if not isinstance(value, kinds):
        raise _bad(field, f"must be {what}, got {'nil' if value is None else type(value).__name__}")


def _optional_str(body: dict[str, Any], key: str) -> None:
    if body.get(key) is not None:
        _expect(body[key], str, f"body.{key}", "a string")


def _structural(message: dict[str, Any]) -> None:
    _expect(message.get("id"), str, "id", "a string")
    if "ts" in message:
        _expect(message["ts"], (int, float), "ts", "a number")
    raw_body = message.get("body")
    _expect(raw_body, dict, "body", "a map")
    body: dict[str, Any] = raw_body  # type: ignore[assignment]  # checked just above
    kind = message["type"]
    if kind == protocol.HELLO:
        for key in ("client", "client_version", "revit_version", "document"):
            _optional_str(body, key)
        if "protocols" in body:
            _expect(body["protocols"], list, "body.protocols", "a list of integers")
    elif kind == protocol.SNAPSHOT:
        ids = body.get("unique_ids")
        if ids is not None:
            _expect(ids, list, "body.unique_ids", "a list of strings")
            for i, unique_id in enumerate(ids):
                _expect(unique_id, str, f"body.unique_ids[{i}]", "a string")
    elif kind == protocol.ACK:
        _expect(body.get("alert_id"), str, "body.alert_id", "a string")
        _optional_str(body, "user")
        _optional_str(body, "note")
    elif kind == protocol.INGEST:
        _expect(body.get("readings"), list, "body.readings", "a list of [sensor_id, ts, value]")


def validate_request(message: dict[str, Any]) -> None:
    """Raise ``RequestError(bad_request, details={"field": ...})`` when ``message`` (already
    known to be a map with a supported ``v`` and a known ``type``) breaks its schema."""
    _structural(message)
    if _shared_validate is None:
        return
    checked = message
    if message["type"] == protocol.INGEST:
        checked = dict(message, body=dict(message["body"], readings=[]))
        if fast_checks.ingest_request_ok(checked):  # certainly valid: no jsonschema pass (~0.3 ms)
            return
    try:
        _shared_validate(checked)
    except Exception as error:
        if _SharedSchemaError is not None and isinstance(error, _SharedSchemaError):
            field = getattr(error, "field", None) or "body"
            raise RequestError(protocol.E_BAD_REQUEST, str(error), {"field": field}) from None
        raise
