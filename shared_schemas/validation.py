"""Validate RevitPyIoT v1 messages and records against the JSON Schemas in ``schemas/``.

CPython only (uses ``jsonschema``); the IronPython extension never imports it.
The schemas reference each other by relative ``$ref``; they are all loaded from
this package into one local ``referencing`` registry, so nothing is ever fetched
from the network. Validators are built once per schema and cached.

Two departures from plain JSON semantics, because payloads arrive as msgpack:

* numbers must be finite: msgpack can carry NaN and infinity, JSON cannot, and
  no field of the protocol means them;
* a Python tuple counts as an array, so records built in Python validate the
  same as their decoded wire form.

Speed: the sidecar validates every request, and jsonschema needs a few
hundred microseconds per BuildingConfig element or HealthRecord. The arrays
that grow large (ingest readings, configure elements/spaces/levels, snapshot
and health-event records) are therefore first checked item by item by the
hand-written predicates of ``fast_checks``; only an item those do not accept
goes through jsonschema (which reports the precise error), and the schema pass
over the rest of the message sees those arrays empty. ``ingest`` readings are
checked one by one by the sidecar itself, so their contract here is only
"an array of arrays", exactly as ``ingest.request.json`` states.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from shared_schemas import fast_checks
from shared_schemas.protocol import EVENT_TOPICS, REQUEST_TYPES

SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"
BASE_URI = "https://revitpyiot.invalid/schemas/v1/"
RECORD_NAMES = ("BuildingConfig", "HealthRecord", "Alert", "WorkOrder")

_ARRAY_TYPES = (list, tuple)
_REPR_LIMIT = 80


class SchemaError(ValueError):
    """A message or record does not match its schema.

    ``field`` is the dotted path of the offending value from the root of what
    was validated (``"body.elements.3.location"``; ``""`` for the root itself);
    for a missing key it names the key that is missing.
    """

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field or '<root>'}: {message}")
        self.field = field
        self.message = message


def _is_finite_number(checker: Any, instance: object) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    return isinstance(instance, float) and math.isfinite(instance)


def _is_integer(checker: Any, instance: object) -> bool:
    if isinstance(instance, bool):
        return False
    if isinstance(instance, int):
        return True
    return isinstance(instance, float) and math.isfinite(instance) and instance.is_integer()


def _is_array(checker: Any, instance: object) -> bool:
    return isinstance(instance, _ARRAY_TYPES)


_TYPE_CHECKER = Draft202012Validator.TYPE_CHECKER.redefine_many(
    {"number": _is_finite_number, "integer": _is_integer, "array": _is_array}
)
WireValidator = validators.extend(Draft202012Validator, type_checker=_TYPE_CHECKER)


@lru_cache(maxsize=1)
def _schemas() -> dict[str, dict[str, Any]]:
    """Every schema file (except the index) by file name."""
    loaded = {}
    for path in sorted(SCHEMA_DIR.glob("*.json")):
        if path.name == "index.json":
            continue
        with path.open(encoding="utf-8") as handle:
            loaded[path.name] = json.load(handle)
    return loaded


@lru_cache(maxsize=1)
def _registry() -> Registry:
    resources = [
        (schema["$id"], Resource.from_contents(schema, default_specification=DRAFT202012))
        for schema in _schemas().values()
    ]
    return Registry().with_resources(resources).crawl()


def schema(file_name: str) -> dict[str, Any]:
    """The parsed schema stored as ``schemas/<file_name>`` (e.g. ``"hello.request.json"``)."""
    try:
        return _schemas()[file_name]
    except KeyError:
        raise ValueError(f"no schema named {file_name!r} in {SCHEMA_DIR}") from None


@cache
def validator(file_name: str) -> Any:
    """The cached validator for ``schemas/<file_name>``."""
    return WireValidator(schema(file_name), registry=_registry())


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= _REPR_LIMIT else text[: _REPR_LIMIT - 3] + "..."


def _describe(error: ValidationError) -> tuple[str, str]:
    """(field, message) for a jsonschema error, without echoing huge instances."""
    path = [str(part) for part in error.absolute_path]
    kind, expected, instance = error.validator, error.validator_value, error.instance
    if kind == "required" and isinstance(instance, dict):
        missing = next((key for key in expected if key not in instance), "?")
        return ".".join(path + [str(missing)]), f"missing required key {missing!r}"
    field = ".".join(path)
    if kind == "type":
        if isinstance(instance, float) and not math.isfinite(instance):
            return field, f"non-finite number {instance!r} is not allowed"
        return field, f"expected {expected}, got {type(instance).__name__} {_short(instance)}"
    if kind == "enum":
        return field, f"{_short(instance)} is not one of {list(expected)}"
    if kind == "const":
        return field, f"expected {expected!r}, got {_short(instance)}"
    if kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        return field, f"{_short(instance)} is out of range ({kind} {expected})"
    if kind in ("minItems", "maxItems"):
        bound = "at least" if kind == "minItems" else "at most"
        return field, f"expected {bound} {expected} items, got {len(instance)}"
    if kind == "not" and isinstance(expected, dict) and set(expected) == {"required"}:
        extra = str(expected["required"][0])
        return ".".join(path + [extra]), f"unexpected key {extra!r}"
    message = error.message
    if len(message) > 200:
        message = message[:197] + "..."
    return field, message


class _HotArray(NamedTuple):
    """An array that may hold many thousands of items, checked item by item by hand."""

    path: tuple[str, ...]  # keys from the validated instance down to the array
    all_ok: Callable[[list[Any]], bool]  # fast: True when every item is certainly valid
    item_ok: Callable[[object], bool]  # the same for one item, to find the first suspect
    item_schema: str  # $ref (relative to BASE_URI) that reports the precise error for a suspect item


_ELEMENTS = ("elements", fast_checks.element_ok, "BuildingConfig.json#/$defs/element")
_SPACES = ("spaces", fast_checks.space_ok, "BuildingConfig.json#/$defs/space")
_LEVELS = ("levels", fast_checks.level_ok, "BuildingConfig.json#/$defs/level")


def _hot(prefix: tuple[str, ...], specs: tuple[tuple[str, Callable[[object], bool], str], ...]) -> list[_HotArray]:
    return [_HotArray(prefix + (key,), fast_checks.all_ok(ok), ok, ref) for key, ok, ref in specs]


# The arrays that make a message big. The schema pass then sees them empty, which is
# sound because none of these arrays has an array-level constraint besides its type.
_HOT_ARRAYS: dict[str, list[_HotArray]] = {
    "ingest.request.json": [
        # Readings are checked one by one by the sidecar; the contract here is "array of arrays".
        _HotArray(("body", "readings"), fast_checks.all_arrays, fast_checks.is_array,
                  "ingest.request.json#/$defs/body/properties/readings/items"),
    ],
    "configure.request.json": _hot(("body",), (_ELEMENTS, _SPACES, _LEVELS)),
    "BuildingConfig.json": _hot((), (_ELEMENTS, _SPACES, _LEVELS)),
    "snapshot.reply.json": [
        _HotArray(("body", "health"), fast_checks.all_ok(fast_checks.health_record_ok),
                  fast_checks.health_record_ok, "HealthRecord.json"),
        _HotArray(("body", "alerts"), fast_checks.all_ok(fast_checks.alert_ok),
                  fast_checks.alert_ok, "Alert.json"),
    ],
    "health.event.json": [
        _HotArray(("body", "items"), fast_checks.all_ok(fast_checks.health_record_ok),
                  fast_checks.health_record_ok, "HealthRecord.json"),
    ],
}


@cache
def _ref_validator(ref: str) -> Any:
    return WireValidator({"$ref": BASE_URI + ref}, registry=_registry())


def _check_hot_array(hot: _HotArray, items: list[Any], prefix: str) -> None:
    if hot.all_ok(items):
        return
    for index, item in enumerate(items):
        if hot.item_ok(item):
            continue
        error = best_match(_ref_validator(hot.item_schema).iter_errors(item))
        if error is not None:
            field, message = _describe(error)
            raise SchemaError(f"{prefix}.{index}" + (f".{field}" if field else ""), message)


def _lighten(instance: Any, path: tuple[str, ...]) -> Any:
    """``instance`` with the array at ``path`` replaced by ``[]`` (copies only the maps on the way)."""
    if not isinstance(instance, dict) or path[0] not in instance:
        return instance
    copy = dict(instance)
    copy[path[0]] = [] if len(path) == 1 else _lighten(instance[path[0]], path[1:])
    return copy


def _check(file_name: str, instance: object) -> None:
    for hot in _HOT_ARRAYS.get(file_name, ()):
        items = _follow(instance, hot.path)
        if isinstance(items, _ARRAY_TYPES):
            _check_hot_array(hot, items, ".".join(hot.path))  # type: ignore[arg-type]
            instance = _lighten(instance, hot.path)
    error = best_match(validator(file_name).iter_errors(instance))
    if error is not None:
        raise SchemaError(*_describe(error))


def _follow(instance: object, path: tuple[str, ...]) -> object:
    for key in path:
        if not isinstance(instance, dict):
            return None
        instance = instance.get(key)
    return instance


def _require_map(message: object, what: str) -> dict[str, Any]:
    if not isinstance(message, dict):
        raise SchemaError("", f"{what} must be a map, got {type(message).__name__}")
    return message


def validate_request(message: dict[str, Any]) -> None:
    """Check a whole request: envelope plus the body schema of ``message["type"]``."""
    message = _require_map(message, "a request")
    kind = message.get("type")
    if kind not in REQUEST_TYPES:
        raise SchemaError("type", f"{_short(kind)} is not one of {list(REQUEST_TYPES)}")
    _check(f"{kind}.request.json", message)


def validate_reply(message: dict[str, Any]) -> None:
    """Check a reply: an ok reply against its type's reply schema, a failed one against the error schema."""
    message = _require_map(message, "a reply")
    ok = message.get("ok")
    if ok is False:
        _check("error.reply.json", message)
        return
    if ok is not True:
        field, text = ("ok", "missing required key 'ok'") if "ok" not in message else (
            "ok", f"expected true or false, got {_short(ok)}")
        raise SchemaError(field, text)
    kind = message.get("type")
    if kind not in REQUEST_TYPES:
        raise SchemaError("type", f"{_short(kind)} is not one of {list(REQUEST_TYPES)}")
    _check(f"{kind}.reply.json", message)


def validate_event(topic: str, message: dict[str, Any]) -> None:
    """Check an event published on ``topic`` (its ``type`` must be the topic)."""
    if topic not in EVENT_TOPICS:
        raise SchemaError("topic", f"{_short(topic)} is not one of {list(EVENT_TOPICS)}")
    _check(f"{topic}.event.json", _require_map(message, "an event"))


def validate_record(name: str, obj: Any) -> None:
    """Check a record: ``"BuildingConfig"``, ``"HealthRecord"``, ``"Alert"`` or ``"WorkOrder"``."""
    if name not in RECORD_NAMES:
        raise ValueError(f"unknown record {name!r}; expected one of {list(RECORD_NAMES)}")
    _check(f"{name}.json", obj)
