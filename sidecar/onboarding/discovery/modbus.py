"""Modbus discovery from a vendor register map (CSV), validated, optionally read once.

Modbus has no discovery: vendors publish register maps. The CSV needs a header; column names are
matched loosely (case, spaces and a few synonyms):

======================  ================================================================
``name``                point name (also: point, parameter, tag) - required
``register``            0-based protocol address, or a Modicon reference (``40001`` = holding
                        0, ``30001`` = input 0; six digits: ``400001``) (also: address) - required
``type``                int16, uint16, int32, uint32, float32 (also: S16, U16, S32, U32, float,
                        real; default uint16) (also: data type, format)
``table``               holding or input (also: HR/IR, 3/4, function; default from a Modicon
                        reference, else holding)
``description``         free text
``units``               units as the vendor writes them (also: unit, uom)
``scale``, ``offset``   value = raw * scale + offset (also: multiplier, gain)
``word_order``          big or little, for 32-bit types (also: order, swap)
``unit``                Modbus unit id (also: slave, device id; default ``--unit``)
======================  ================================================================

Validation reports every problem with its line: missing columns or names, unparsable numbers,
unknown types or tables, addresses outside 0..65535 (a 32-bit type needs two registers), two
points on one register, names used twice. The proposed source is the sidecar's
``modbus://host:port/unit/register?type=...`` with only the non-default options.
"""
from __future__ import annotations

import asyncio
import csv
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidecar.onboarding.discovery import DiscoveredPoint, ucum

TYPES = {"int16": "int16", "s16": "int16", "short": "int16", "uint16": "uint16", "u16": "uint16",
         "word": "uint16", "int32": "int32", "s32": "int32", "long": "int32", "uint32": "uint32", "u32": "uint32",
         "dword": "uint32", "float32": "float32", "float": "float32", "real": "float32", "f32": "float32"}
WIDTH = {"int16": 1, "uint16": 1, "int32": 2, "uint32": 2, "float32": 2}
TABLES = {"holding": "holding", "hr": "holding", "3": "holding", "03": "holding", "4x": "holding",
          "input": "input", "ir": "input", "4": "input", "04": "input", "3x": "input"}
ORDERS = {"big": "big", "be": "big", "abcd": "big", "no": "big", "false": "big", "": "big",
          "little": "little", "le": "little", "cdab": "little", "yes": "little", "true": "little", "swap": "little"}
COLUMN_ALIASES = {
    "name": ("name", "point", "pointname", "parameter", "tag"),
    "register": ("register", "address", "registeraddress", "reg", "offset_address"),
    "type": ("type", "datatype", "format", "dtype"),
    "table": ("table", "function", "functioncode", "registertype", "fc"),
    "description": ("description", "desc", "comment"),
    "units": ("units", "unit_of_measure", "uom", "engunits"),
    "scale": ("scale", "multiplier", "gain", "factor"),
    "offset": ("offset",),
    "word_order": ("wordorder", "order", "swap", "wordswap"),
    "unit": ("unit", "unitid", "slave", "slaveid", "deviceid"),
}


class RegisterMapError(ValueError):
    """The register map has problems; ``problems`` lists them all, with line numbers."""

    def __init__(self, path: str, problems: list[str]):
        super().__init__(f"{path}: {len(problems)} problem(s) in the register map:\n  " + "\n  ".join(problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Register:
    line: int
    name: str
    description: str
    units: str
    unit: int
    table: str
    address: int
    data_type: str
    word_order: str
    scale: float
    offset: float

    def uri(self, host: str, port: int) -> str:
        options = []
        if self.data_type != "uint16":
            options.append(f"type={self.data_type}")
        if self.table != "holding":
            options.append(f"table={self.table}")
        if self.word_order != "big" and WIDTH[self.data_type] == 2:
            options.append(f"word_order={self.word_order}")
        if self.scale != 1.0:
            options.append(f"scale={self.scale:g}")
        if self.offset != 0.0:
            options.append(f"offset={self.offset:g}")
        query = f"?{'&'.join(options)}" if options else ""
        return f"modbus://{host}:{port}/{self.unit}/{self.address}{query}"


def _key(header: str) -> str:
    return "".join(ch for ch in header.lower() if ch.isalnum() or ch == "_").replace("_", "")


def _columns(headers: list[str]) -> dict[str, str]:
    """Our column -> the CSV's header."""
    by_key = {_key(h): h for h in headers if h}
    out: dict[str, str] = {}
    for ours, aliases in COLUMN_ALIASES.items():
        for alias in aliases:
            if _key(alias) in by_key and by_key[_key(alias)] not in out.values():
                out[ours] = by_key[_key(alias)]
                break
    return out


def parse_register_map(path: str | Path, default_unit: int = 1) -> list[Register]:
    """The registers of a map, or RegisterMapError with every problem found."""
    with open(path, encoding="utf-8-sig", newline="") as handle:
        sample = handle.read(4096)
        handle.seek(0)
        try:
            dialect: Any = csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        reader = csv.DictReader(handle, dialect=dialect)
        rows = list(reader)
        headers = list(reader.fieldnames or [])
    columns = _columns(headers)
    problems = [f"no '{c}' column (have: {', '.join(headers) or 'none'})" for c in ("name", "register")
                if c not in columns]
    if problems:
        raise RegisterMapError(str(path), problems)
    registers: list[Register] = []
    for line, row in enumerate(rows, start=2):
        def cell(name: str, row: dict[str, Any] = row) -> str:
            return str(row.get(columns.get(name, ""), "") or "").strip()

        if not any(str(v or "").strip() for v in row.values()):
            continue
        name = cell("name")
        before = len(problems)
        if not name:
            problems.append(f"line {line}: no name")
        data_type = TYPES.get(cell("type").lower() or "uint16")
        if data_type is None:
            problems.append(f"line {line}: unknown type {cell('type')!r} (int16, uint16, int32, uint32, float32)")
        table = TABLES.get(cell("table").lower()) if cell("table") else None
        if cell("table") and table is None:
            problems.append(f"line {line}: unknown table {cell('table')!r} (holding or input)")
        order = ORDERS.get(cell("word_order").lower())
        if order is None:
            problems.append(f"line {line}: unknown word order {cell('word_order')!r} (big or little)")
        numbers: dict[str, float] = {}
        for key, default in (("register", None), ("scale", 1.0), ("offset", 0.0), ("unit", float(default_unit))):
            text = cell(key)
            if not text and default is not None:
                numbers[key] = default
                continue
            try:
                numbers[key] = float(text)
            except ValueError:
                problems.append(f"line {line}: {key} {text!r} is not a number")
        if len(problems) > before:
            continue
        address = int(numbers["register"])
        if address != numbers["register"]:
            problems.append(f"line {line}: register {cell('register')!r} is not a whole number")
            continue
        if table is None:   # a Modicon reference says its table
            for base, kind in ((400001, "holding"), (300001, "input"), (40001, "holding"), (30001, "input")):
                if base <= address < base + (100000 if base > 99999 else 10000):
                    address, table = address - base, kind
                    break
            else:
                table = "holding"
        assert data_type is not None and order is not None
        if not 0 <= address <= 65536 - WIDTH[data_type]:
            problems.append(f"line {line}: register {address} out of range for {data_type} (0..{65536 - WIDTH[data_type]})")
            continue
        unit = int(numbers["unit"])
        if not 0 <= unit <= 247:
            problems.append(f"line {line}: unit id {unit} out of range (0..247)")
            continue
        registers.append(Register(line, name, cell("description"), cell("units"), unit, table, address, data_type,
                                  order, numbers["scale"], numbers["offset"]))
    names: dict[str, int] = {}
    used: dict[tuple[int, str, int], Register] = {}
    for reg in registers:
        if reg.name in names:
            problems.append(f"line {reg.line}: name {reg.name!r} already used on line {names[reg.name]}")
        names.setdefault(reg.name, reg.line)
        for word in range(reg.address, reg.address + WIDTH[reg.data_type]):
            other = used.get((reg.unit, reg.table, word))
            if other is not None:
                problems.append(f"line {reg.line}: {reg.table} register {word} (unit {reg.unit}) is also used by "
                                f"{other.name!r} on line {other.line}")
                break
            used[(reg.unit, reg.table, word)] = reg
    if problems:
        raise RegisterMapError(str(path), problems)
    return registers


def decode(reg: Register, words: list[int]) -> float:
    if reg.word_order == "little":
        words = list(reversed(words))
    raw = struct.pack(">" + "H" * len(words), *words)
    fmt = {"int16": ">h", "uint16": ">H", "int32": ">i", "uint32": ">I", "float32": ">f"}[reg.data_type]
    return float(struct.unpack(fmt, raw)[0]) * reg.scale + reg.offset


async def discover_modbus(register_map: str | Path, host: str, port: int, default_unit: int,
                          found: list[DiscoveredPoint], read: bool = False, timeout_s: float = 3.0,
                          progress: Callable[[str], None] | None = None) -> dict[str, int]:
    """Fill ``found`` from the map (present values too when ``read``); returns counts."""
    registers = parse_register_map(register_map, default_unit)
    stats = {"registers": len(registers), "read": 0, "read_errors": 0}
    values: dict[int, float | None] = {}
    if read:
        from pymodbus.client import AsyncModbusTcpClient

        client = AsyncModbusTcpClient(host, port=port, timeout=timeout_s, retries=0)
        try:
            if not await client.connect():
                raise OSError(f"cannot connect to Modbus device {host}:{port}")
            for index, reg in enumerate(registers):
                reader = client.read_input_registers if reg.table == "input" else client.read_holding_registers
                response = await asyncio.wait_for(reader(reg.address, count=WIDTH[reg.data_type], device_id=reg.unit),
                                                  timeout_s + 1.0)
                if response.isError():
                    stats["read_errors"] += 1
                    values[index] = None
                else:
                    values[index] = decode(reg, list(response.registers))
                    stats["read"] += 1
                if progress:
                    progress(f"{index + 1}/{len(registers)} registers read")
        finally:
            client.close()
    for index, reg in enumerate(registers):
        found.append(DiscoveredPoint(reg.name, reg.description, ucum(reg.units), f"{reg.table}-register",
                                     values.get(index), reg.uri(host, port), f"{host}:{port}/{reg.unit}"))
    return stats
