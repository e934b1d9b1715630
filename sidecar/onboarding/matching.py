"""Point -> the Revit element it belongs to (a piece of equipment, or a room/space), with a
confidence.

Equipment is found by its mark, whatever the vendor did to the separators and leading zeros
(``AHU-01`` = ``AHU01`` = ``ahu1`` = ``AHU_1``; ``VAV-2-01`` = ``VAV201``), else by its kind and
number (``AirHandler1``, ``Chiller 2``: the tokenizer's expansions against the words of the
element's family, category and name), else by its name run together (``ChilledWaterPump01``). Rooms and spaces are found by number (``2.14`` = ``RM214`` =
``R2-14`` = ``Rm_2_14``), else by a name that only one room on the level has. The pieces an
equipment mark used are not read again as a room number (``VAV201`` is not room 2.01).

Confidence: mark 0.95, equipment name 0.9, kind and number 0.8, room number 0.9 (0.95 when the room's name is in the
point too), unique room name 0.6; halved when two candidates tie.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sidecar.onboarding import names

MARK = 0.95
NAME = 0.9
KIND_NUMBER = 0.8
ROOM_NUMBER = 0.9
ROOM_NUMBER_AND_NAME = 0.95
ROOM_NAME = 0.6

# Words that say what kind of equipment an element is, from its family / category / name.
KINDS = ("air handling unit", "vav", "chiller", "boiler", "pump", "cooling tower", "fan coil unit", "meter",
         "heat exchanger", "fan", "drive")


@dataclass(frozen=True, slots=True)
class Match:
    point: str
    unique_id: str | None  # the element (equipment) or space; None: nothing found
    kind: str              # "equipment", "space" or "none"
    confidence: float
    reason: str


def _strip_zeros(piece: str) -> str:
    return (piece.lstrip("0") or "0") if piece.isdigit() else piece


def _keys(pieces: Sequence[str]) -> set[str]:
    """A piece sequence as written and with leading zeros dropped, separators (and the dots of
    ``2.14``) gone."""
    return {"".join(pieces).replace(".", ""), "".join(_strip_zeros(p) for p in pieces).replace(".", "")}


def _runs(pieces: Sequence[str], longest: int = 7) -> dict[str, tuple[int, int]]:
    """Every contiguous run of up to ``longest`` pieces, joined (both key forms) -> its span."""
    out: dict[str, tuple[int, int]] = {}
    for start in range(len(pieces)):
        for end in range(start + 1, min(len(pieces), start + longest) + 1):
            for key in _keys(pieces[start:end]):
                out.setdefault(key, (start, end))
    return out


def _kind(words: Iterable[str]) -> str | None:
    text = " " + " ".join(words) + " "
    return next((k for k in KINDS if f" {k} " in text), None)


@dataclass
class _Equipment:
    unique_id: str
    mark_keys: set[str]
    name_keys: set[str]
    kind: str | None
    number: str | None
    words: tuple[str, ...] = ()   # its family, name and mark expanded: what tells two pumps apart
    digits: tuple[str, ...] = ()  # the numbers of its mark, leading zeros dropped: VAV-2-01 -> 2, 1


@dataclass
class _Space:
    unique_id: str
    number_keys: set[str]
    name_words: tuple[str, ...]
    level: str


class ElementMatcher:
    """Built once from a BuildingConfig; ``match(name, description)`` per point."""

    def __init__(self, building: dict[str, Any]) -> None:
        self.equipment: list[_Equipment] = []
        for element in building.get("elements", []):
            if element.get("kind") != "equipment":
                continue
            mark = str(element.get("mark") or "")
            pieces = names.split_name(mark)
            digits = [p for p in pieces if p[0].isdigit()]
            described = " ".join(str(element.get(k) or "") for k in ("family", "name", "category"))
            kind = _kind(names.words(described)) or _kind(names.words(mark))
            name_pieces = names.split_name(str(element.get("name") or "").split("(")[0])
            self.equipment.append(_Equipment(element["unique_id"], _keys(pieces) if pieces else set(),
                                             _keys(name_pieces) if len(name_pieces) >= 2 else set(), kind,
                                             _strip_zeros(digits[-1]) if digits else None,
                                             names.words(f"{described} {mark}"),
                                             tuple(_strip_zeros(d) for d in digits)))
        levels = {level["unique_id"]: level["name"] for level in building.get("levels", [])}
        self.spaces: list[_Space] = []
        for space in building.get("spaces", []):
            number = str(space.get("number") or "")
            self.spaces.append(_Space(space["unique_id"], _keys(names.split_name(number)) if number else set(),
                                      names.words(str(space.get("name") or "")),
                                      levels.get(str(space.get("level")), "")))
        self.by_mark: dict[str, list[_Equipment]] = {}
        for item in self.equipment:
            for key in item.mark_keys:
                if len(key) >= 2 and not key.isdigit():
                    self.by_mark.setdefault(key, []).append(item)
        self.by_name: dict[str, list[_Equipment]] = {}
        for item in self.equipment:
            for key in item.name_keys:
                self.by_name.setdefault(key, []).append(item)
        self.by_number: dict[str, list[_Space]] = {}
        for space in self.spaces:
            for key in space.number_keys:
                self.by_number.setdefault(key, []).append(space)

    def match(self, name: str, description: str = "", *, read_description: bool = True) -> Match:
        pieces = names.split_name(name)
        runs = _runs(pieces)
        # 1. an equipment mark, the longest run first (VAV201 before V201)
        hits: dict[str, tuple[_Equipment, tuple[int, int]]] = {}
        for key, span in sorted(runs.items(), key=lambda kv: kv[1][0] - kv[1][1]):
            for item in self.by_mark.get(key, []):
                hits.setdefault(item.unique_id, (item, span))
        if hits:
            longest = max(end - start for _item, (start, end) in hits.values())
            best = [item for item, (start, end) in hits.values() if end - start == longest]
            if len(best) == 1:
                return Match(name, best[0].unique_id, "equipment", MARK, "mark")
            return Match(name, best[0].unique_id, "equipment", MARK / 2, "mark (ambiguous)")
        # 2. the equipment's name, run together or not (``ChilledWaterPump01``, ``Main Incomer Meter``)
        by_name = {item.unique_id: item for key in runs for item in self.by_name.get(key, [])}
        if by_name:
            item = next(iter(by_name.values()))
            return Match(name, item.unique_id, "equipment", NAME if len(by_name) == 1 else NAME / 2, "name")
        # 3. equipment kind and number
        words = names.tokens(name) + names.tokens(description)
        kind = _kind(w for w in words if not w[0].isdigit())
        if kind is not None:
            digits = [_strip_zeros(w) for w in words if w.isdigit()]
            found = [item for item in self.equipment if item.kind == kind and item.number in digits]
            if len(found) > 1:   # "L2 VAV 1": the one whose mark's numbers the point has, in order
                sequence = "/" + "/".join(digits) + "/"
                in_order = [item for item in found if item.digits and "/" + "/".join(item.digits) + "/" in sequence]
                found = in_order or found
            if len(found) > 1:   # CHW pump 1 or HW pump 1: the one whose own words the point shares most
                said = set(words)
                overlap = [len(said & set(item.words)) for item in found]
                most = max(overlap)
                found = [item for item, n in zip(found, overlap) if n == most]
            if len(found) == 1:
                return Match(name, found[0].unique_id, "equipment", KIND_NUMBER, "kind and number")
        # 4. a room or space number
        rooms: dict[str, _Space] = {}
        for key in runs:
            if any(ch.isdigit() for ch in key):
                for space in self.by_number.get(key, []):
                    rooms.setdefault(space.unique_id, space)
        point_words = set(names.words(name)) | set(names.words(description))
        if rooms:
            ranked = sorted(rooms.values(), key=lambda s: -len(point_words & set(s.name_words)))
            named = bool(point_words & set(ranked[0].name_words))
            confidence = ROOM_NUMBER_AND_NAME if named else ROOM_NUMBER
            if len(ranked) > 1 and len(point_words & set(ranked[1].name_words)) == len(
                    point_words & set(ranked[0].name_words)):
                confidence /= 2
            return Match(name, ranked[0].unique_id, "space", confidence, "room number")
        # 5. a room name only one space has
        named_spaces = [s for s in self.spaces if s.name_words and set(s.name_words) <= point_words]
        if len(named_spaces) == 1:
            return Match(name, named_spaces[0].unique_id, "space", ROOM_NAME, "room name")
        if description and read_description:  # the description often says where the name does not
            seen = self.match(description, name, read_description=False)
            if seen.unique_id is not None:
                return Match(name, seen.unique_id, seen.kind, seen.confidence * 0.95, f"{seen.reason} (description)")
        return Match(name, None, "none", 0.0, "no match")

    def match_all(self, points: Iterable[tuple[str, str]]) -> list[Match]:
        return [self.match(name, description) for name, description in points]
