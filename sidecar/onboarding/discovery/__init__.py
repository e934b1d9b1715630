"""Discovery: what a network has to offer, as a point list.

``bacnet``: Who-Is / I-Am, each device's object-list, then name, description, units and present
value by ReadPropertyMultiple (ReadProperty where a device has no RPM). ``mqtt``: listen on a
wildcard for a while and describe each topic's payload (number, JSON paths, SenML records).
``modbus``: a vendor register-map CSV, validated, optionally read once.

Every protocol fills the same ``DiscoveredPoint`` list, which ``write_point_list`` saves as CSV and
JSON with the proposed ``source`` URI a sensor can be bound to. The list is filled as points are
found, so a run stopped with Ctrl-C still writes what it has.
"""
from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TextIO

# BACnet engineering units (bacpypes3 names) and common spellings -> UCUM, the sidecar's units.
UCUM: dict[str, str] = {
    "degrees-celsius": "Cel", "degc": "Cel", "°c": "Cel", "c": "Cel", "cel": "Cel",
    "degrees-fahrenheit": "[degF]", "degf": "[degF]", "°f": "[degF]", "degrees-kelvin": "K",
    "percent": "%", "percent-relative-humidity": "%", "%rh": "%", "%": "%",
    "parts-per-million": "ppm", "ppm": "ppm", "parts-per-billion": "ppb", "ppb": "ppb",
    "kilowatts": "kW", "kw": "kW", "watts": "W", "w": "W", "kilowatt-hours": "kW.h", "kwh": "kW.h",
    "pascals": "Pa", "pa": "Pa", "kilopascals": "kPa", "kpa": "kPa", "bars": "bar",
    "liters-per-second": "L/s", "l/s": "L/s", "cubic-meters-per-hour": "m3/h", "m3/h": "m3/h",
    "cubic-meters": "m3", "m3": "m3", "amperes": "A", "a": "A", "volts": "V", "v": "V", "hertz": "Hz",
    "hz": "Hz", "millimeters-per-second": "mm/s", "mm/s": "mm/s", "luxes": "lx", "lux": "lx",
    "micrograms-per-cubic-meter": "ug/m3", "ug/m3": "ug/m3", "µg/m3": "ug/m3",
}


def ucum(unit: str | None) -> str:
    """A unit as the sidecar writes it (UCUM) when known, else as given ("" for none)."""
    if not unit:
        return ""
    text = str(unit).strip()
    return UCUM.get(text.lower(), "" if text.lower() in ("no-units", "none") else text)


@dataclass(slots=True)
class DiscoveredPoint:
    name: str
    description: str
    units: str
    object_type: str
    present_value: float | int | str | bool | None
    source: str          # proposed source URI (bacnet://..., mqtt://..., modbus://...)
    device: str = ""     # device instance, topic root or host/unit: where it was found

    def row(self) -> dict[str, Any]:
        return asdict(self)


COLUMNS = tuple(f.name for f in fields(DiscoveredPoint))


def write_point_list(points: Sequence[DiscoveredPoint], output: str | Path,
                     meta: dict[str, Any] | None = None) -> tuple[Path, Path]:
    """``output`` (with or without ``.csv``/``.json``) -> the CSV and JSON files written."""
    base = Path(output)
    if base.suffix.lower() in (".csv", ".json"):
        base = base.with_suffix("")
    base.parent.mkdir(parents=True, exist_ok=True)
    csv_path, json_path = base.with_suffix(".csv"), base.with_suffix(".json")
    rows = [p.row() for p in points]
    with open(csv_path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(COLUMNS))
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if v is None else v for k, v in row.items()})
    document = {"points": rows, **(meta or {})}
    json_path.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return csv_path, json_path


def read_point_list(path: str | Path) -> list[DiscoveredPoint]:
    """A point list written by ``write_point_list`` (its JSON or its CSV)."""
    path = Path(path)
    if path.suffix.lower() == ".json":
        rows = json.loads(path.read_text(encoding="utf-8"))["points"]
    else:
        with open(path, encoding="utf-8", newline="") as handle:
            rows = list(csv.DictReader(handle))
    return [DiscoveredPoint(**{k: row.get(k, "") for k in COLUMNS}) for row in rows]


class Progress:
    """A one-line progress report on stderr, at most every ``every_s`` seconds (and at the end)."""

    def __init__(self, what: str, stream: TextIO | None = None, every_s: float = 0.5, quiet: bool = False):
        self.what = what
        self.stream = stream or sys.stderr
        self.every_s = every_s
        self.quiet = quiet
        self.started = time.monotonic()
        self.last = 0.0

    def update(self, text: str, force: bool = False) -> None:
        now = time.monotonic()
        if self.quiet or (not force and now - self.last < self.every_s):
            return
        self.last = now
        self.stream.write(f"\r{self.what}: {text} ({now - self.started:.1f} s)")
        self.stream.flush()

    def done(self, text: str) -> None:
        if not self.quiet:
            self.stream.write(f"\r{self.what}: {text} ({time.monotonic() - self.started:.1f} s)\n")
            self.stream.flush()
