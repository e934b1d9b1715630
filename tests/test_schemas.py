"""The machine-readable contract: JSON Schemas, validation, golden vectors and both codecs."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator
from revitpyiot.transport import msgpack_codec

from shared_schemas import fast_checks, make_golden, protocol, validation
from shared_schemas.validation import (
    SchemaError,
    validate_event,
    validate_record,
    validate_reply,
    validate_request,
)

SCHEMA_DIR = validation.SCHEMA_DIR
GOLDEN_DIR = make_golden.GOLDEN_DIR
INDEX = json.loads((SCHEMA_DIR / "index.json").read_text(encoding="utf-8"))
MANIFEST = json.loads((GOLDEN_DIR / "manifest.json").read_text(encoding="utf-8"))
VECTOR_NAMES = [vector["name"] for vector in MANIFEST["vectors"]]


def golden(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((GOLDEN_DIR / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def golden_bytes(name: str) -> bytes:
    return (GOLDEN_DIR / f"{name}.msgpack").read_bytes()


# --- the schema files -------------------------------------------------------------------------

def test_index_lists_exactly_the_schema_files() -> None:
    listed = set(INDEX["definitions"]) | set(INDEX["requests"].values()) | set(INDEX["replies"].values())
    listed |= {INDEX["error_reply"]} | set(INDEX["events"].values()) | set(INDEX["records"].values())
    on_disk = {path.name for path in SCHEMA_DIR.glob("*.json")} - {"index.json"}
    assert listed == on_disk
    assert set(INDEX["requests"]) == set(protocol.REQUEST_TYPES) == set(INDEX["replies"])
    assert set(INDEX["events"]) == set(protocol.EVENT_TOPICS)
    assert set(INDEX["records"]) == set(validation.RECORD_NAMES)


@pytest.mark.parametrize("path", sorted(SCHEMA_DIR.glob("*.json")), ids=lambda p: p.name)
def test_every_schema_is_valid_draft_2020_12_with_its_id(path: Path) -> None:
    schema = json.loads(path.read_text(encoding="utf-8"))
    if path.name == "index.json":
        return
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == validation.BASE_URI + path.name


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in _refs(value)]
    return []


@pytest.mark.parametrize("name", sorted(set(validation._schemas())))
def test_every_ref_resolves_in_the_local_registry(name: str) -> None:
    resolver = validation._registry().resolver(base_uri=validation.BASE_URI + name)
    refs = _refs(validation.schema(name))
    for ref in refs:
        resolver.lookup(ref)  # raises on anything that would need the network
    if name not in ("common.json", "envelope.json", "error.reply.json"):
        assert refs, f"{name} repeats definitions instead of referencing them"


def _common_enum(name: str) -> list[str]:
    enum: list[str] = validation.schema("common.json")["$defs"][name]["enum"]
    return enum


@pytest.mark.parametrize("definition, constants", [
    ("state", protocol.STATES),
    ("health_status", protocol.HEALTH_STATUSES),
    ("severity", protocol.SEVERITIES),
    ("alert_state", protocol.ALERT_STATES),
    ("error_code", protocol.ERROR_CODES),
    ("request_type", protocol.REQUEST_TYPES),
    ("event_topic", protocol.EVENT_TOPICS),
    ("element_kind", protocol.ELEMENT_KINDS),
    ("space_kind", protocol.SPACE_KINDS),
])
def test_schema_enums_equal_the_protocol_constants(definition: str, constants: tuple[str, ...]) -> None:
    assert _common_enum(definition) == list(constants)


def test_protocol_version_and_message_type_consts_match_protocol() -> None:
    assert validation.schema("common.json")["$defs"]["version"]["const"] == protocol.PROTOCOL_VERSION
    for kind in protocol.REQUEST_TYPES:
        assert validation.schema(f"{kind}.request.json")["properties"]["type"]["const"] == kind
        assert validation.schema(f"{kind}.reply.json")["properties"]["type"]["const"] == kind
    for topic in protocol.EVENT_TOPICS:
        assert validation.schema(f"{topic}.event.json")["properties"]["type"]["const"] == topic
    assert fast_checks.QUANTITY_PATTERN.pattern == validation.schema("common.json")["$defs"]["quantity"]["pattern"]
    assert fast_checks.SOURCE_URI_PATTERN.pattern == \
        validation.schema("common.json")["$defs"]["source_uri"]["pattern"]


# --- golden vectors ---------------------------------------------------------------------------

def test_golden_vectors_cover_every_message() -> None:
    expected = {f"request.{t}" for t in protocol.REQUEST_TYPES} | {f"reply.{t}" for t in protocol.REQUEST_TYPES}
    expected |= {f"reply.error.{code}" for code in protocol.ERROR_CODES}
    expected |= {f"event.{topic}" for topic in protocol.EVENT_TOPICS}
    assert set(VECTOR_NAMES) == expected
    on_disk = {p.name for p in GOLDEN_DIR.iterdir()} - {"manifest.json"}
    assert on_disk == {f"{n}.json" for n in expected} | {f"{n}.msgpack" for n in expected}


def test_golden_files_are_what_make_golden_generates() -> None:
    files = make_golden.render(make_golden.golden_messages())
    for name, data in files.items():
        assert (GOLDEN_DIR / name).read_bytes() == data, f"{name} is stale: run python -m shared_schemas.make_golden"


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_golden_json_validates_against_its_schema(name: str) -> None:
    make_golden.validate_golden(name, golden(name))


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_real_msgpack_reproduces_golden_bytes_and_values(name: str) -> None:
    message, data = golden(name), golden_bytes(name)
    assert msgpack.packb(message) == data
    assert msgpack.unpackb(data) == message


@pytest.mark.parametrize("name", VECTOR_NAMES)
def test_extension_codec_reproduces_golden_bytes_and_values(name: str) -> None:
    message, data = golden(name), golden_bytes(name)
    assert bytes(msgpack_codec.packb(message)) == data
    assert msgpack_codec.unpackb(data) == message


def test_golden_vectors_exercise_the_codec_edge_cases() -> None:
    everything = "".join((GOLDEN_DIR / f"{n}.json").read_text(encoding="utf-8") for n in VECTOR_NAMES)
    for text in ("Büro 2.14", "会议室", "🔧"):
        assert text in everything
    configure = golden_bytes("request.configure")
    for marker in (b"\xde", b"\xdc", b"\xd0", b"\xd1", b"\xd2", b"\xd3", b"\xcf", b"\xce", b"\xcd", b"\xcc", b"\xcb"):
        assert marker in configure + golden_bytes("event.alert") + golden_bytes("request.ingest")
    assert b"\xda" in golden_bytes("event.alert")  # str16: a string longer than 255 bytes
    assert b"\xc0" in golden_bytes("reply.error.too_large")  # nil id


# --- rejection with the right field -----------------------------------------------------------

Mutation = Callable[[dict[str, Any]], None]


def _set(path: str, value: Any) -> Mutation:
    def mutate(message: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = message
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return mutate


def _delete(path: str) -> Mutation:
    def mutate(message: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = message
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        del node[last]
    return mutate


INVALID = [
    # (golden base, mutation, expected field)
    ("request.hello", _delete("body.client"), "body.client"),
    ("request.hello", _delete("token"), "token"),
    ("request.hello", _set("v", "1"), "v"),
    ("request.hello", _set("v", 2), "v"),
    ("request.hello", _set("id", ""), "id"),
    ("request.hello", _set("ts", math.nan), "ts"),
    ("request.hello", _set("body.protocols", []), "body.protocols"),
    ("request.status", _set("body", []), "body"),
    ("request.configure", _delete("body.building_id"), "body.building_id"),
    ("request.configure", _set("body.elements.2.location", [1.0, 2.0]), "body.elements.2.location"),
    ("request.configure", _set("body.spaces.0.outline.1", [[1.0, 1.0], [2.0, 2.0]]), "body.spaces.0.outline.1"),
    ("request.configure", _set("body.spaces.0.outline.0.2", [4.2]), "body.spaces.0.outline.0.2"),
    ("request.configure", _set("body.spaces.0.outline", {"outer": []}), "body.spaces.0.outline"),
    ("request.configure", _set("body.elements.1.location.0", "x"), "body.elements.1.location.0"),
    ("request.configure", _set("body.elements.1.location.2", math.inf), "body.elements.1.location.2"),
    ("request.configure", _delete("body.elements.3.sensor"), "body.elements.3.sensor"),
    ("request.configure", _set("body.elements.0.kind", "device"), "body.elements.0.kind"),
    ("request.configure", _set("body.elements.0.element_id", True), "body.elements.0.element_id"),
    ("request.configure", _set("body.elements.0.parameters.Model", [1]), "body.elements.0.parameters.Model"),
    ("request.configure", _set("body.elements.0.mark", None), "body.elements.0.mark"),
    ("request.configure", _set("body.elements.2.sensor.quantity", "CO2"), "body.elements.2.sensor.quantity"),
    ("request.configure", _set("body.elements.2.sensor.source", "localhost/co2"), "body.elements.2.sensor.source"),
    ("request.configure", _delete("body.elements.2.sensor.unit"), "body.elements.2.sensor.unit"),
    ("request.configure", _set("body.elements.1.sensor.limits.high", "4.5"), "body.elements.1.sensor.limits.high"),
    ("request.configure", _set("body.spaces.0.kind", "area"), "body.spaces.0.kind"),
    ("request.configure", _delete("body.spaces.1.number"), "body.spaces.1.number"),
    ("request.configure", _set("body.levels.1.elevation_m", "4.0"), "body.levels.1.elevation_m"),
    ("request.configure", _delete("body.model.title"), "body.model.title"),
    ("request.ack", _delete("body.alert_id"), "body.alert_id"),
    ("request.snapshot", _set("body.unique_ids", "all"), "body.unique_ids"),
    ("request.ingest", _set("body.readings.3", "wm-01.flow"), "body.readings.3"),
    ("request.ingest", _set("body.readings", {"a": 1}), "body.readings"),
    ("request.ingest", _delete("body.readings"), "body.readings"),
    ("reply.hello", _set("body.state", "running"), "body.state"),
    ("reply.status", _set("body.readings_per_s", -1), "body.readings_per_s"),
    ("reply.status", _set("body.sources.sim", 1), "body.sources.sim"),
    ("reply.configure", _set("body.warnings", [3]), "body.warnings.0"),
    ("reply.snapshot", _set("body.health.0.health_score", 120), "body.health.0.health_score"),
    ("reply.snapshot", _set("body.health.1.health_score", -0.5), "body.health.1.health_score"),
    ("reply.snapshot", _set("body.health.0.failure_probability", 1.5), "body.health.0.failure_probability"),
    ("reply.snapshot", _set("body.health.0.status", "good"), "body.health.0.status"),
    ("reply.snapshot", _delete("body.health.1.ttf_hours"), "body.health.1.ttf_hours"),
    ("reply.snapshot", _set("body.alerts.0.severity", "major"), "body.alerts.0.severity"),
    ("reply.ack", _delete("body.alert.raised_ts"), "body.alert.raised_ts"),
    ("reply.ack", _set("body.alert.state", "open"), "body.alert.state"),
    ("reply.ingest", _set("body.rejected.0.index", -1), "body.rejected.0.index"),
    ("reply.start", _set("error", {"code": "internal", "message": "", "details": None}), "error"),
    ("reply.start", _delete("ok"), "ok"),
    ("reply.start", _set("ok", "yes"), "ok"),
    ("reply.error.conflict", _set("error.code", "oops"), "error.code"),
    ("reply.error.conflict", _delete("error.details"), "error.details"),
    ("reply.error.conflict", _delete("body"), "body"),
    ("event.alert", _set("body.severity", "major"), "body.severity"),
    ("event.alert", _set("body.failure_probability", None), "body.failure_probability"),
    ("event.alert", _delete("seq"), "seq"),
    ("event.alert", _set("seq", -1), "seq"),
    ("event.alert", _set("type", "health"), "type"),
    ("event.health", _set("body.items.2.status", "bad"), "body.items.2.status"),
    ("event.health", _set("body.items.1.ttf_hours", -3.0), "body.items.1.ttf_hours"),
    ("event.status", _set("body.state", "paused"), "body.state"),
    ("event.status", _delete("body.uptime_s"), "body.uptime_s"),
]


def _validate_vector(name: str, message: dict[str, Any]) -> None:
    make_golden.validate_golden(name, message)


@pytest.mark.parametrize("name, mutate, field", INVALID,
                         ids=[f"{n}:{f}" for n, _m, f in INVALID])
def test_invalid_messages_are_rejected_with_the_field(name: str, mutate: Mutation, field: str) -> None:
    message = copy.deepcopy(golden(name))
    mutate(message)
    with pytest.raises(SchemaError) as caught:
        _validate_vector(name, message)
    assert caught.value.field == field
    assert caught.value.message
    assert isinstance(caught.value, ValueError)


def test_wrong_type_and_non_map_messages_are_rejected() -> None:
    with pytest.raises(SchemaError) as caught:
        validate_request({**golden("request.status"), "type": "reboot"})
    assert caught.value.field == "type"
    with pytest.raises(SchemaError) as caught:
        validate_request(["not", "a", "map"])  # type: ignore[arg-type]
    assert caught.value.field == ""
    with pytest.raises(SchemaError) as caught:
        validate_reply({**golden("reply.start"), "type": "reboot"})
    assert caught.value.field == "type"
    with pytest.raises(SchemaError) as caught:
        validate_event("telemetry", golden("event.alert"))
    assert caught.value.field == "topic"
    with pytest.raises(SchemaError) as caught:
        validate_event("health", golden("event.alert"))
    assert caught.value.field in ("type", "body.items")


@pytest.mark.parametrize("record, obj, field", [
    ("HealthRecord", {**golden("event.health")["body"]["items"][0], "ttf_hours": -1}, "ttf_hours"),
    ("HealthRecord", {**golden("event.health")["body"]["items"][0], "health_score": 100.5}, "health_score"),
    ("Alert", {**golden("event.alert")["body"], "failure_probability": 2}, "failure_probability"),
    ("Alert", {**golden("event.alert")["body"], "element_id": "305137"}, "element_id"),
    ("BuildingConfig", {k: v for k, v in golden("request.configure")["body"].items() if k != "levels"}, "levels"),
])
def test_records_are_rejected_with_the_field(record: str, obj: dict[str, Any], field: str) -> None:
    with pytest.raises(SchemaError) as caught:
        validate_record(record, obj)
    assert caught.value.field == field


def test_records_validate_and_unknown_record_names_are_an_error() -> None:
    validate_record("BuildingConfig", golden("request.configure")["body"])
    validate_record("Alert", golden("event.alert")["body"])
    for item in golden("event.health")["body"]["items"]:
        validate_record("HealthRecord", item)
    with pytest.raises(ValueError):
        validate_record("Building", {})


def test_v1_can_grow_additively() -> None:
    message = copy.deepcopy(golden("request.configure"))
    message["trace"] = {"span": 1}
    message["body"]["site"] = {"campus": "Harbour"}
    message["body"]["elements"][1]["sensor"]["sampling_s"] = 5
    message["body"]["elements"][0]["phase"] = "New Construction"
    validate_request(message)
    health = copy.deepcopy(golden("event.health"))
    health["body"]["items"][0]["model"] = "iforest-v2"
    validate_event("health", health)


def test_python_tuples_count_as_arrays() -> None:
    building = copy.deepcopy(golden("request.configure")["body"])
    building["elements"][0]["location"] = (1.0, 2.0, 3.0)
    building["levels"] = tuple(building["levels"])
    validate_record("BuildingConfig", building)


# --- ingest and large configure: the fast paths -----------------------------------------------

def _ingest(readings: list[Any]) -> dict[str, Any]:
    message = golden("request.ingest")
    message["body"]["readings"] = readings
    return message


def test_validate_request_accepts_a_100k_reading_ingest() -> None:
    readings = [[f"room-{i % 97}.co2", 1767603600.0 + i * 0.01, 400.0 + i % 600] for i in range(100_000)]
    validate_request(_ingest(readings))


def test_ingest_readings_are_only_shape_checked_and_bad_shapes_get_their_index() -> None:
    # Items are the sidecar's to judge one by one: odd triples pass the schema.
    validate_request(_ingest([["s", "not a ts", None], [], [1, 2, 3, 4]]))
    readings: list[Any] = [["s", 1.0, 2.0]] * 100_000
    readings[73_512] = {"sensor": "s"}
    with pytest.raises(SchemaError) as caught:
        validate_request(_ingest(readings))
    assert caught.value.field == "body.readings.73512"


def _big_configure(count: int) -> dict[str, Any]:
    message = golden("request.configure")
    template = message["body"]["elements"]
    elements = []
    for index in range(count):
        element = copy.deepcopy(template[index % len(template)])
        element["unique_id"] = f"{element['unique_id'][:36]}-{index:08x}"
        element["element_id"] = 400_000 + index
        elements.append(element)
    message["body"]["elements"] = elements
    return message


def test_validate_request_accepts_a_10k_element_configure_and_finds_the_bad_one() -> None:
    message = _big_configure(10_000)
    validate_request(message)
    message["body"]["elements"][9_998]["location"] = [0.0, 0.0]
    with pytest.raises(SchemaError) as caught:
        validate_request(message)
    assert caught.value.field == "body.elements.9998.location"


def test_fast_checks_accept_every_valid_golden_and_demo_item() -> None:
    # Otherwise the fast path would silently fall back to the slow one.
    from sidecar.simulation.sample_building import build_demo_building

    building = build_demo_building()
    for body in (golden("request.configure")["body"], building):
        assert all(map(fast_checks.element_ok, body["elements"]))
        assert all(map(fast_checks.space_ok, body["spaces"]))
        assert all(map(fast_checks.level_ok, body["levels"]))
    assert all(map(fast_checks.health_record_ok, golden("event.health")["body"]["items"]))
    assert fast_checks.alert_ok(golden("event.alert")["body"])
    assert fast_checks.alert_ok(golden("reply.ack")["body"]["alert"])
    assert fast_checks.ingest_request_ok(golden("request.ingest"))


# Hypothesis: the hand-written checks never accept what the schema rejects.

BOUNDARY_NUMBERS = st.sampled_from([-1, -0.5, 0, 0.5, 1, 1.5, 99.9, 100, 100.5, 101, 2**63, 1.0])
ODD_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=4),
    st.sampled_from(["", "sensor", "equipment", "room", "space", "ok", "critical", "active", "CO2", "co2",
                     "sim:", "x", "Cel"]),
    st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=4),
    st.tuples(st.integers(), st.integers(), st.integers()),
    st.dictionaries(st.sampled_from(["low", "high", "a"]), st.integers() | st.text(max_size=2), max_size=2),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    paths: list[tuple[Any, ...]] = []
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        paths.append(prefix + (key,))
        paths.extend(_paths(value, prefix + (key,)))
    return paths


@st.composite
def mutated(draw: st.DrawFn, originals: list[dict[str, Any]]) -> Any:
    item = copy.deepcopy(draw(st.sampled_from(originals)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = _paths(item)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent: Any = item
        for key in path[:-1]:
            parent = parent[key]
        if not isinstance(parent, (dict, list)):
            continue
        action = draw(st.sampled_from(["delete", "boundary", "odd"]))
        if action == "delete" and isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent[path[-1]] = draw(BOUNDARY_NUMBERS if action == "boundary" else ODD_VALUES)
    if draw(st.integers(min_value=0, max_value=9)) == 0:
        return draw(ODD_VALUES)
    return item


CONFIG = golden("request.configure")["body"]
HEALTH = golden("event.health")["body"]["items"]
ALERTS = [golden("event.alert")["body"], golden("reply.ack")["body"]["alert"]]
INGEST = [golden("request.ingest"), dict(golden("request.ingest"), body={"readings": []})]


# Each fast check, the schema it stands in for, and golden items to mutate.
EACH_FAST_CHECK = pytest.mark.parametrize("check, ref, originals", [
    (fast_checks.element_ok, "BuildingConfig.json#/$defs/element", CONFIG["elements"]),
    (fast_checks.space_ok, "BuildingConfig.json#/$defs/space", CONFIG["spaces"]),
    (fast_checks.level_ok, "BuildingConfig.json#/$defs/level", CONFIG["levels"]),
    (fast_checks.health_record_ok, "HealthRecord.json", HEALTH),
    (fast_checks.alert_ok, "Alert.json", ALERTS),
    (fast_checks.ingest_request_ok, "ingest.request.json", INGEST),
], ids=["element", "space", "level", "health", "alert", "ingest"])


@EACH_FAST_CHECK
def test_fast_checks_never_accept_what_the_schema_rejects(check: Callable[[object], bool], ref: str,
                                                         originals: list[dict[str, Any]]) -> None:
    schema_validator = validation._ref_validator(ref)

    @settings(max_examples=500, deadline=None)
    @given(mutated(originals))
    def run(item: Any) -> None:
        if check(item):
            assert schema_validator.is_valid(item), item

    run()


SINGLE_MUTATION_VALUES: list[Any] = [
    None, True, False, -1, -0.5, 0, 0.5, 1, 1.5, 99.9, 100, 100.5, 101, 2**63, -(2**63), 1.0, math.nan,
    math.inf, -math.inf, "", "x", "sensor", "equipment", "room", "CO2", "co2", "sim:", "no scheme", [], [1.0],
    [1.0, 2.0, 3.0], [1.0, 2.0, "3"], (1, 2, 3), {}, {"high": "1"}, {"low": 1},
]


@EACH_FAST_CHECK
def test_fast_checks_agree_with_the_schema_on_every_single_mutation(
        check: Callable[[object], bool], ref: str, originals: list[dict[str, Any]]) -> None:
    schema_validator = validation._ref_validator(ref)
    tried = 0
    for original in originals:
        for path in _paths(original):
            candidates: list[Any] = ["<delete>"] + SINGLE_MUTATION_VALUES
            for value in candidates:
                item = copy.deepcopy(original)
                parent: Any = item
                for key in path[:-1]:
                    parent = parent[key]
                if value == "<delete>":
                    if not isinstance(parent, dict):
                        continue
                    del parent[path[-1]]
                else:
                    parent[path[-1]] = value
                tried += 1
                if check(item):
                    assert schema_validator.is_valid(item), (path, value)
    assert tried > 100
