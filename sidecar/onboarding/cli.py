"""``python -m sidecar sample-building|brick|discover``: the onboarding commands.

Heavy imports (rdflib, scikit-learn, bacpypes3) happen inside each command, so ``--help`` is fast.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

PROG = "revitpyiot-sidecar"


def _write_text(output: str, text: str) -> None:
    if output == "-":
        sys.stdout.write(text)
        return
    path = Path(output)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def _read_building(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        building: dict[str, Any] = json.load(handle)
    return building


def sample_building_main(argv: list[str]) -> int:
    from sidecar.onboarding.sample import demo_building_json

    parser = argparse.ArgumentParser(prog=f"{PROG} sample-building",
                                     description="Write the demo building's configuration (the `configure` "
                                                 "body, a BuildingConfig) as JSON.")
    parser.add_argument("--output", default="-", help="file to write ('-', the default, is stdout)")
    parser.add_argument("--seed", type=int, default=7, help="random seed (default: 7, the shipped building)")
    args = parser.parse_args(argv)
    text = demo_building_json(args.seed)
    _write_text(args.output, text)
    if args.output != "-":
        building = json.loads(text)
        sensors = sum(1 for e in building["elements"] if "sensor" in e)
        print(f"wrote {args.output}: {len(building['levels'])} levels, {len(building['spaces'])} spaces, "
              f"{len(building['elements']) - sensors} equipment, {sensors} sensors", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    """``argv[0]`` is the command (``sample-building``, ``brick`` or ``discover``)."""
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "sample-building":
        return sample_building_main(rest)
    print(f"{PROG}: unknown onboarding command {command!r}", file=sys.stderr)
    return 2
