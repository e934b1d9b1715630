"""The one settings reader (``sidecar.settings.Table``): typed getters, one-line errors naming the
setting, and the unknown keys of a table and of the tables nested in it."""
from __future__ import annotations

import math
import re

import pytest

from sidecar.settings import SettingsError, Table, first


def test_typed_getters_and_their_errors() -> None:
    t = Table({"n": 3, "f": 2.5, "b": True, "s": "x", "l": ["a", "b"], "neg": -1}, "sec")
    assert t.integer("n", 0, 1, 5) == 3 and t.number("f", 0.0, 0.0, 3.0) == 2.5 and t.flag("b", False) is True
    assert t.text("s") == "x" and t.strings("l") == ("a", "b") and t.choice("s", ("x", "y"), "y") == "x"
    assert t.number("missing", math.inf) == math.inf and t.text("missing") is None
    for call, message in (
            (lambda: t.integer("f", 0), "sec.f: expected int, got float"),
            (lambda: t.integer("b", 0), "sec.b: expected int, got a boolean"),
            (lambda: t.number("b", 0.0), "sec.b: expected int/float, got a boolean"),
            (lambda: t.integer("n", 0, 5, 9), "sec.n: must be an integer in [5, 9], got 3"),
            (lambda: t.positive("neg", 1.0), "sec.neg: must be a positive number, got -1.0"),
            (lambda: t.number("f", 0.0, 0.0, 1.0), "sec.f: must be a number in [0, 1], got 2.5"),
            (lambda: t.number("n", 0.0, 3.0, above=True), "sec.n: must be a number above 3, got 3.0"),
            (lambda: t.choice("s", ("a", "b"), "a"), "sec.s: must be one of a, b, got 'x'"),
            (lambda: t.port("neg", 1), "sec.neg: must be an integer in [1, 65535], got -1"),
            (lambda: t.text("n"), "sec.n: expected str, got int"),
            (lambda: t.table("s"), "[sec.s] must be a table")):
        with pytest.raises(SettingsError, match=f"^{re.escape(message)}$"):
            call()


def test_unknown_keys_are_found_in_nested_tables() -> None:
    root = Table({"a": 1, "typo": 2, "hosts": {"h1": {"x": 1, "y": 2}}, "items": [{"k": 1, "z": 0}]}, "mqtt")
    root.integer("a", 0)
    for sub in root.tables("hosts").values():
        sub.integer("x", 0)
    for item in root.array("items"):
        item.integer("k", 0)
    assert root.unknown_all() == ["mqtt.typo", "mqtt.hosts.h1.y", "mqtt.items[0].z"]
    with pytest.raises(SettingsError, match=r"^\[mqtt\]: unknown key\(s\) typo; known: a, hosts, items$"):
        root.refuse_unknown()


def test_first_layers_overrides() -> None:
    assert first(None, 2.0, 3.0, default=9.0) == 2.0 and first(None, None, default="d") == "d"
    assert first(0.0, 1.0, default=5.0) == 0.0   # zero is a value, not "unset"
