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


def brick_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} brick", description="Brick 1.4 models in and out.")
    commands = parser.add_subparsers(dest="action", metavar="export|import", required=True)
    export = commands.add_parser("export", help="BuildingConfig JSON -> Brick Turtle")
    export.add_argument("building", help="BuildingConfig JSON (e.g. from `sample-building`)")
    export.add_argument("--output", default="-", help="Turtle file to write ('-', the default, is stdout)")
    export.add_argument("--validate", action="store_true",
                        help="check the model against Brick's SHACL shapes (brickschema; about a minute)")
    imported = commands.add_parser("import", help="Brick Turtle -> BuildingConfig JSON (sensor bindings)")
    imported.add_argument("model", help="Brick model (Turtle)")
    imported.add_argument("--output", default="-", help="JSON file to write ('-', the default, is stdout)")
    imported.add_argument("--building-id", help="building_id to use when the model does not say")
    args = parser.parse_args(argv)

    from sidecar.onboarding import brick

    if args.action == "export":
        try:
            building = _read_building(args.building)
        except (OSError, ValueError) as error:
            print(f"{PROG} brick export: cannot read {args.building}: {error}", file=sys.stderr)
            return 2
        graph = brick.export_graph(building)
        _write_text(args.output, str(graph.serialize(format="turtle")))
        points = sum(1 for e in building.get("elements", []) if "sensor" in e)
        print(f"brick export: {len(graph)} triples, {points} points", file=sys.stderr)
        if args.validate:
            conforms, report = brick.validate(graph)
            print(f"brick export: SHACL {'conforms' if conforms else 'does NOT conform'}", file=sys.stderr)
            if not conforms:
                print(report, file=sys.stderr)
                return 1
        return 0
    try:
        with open(args.model, encoding="utf-8") as handle:
            text = handle.read()
        building = brick.import_turtle(text, args.building_id)
    except (OSError, brick.BrickError) as error:
        print(f"{PROG} brick import: {error}", file=sys.stderr)
        return 2
    _write_text(args.output, json.dumps(building, ensure_ascii=False, indent=1) + "\n")
    sensors = sum(1 for e in building["elements"] if "sensor" in e)
    print(f"brick import: {len(building['spaces'])} spaces, {len(building['elements']) - sensors} equipment, "
          f"{sensors} sensors bound", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    """``argv[0]`` is the command (``sample-building``, ``brick`` or ``discover``)."""
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "sample-building":
        return sample_building_main(rest)
    if command == "brick":
        return brick_main(rest)
    print(f"{PROG}: unknown onboarding command {command!r}", file=sys.stderr)
    return 2
