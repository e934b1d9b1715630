"""The one settings reader: typed values out of a TOML table, with one-line errors naming the setting.

Every config section (``[sidecar]``, ``[alerts]``, ``[historian]``, ``[mqtt]``, ``[cloud.aws]``...) is a
frozen dataclass built by a ``parse`` function that reads its table through ``Table``. A wrong
type or value raises ``SettingsError`` whose message starts with the setting's dotted name
(``historian.flush_rows: must be a positive number, got -1``); the CLI prints it as is.

``Table`` remembers which keys were read, so after parsing a section ``unknown()`` names the keys
nobody asked for (a typo in a setting name must not silently do nothing).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
_MISSING: Any = object()


class SettingsError(ValueError):
    """A setting has the wrong type or value; the message names it."""


def _describe(kinds: Sequence[type]) -> str:
    return "/".join(k.__name__ for k in kinds)


def _fmt(x: float) -> str:
    return "inf" if x == math.inf else f"{x:g}"


class Table:
    """A read-only view of one TOML table. ``where`` is its dotted name in errors
    (``mqtt.brokers.plant``)."""

    __slots__ = ("children", "raw", "read", "where")

    def __init__(self, raw: Any, where: str):
        if raw is None:
            raw = {}
        if not isinstance(raw, Mapping):
            raise SettingsError(f"[{where}] must be a table")
        self.raw: Mapping[str, Any] = raw
        self.where = where
        self.read: set[str] = set()
        self.children: list[Table] = []   # nested tables handed out, for ``unknown_all``

    # -- plumbing -----------------------------------------------------------------------------
    def name(self, key: str) -> str:
        return f"{self.where}.{key}" if self.where else key

    def fail(self, key: str, message: str) -> SettingsError:
        return SettingsError(f"{self.name(key)}: {message}")

    def has(self, key: str) -> bool:
        return key in self.raw

    def keys(self) -> list[str]:
        return list(self.raw)

    def get(self, key: str, kinds: type | tuple[type, ...], default: Any = None, expected: str | None = None) -> Any:
        """The raw value of ``key`` checked against ``kinds`` (a boolean is never a number)."""
        self.read.add(key)
        if key not in self.raw:
            return default
        value = self.raw[key]
        types = kinds if isinstance(kinds, tuple) else (kinds,)
        wanted = expected or _describe(types)
        if isinstance(value, bool) and bool not in types:
            raise self.fail(key, f"expected {wanted}, got a boolean")
        if not isinstance(value, types):
            raise self.fail(key, f"expected {wanted}, got {type(value).__name__}")
        return value

    def unknown(self, known: Iterable[str] = ()) -> list[str]:
        """Keys present in the table that were never read (nor listed in ``known``)."""
        return sorted(set(self.raw) - self.read - set(known))

    def unknown_all(self) -> list[str]:
        """Dotted names of the unknown keys here and in every nested table read through this one."""
        names = [self.name(key) for key in self.unknown()]
        for child in self.children:
            names.extend(child.unknown_all())
        return names

    def refuse_unknown(self, known: Iterable[str] = ()) -> None:
        """Raise for keys never read: for sections that have always refused unknown keys."""
        extra = self.unknown(known)
        if extra:
            allowed = sorted(self.read | set(known))
            raise SettingsError(f"[{self.where}]: unknown key(s) {', '.join(extra)}; known: {', '.join(allowed)}")

    # -- typed getters --------------------------------------------------------------------------
    def text(self, key: str, default: T = None, non_empty: bool = False) -> str | T:  # type: ignore[assignment]
        value = self.get(key, str, _MISSING)
        if value is _MISSING:
            return default
        if non_empty and not value:
            raise self.fail(key, "must be a non-empty string")
        return str(value)

    def choice(self, key: str, options: Sequence[str], default: str) -> str:
        value = self.get(key, str, default)
        if value not in options:
            raise self.fail(key, f"must be one of {', '.join(options)}, got {value!r}")
        return str(value)

    def flag(self, key: str, default: bool) -> bool:
        return bool(self.get(key, bool, default))

    def number(self, key: str, default: T, low: float = -math.inf, high: float = math.inf,
               above: bool = False) -> float | T:
        """A finite number in [low, high] (``above``: strictly greater than ``low``); an infinite
        default stays allowed as the "never" value."""
        value = self.get(key, (int, float), _MISSING)
        if value is _MISSING:
            return default
        value = float(value)
        low_ok = value > low if above else value >= low
        if not (math.isfinite(value) and low_ok and value <= high):
            raise self.fail(key, f"{_range_text(low, high, above)}, got {value!r}")
        return value

    def positive(self, key: str, default: T) -> float | T:
        return self.number(key, default, 0.0, above=True)

    def integer(self, key: str, default: T, low: int | None = None, high: int | None = None,
                expected: str | None = None) -> int | T:
        value = self.get(key, int, _MISSING, expected)
        if value is _MISSING:
            return default
        if (low is not None and value < low) or (high is not None and value > high):
            raise self.fail(key, f"must be an integer in [{low if low is not None else '-inf'}, "
                                 f"{high if high is not None else 'inf'}], got {value!r}")
        return int(value)

    def port(self, key: str, default: T, allow_zero: bool = False) -> int | T:
        """A TCP/UDP port: 1..65535 (0 too with ``allow_zero``: any free port)."""
        return self.integer(key, default, 0 if allow_zero else 1, 65535)

    def strings(self, key: str, default: Sequence[str] = ()) -> tuple[str, ...]:
        """A list of strings (one string is accepted as a list of one)."""
        value = self.get(key, (list, str), _MISSING)
        if value is _MISSING:
            return tuple(default)
        if isinstance(value, str):
            return (value,)
        if not all(isinstance(v, str) for v in value):
            raise self.fail(key, "must be a list of strings")
        return tuple(value)

    def string_map(self, key: str) -> dict[str, str]:
        raw = self.mapping(key)
        if not all(isinstance(v, str) for v in raw.values()):
            raise self.fail(key, "values must be strings")
        return {str(k): str(v) for k, v in raw.items()}

    def mapping(self, key: str) -> Mapping[str, Any]:
        """A nested table as a plain mapping, for a free-form map or a section parsed elsewhere."""
        self.read.add(key)
        value = self.raw.get(key)
        if value is not None and not isinstance(value, Mapping):
            raise SettingsError(f"[{self.name(key)}] must be a table")
        return value or {}

    def table(self, key: str) -> Table:
        child = Table(self.mapping(key), self.name(key))
        self.children.append(child)
        return child

    def tables(self, key: str) -> dict[str, Table]:
        """``[where.key.<name>]`` tables by name."""
        out = {}
        for name, value in self.mapping(key).items():
            child = Table(value, f"{self.name(key)}.{_quoted(str(name))}")
            self.children.append(child)
            out[str(name)] = child
        return out

    def array(self, key: str) -> list[Table]:
        """``[[where.key]]`` tables."""
        value = self.get(key, list, [])
        out = []
        for i, raw in enumerate(value):
            if not isinstance(raw, Mapping):
                raise SettingsError(f"{self.name(key)}[{i}]: must be a table")
            out.append(Table(raw, f"{self.name(key)}[{i}]"))
        self.children.extend(out)
        return out


def _quoted(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else f'"{name}"'


def _range_text(low: float, high: float, above: bool) -> str:
    if high == math.inf:
        if low == 0.0 and above:
            return "must be a positive number"
        if low == -math.inf:
            return "must be a finite number"
        return f"must be a number {'above' if above else '>='} {_fmt(low)}"
    return f"must be a number in {'(' if above else '['}{_fmt(low)}, {_fmt(high)}]"


def first(*values: T | None, default: T) -> T:
    """The first value that is set (not None): how a per-sensor override, a URI query and a
    section default are layered."""
    for value in values:
        if value is not None:
            return value
    return default
