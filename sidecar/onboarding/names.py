"""BMS point names into words: ``EBU3B_RM_4136_ZN_T`` -> ``rm 4136 zone temperature``.

A point name is split at separators, case changes and letter/digit boundaries; each piece is
looked up in a table of the abbreviations building automation vendors use (``SAT``, ``ZN``,
``DMPR``, ``CHW``, ``VFD``...). Multi-letter run-together codes (``SAT``, ``OAT``, ``HWS``) expand
to several words. ``tokens`` keeps the numbers (the matcher needs room numbers and marks);
``words`` drops them (the classifier does not care which room).
"""
from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

# Abbreviation -> canonical words. Lower-case keys; values are space-separated words.
ABBREVIATIONS: dict[str, str] = {
    # media and air streams
    "sa": "supply air", "sup": "supply", "sply": "supply", "supp": "supply", "supply": "supply",
    "da": "supply air", "dis": "supply", "disch": "supply", "discharge": "supply", "dat": "supply air temperature",
    "ra": "return air", "ret": "return", "rtn": "return", "rat": "return air temperature",
    "ma": "mixed air", "mix": "mixed", "mat": "mixed air temperature", "mixed": "mixed",
    "oa": "outside air", "osa": "outside air", "oat": "outside air temperature", "outdoor": "outside",
    "out": "outside", "ext": "outside", "amb": "outside", "ambient": "outside",
    "ea": "exhaust air", "exh": "exhaust", "eat": "exhaust air temperature",
    "sat": "supply air temperature", "sas": "supply air setpoint",
    "chw": "chilled water", "chws": "chilled water supply", "chwr": "chilled water return",
    "chwst": "chilled water supply temperature", "chwrt": "chilled water return temperature",
    "hw": "hot water", "hws": "hot water supply", "hwr": "hot water return", "lthw": "hot water",
    "hwst": "hot water supply temperature", "hwrt": "hot water return temperature", "heating": "heating",
    "cw": "condenser water", "cws": "condenser water supply", "cwr": "condenser water return",
    "cdw": "condenser water", "mtws": "hot water supply",
    "wtr": "water", "water": "water", "air": "air", "lvg": "leaving", "ent": "entering",
    "flow": "flow", "flo": "flow", "fl": "flow", "cfm": "flow", "airflow": "air flow", "lps": "flow",
    # quantities
    "t": "temperature", "temp": "temperature", "tmp": "temperature", "tem": "temperature",
    "temperature": "temperature", "ztmp": "zone temperature", "zat": "zone air temperature",
    "zt": "zone temperature", "rmt": "room temperature", "spt": "setpoint", "tt": "temperature",
    "h": "humidity", "hum": "humidity", "humidity": "humidity", "rh": "humidity", "mt": "humidity",
    "co2": "co2", "con": "co2", "carbon": "co2", "at": "air quality",
    "p": "pressure", "pr": "pressure", "press": "pressure", "pres": "pressure", "sp": "setpoint",
    "dp": "differential pressure", "dpt": "differential pressure", "pdt": "differential pressure",
    "static": "static pressure", "stat": "static pressure", "pt": "pressure",
    "pos": "position", "position": "position", "dmpr": "damper", "dpr": "damper", "dmp": "damper",
    "damper": "damper", "msi": "damper", "mso": "damper", "msu": "damper",
    "kw": "power", "pwr": "power", "power": "power", "jt": "power", "watts": "power",
    "kwh": "energy", "energy": "energy", "jq": "energy", "nrg": "energy",
    "a": "current", "amp": "current", "amps": "current", "cur": "current", "current": "current",
    "it": "current", "v": "voltage", "volt": "voltage", "voltage": "voltage", "batt": "battery",
    "vib": "vibration", "vibr": "vibration", "vibration": "vibration", "vt": "vibration",
    "spd": "speed", "speed": "speed", "freq": "frequency", "hz": "frequency",
    "occ": "occupancy", "occupancy": "occupancy", "pir": "occupancy", "ot": "occupancy", "people": "occupancy",
    "lux": "illuminance", "lum": "illuminance", "voc": "voc", "tvoc": "voc", "pm25": "pm25", "ft": "flow",
    # setpoints, commands, states
    "stpt": "setpoint", "setpt": "setpoint", "setp": "setpoint", "setpoint": "setpoint",
    "csp": "cooling setpoint", "hsp": "heating setpoint", "clgsp": "cooling setpoint",
    "htgsp": "heating setpoint", "actclgsp": "cooling setpoint", "acthtgsp": "heating setpoint",
    "cmd": "command", "c": "command", "command": "command", "o": "output",
    "sts": "status", "sta": "status", "st": "status", "status": "status", "s": "status",
    "ss": "start stop", "start": "start", "stop": "stop", "run": "run", "enable": "enable", "en": "enable",
    "alm": "alarm", "alarm": "alarm", "alrm": "alarm", "flt": "fault", "fault": "fault", "trip": "alarm",
    "hi": "high", "high": "high", "lo": "low", "low": "low", "max": "max", "mx": "max", "min": "min",
    "mn": "min", "av": "average", "avg": "average",
    "htg": "heating", "heat": "heating", "clg": "cooling", "cool": "cooling", "cooling": "cooling",
    "rhv": "reheat valve", "reheat": "reheat", "vlv": "valve", "valve": "valve", "hwv": "heating valve",
    "adj": "adjust", "ovr": "override", "override": "override", "mode": "mode",
    "smk": "smoke", "smoke": "smoke", "request": "request", "req": "request", "demand": "demand",
    # equipment and places
    "ahu": "air handling unit", "ah": "air handling unit", "rtu": "air handling unit",
    "vav": "vav", "fcu": "fan coil unit", "fan": "fan", "sf": "supply fan", "rf": "return fan",
    "ef": "exhaust fan", "vfd": "drive", "vsd": "drive", "chlr": "chiller", "ch": "chiller",
    "chiller": "chiller", "blr": "boiler", "boiler": "boiler", "ct": "cooling tower",
    "pmp": "pump", "pump": "pump", "chwp": "chilled water pump", "hwp": "hot water pump",
    "cwp": "condenser water pump", "hx": "heat exchanger", "em": "electricity meter", "wm": "water meter",
    "hm": "heat meter", "mtr": "meter", "meter": "meter",
    "zn": "zone", "zone": "zone", "z": "zone", "rm": "room", "room": "room", "space": "zone",
    "spc": "zone", "spa": "zone", "area": "zone", "flr": "floor", "lvl": "level",
    "filt": "filter", "filter": "filter", "coil": "coil", "cc": "cooling coil",
    "hc": "heating coil", "ph": "preheat", "preheat": "preheat",
    "airhandler": "air handling unit", "handler": "handling unit", "twr": "tower", "tower": "tower",
    "elec": "electric", "pid": "loop", "loop": "loop", "volts": "voltage", "vdc": "voltage", "cooled": "cooling",
    "heated": "heating", "common": "common", "set": "setpoint", "leak": "leak", "liquid": "leak", "input": "input", "control": "control", "level": "level",
}

# Pieces a run-together code (``CLGMAXFLO``, ``SUPFLO``, ``ZCON``) may be cut into.
_SEGMENTS = frozenset(k for k in ABBREVIATIONS if len(k) >= 2) | {"z"}

# A case change splits only next to two lower-case letters: "ZoneTemp", "AHUSupply" split,
# a stray lower-case letter in a run of capitals ("CLGMiNFLO") does not.
_CAMEL = re.compile(r"(?<=[a-z]{2})(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z]{2})")
_CHUNKS = re.compile(r"[^A-Za-z0-9.]+|(?<!\d)\.|\.(?!\d)")
# A piece is a chemical/particle name, a word, or an identifier that starts with a digit
# (``4136``, ``1A7``, ``3B``, ``2.14``): identifiers stay whole, they are room and unit codes.
_PIECES = re.compile(r"(?i)co2|pm2\.?5|[a-z]+|\d+(?:\.\d+)*(?:[a-z]\d*(?![a-z]))*")
NUMBER = "#"


def _fold(text: str) -> str:
    """Strip accents (``Büro`` -> ``Buro``, ``Ø`` -> ``O``) so vendors' ASCII names still match."""
    text = text.replace("Ø", "O").replace("ø", "o").replace("ß", "ss")
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _capitals(piece: str) -> bool:
    """Written in capitals, give or take a stray lower-case letter ("CLGMiNFLO")."""
    letters = [c for c in piece if c.isalpha()]
    return bool(letters) and sum(c.islower() for c in letters) <= len(letters) // 4


@lru_cache(maxsize=65536)
def _pieces(name: str) -> tuple[tuple[str, bool, bool], ...]:
    """(piece, alone, capitals) triples: ``alone`` when the piece is a whole chunk between
    separators or case changes, the only place a one-letter code (``_T``, ``_C``) means anything;
    ``capitals`` when it was written in capitals, the only place run-together codes
    (``CLGMAXFLO``) are cut up (``East`` is a word, not ``EA`` + ``ST``)."""
    out: list[tuple[str, bool, bool]] = []
    for chunk in _CHUNKS.split(_fold(name)):
        for part in _CAMEL.sub(" ", chunk).split():
            found = _PIECES.findall(part)
            out.extend((piece.lower().replace(".", "") if not piece[0].isdigit() else piece.lower(),
                        len(found) == 1, _capitals(piece)) for piece in found)
    return tuple(out)


def split_name(name: str) -> tuple[str, ...]:
    """Raw pieces, lower-case: ``SODA1R410_ASO`` -> ``soda 1r410 aso``; ``ZoneTemp2`` -> ``zone temp 2``."""
    return tuple(piece for piece, _alone, _caps in _pieces(name))


@lru_cache(maxsize=65536)
def segment(piece: str) -> tuple[str, ...] | None:
    """``clgmaxflo`` -> ``clg max flo``: the cut of an unknown run-together code into known pieces
    with the fewest parts, or None when there is none."""
    best: list[tuple[str, ...] | None] = [None] * (len(piece) + 1)
    best[0] = ()
    for end in range(1, len(piece) + 1):
        for start in range(max(0, end - 8), end):
            head = best[start]
            if head is not None and piece[start:end] in _SEGMENTS:
                candidate = head + (piece[start:end],)
                current = best[end]
                if current is None or len(candidate) < len(current):
                    best[end] = candidate
    found = best[len(piece)]
    return found if found is not None and len(found) > 1 else None


# Endings that make a word of an abbreviation ("Station", "Heater"): never a run-on code.
_WORD_ENDINGS = frozenset({"s", "es", "ed", "er", "ers", "ing", "ion", "ions", "al", "ly", "ure", "y", "ent", "ry"})


def _expand(piece: str, alone: bool, capitals: bool) -> tuple[str, ...]:
    if piece[0].isdigit():
        return (piece,)
    expansion = ABBREVIATIONS.get(piece) if (alone or len(piece) > 1) else None
    if expansion:
        return tuple(expansion.split())
    parts = segment(piece) if capitals and len(piece) >= 4 else None
    if parts:
        return tuple(word for part in parts for word in ABBREVIATIONS.get(part, part).split())
    # a known word with an unknown tail run on ("TempdacNUIP" -> temp + dac)
    for cut in range(len(piece) - 1, 3, -1):
        head = ABBREVIATIONS.get(piece[:cut])
        if head and piece[cut:] not in _WORD_ENDINGS:
            return (*head.split(), piece[cut:])
    return (piece,)


@lru_cache(maxsize=65536)
def tokens(name: str) -> tuple[str, ...]:
    """Pieces with abbreviations expanded; identifiers (``4136``, ``1a7``) kept as they are."""
    out: list[str] = []
    for piece, alone, capitals in _pieces(name):
        out.extend(_expand(piece, alone, capitals))
    return tuple(out)


def words(name: str) -> tuple[str, ...]:
    """``tokens`` without numbers: what the point *is*, not where."""
    return tuple(t for t in tokens(name) if not t[0].isdigit())


def expanded(name: str) -> str:
    """``words`` joined: the text the classifier's word features see."""
    return " ".join(words(name))


def numbers(name: str) -> tuple[str, ...]:
    """The numeric pieces of a name (room numbers, unit numbers, floor numbers)."""
    return tuple(piece for piece in split_name(name) if piece[0].isdigit())
