"""``python -m sidecar sample-building|brick|discover``: the onboarding commands.

Heavy imports (rdflib, scikit-learn, bacpypes3) happen inside each command, so ``--help`` is fast.
"""
from __future__ import annotations

import argparse
import asyncio
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
    from sidecar.simulation.sample_building import demo_building_json

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
    commands = parser.add_subparsers(dest="action", metavar="export|import|roles", required=True)
    export = commands.add_parser("export", help="BuildingConfig JSON -> Brick Turtle")
    export.add_argument("building", help="BuildingConfig JSON (e.g. from `sample-building`)")
    export.add_argument("--output", default="-", help="Turtle file to write ('-', the default, is stdout)")
    export.add_argument("--validate", action="store_true",
                        help="check the model against Brick's SHACL shapes (brickschema; about a minute)")
    imported = commands.add_parser("import", help="Brick Turtle -> BuildingConfig JSON (sensor bindings)")
    imported.add_argument("model", help="Brick model (Turtle)")
    imported.add_argument("--output", default="-", help="JSON file to write ('-', the default, is stdout)")
    imported.add_argument("--building-id", help="building_id to use when the model does not say")
    roles = commands.add_parser("roles", help="the AHU fault rules' inputs (sat, mat, oat, oa_damper...) found by "
                                              "Brick class, as JSON")
    roles.add_argument("model", help="Brick model (Turtle) or BuildingConfig JSON")
    roles.add_argument("--output", default="-", help="JSON file to write ('-', the default, is stdout)")
    args = parser.parse_args(argv)

    from sidecar.onboarding import brick

    if args.action == "roles":
        from dataclasses import asdict

        from rdflib import Graph

        from sidecar.onboarding.roles import resolve_building, resolve_graph

        try:
            if args.model.lower().endswith(".json"):
                found = resolve_building(_read_building(args.model))
            else:
                graph = Graph()
                graph.parse(args.model, format="turtle")
                found = resolve_graph(graph)
        except (OSError, ValueError, SyntaxError) as error:  # rdflib's BadSyntax is a SyntaxError
            print(f"{PROG} brick roles: cannot read {args.model}: {error}", file=sys.stderr)
            return 2
        _write_text(args.output, json.dumps([asdict(a) for a in found], ensure_ascii=False, indent=1) + "\n")
        print(f"brick roles: {len(found)} AHUs", file=sys.stderr)
        return 0

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
            try:
                conforms, report = brick.validate(graph)
            except ImportError as error:
                print(f"brick export: --validate needs brickschema (pip install 'revitpyiot[brick]'): {error}",
                      file=sys.stderr)
                return 2
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


def _range(text: str) -> tuple[int, int]:
    low, _, high = text.partition("-")
    return int(low), int(high or low)


def discover_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog=f"{PROG} discover",
                                     description="List a network's points as CSV and JSON (name, description, "
                                                 "units, object type, present value, proposed source URI). "
                                                 "Ctrl-C stops and keeps what was found.")
    protocols = parser.add_subparsers(dest="protocol", metavar="bacnet|mqtt|modbus|file", required=True)
    bacnet = protocols.add_parser("bacnet", help="BACnet/IP: Who-Is, object lists, properties")
    bacnet.add_argument("--address", required=True,
                        help="this machine's BACnet/IP address as host/prefix:port, e.g. 192.168.10.5/24:47808 "
                             "(the prefix gives the broadcast address Who-Is goes to)")
    bacnet.add_argument("--instance", type=int, default=4194000, help="our own device instance (default 4194000)")
    bacnet.add_argument("--range", type=_range, default=(0, 4194303), help="device instances LOW-HIGH (default all)")
    bacnet.add_argument("--target", action="append", default=[],
                        help="send a directed Who-Is to host:port (repeatable); default: broadcast")
    bacnet.add_argument("--bbmd", help="register as a foreign device with this BBMD (host:port) first")
    bacnet.add_argument("--who-is-s", type=float, default=3.0, help="how long to collect I-Ams (default 3 s)")
    bacnet.add_argument("--timeout-s", type=float, default=5.0, help="per request (default 5 s)")
    bacnet.add_argument("--batch", type=int, default=50, help="objects per ReadPropertyMultiple (default 50)")
    bacnet.add_argument("--parallel", type=int, default=8, help="devices read at once (default 8)")
    mqtt = protocols.add_parser("mqtt", help="MQTT: listen on a wildcard and describe the payloads")
    mqtt.add_argument("--host", default="127.0.0.1", help="broker host (default 127.0.0.1)")
    mqtt.add_argument("--port", type=int, default=1883, help="broker port (default 1883)")
    mqtt.add_argument("--topic", default="#", help="topic filter to listen on (default #)")
    mqtt.add_argument("--duration-s", type=float, default=30.0, help="how long to listen (default 30 s)")
    mqtt.add_argument("--username", help="broker user name")
    mqtt.add_argument("--password", help="broker password")
    mqtt.add_argument("--broker-name", help="name the broker this way in the proposed URIs (a [mqtt.brokers] "
                                            "table; default host[:port])")
    modbus = protocols.add_parser("modbus", help="Modbus TCP: a register-map CSV, validated (and read once)")
    modbus.add_argument("register_map", help="register map CSV (see docs/onboarding.md for the columns)")
    modbus.add_argument("--host", required=True, help="device host (the proposed URIs name it)")
    modbus.add_argument("--port", type=int, default=502, help="device port (default 502)")
    modbus.add_argument("--unit", type=int, default=1, help="unit id when the map has no unit column (default 1)")
    modbus.add_argument("--read", action="store_true", help="read every register once for its present value")
    modbus.add_argument("--timeout-s", type=float, default=3.0, help="per request when reading (default 3 s)")
    listed = protocols.add_parser("file", help="a point list from elsewhere (CSV or JSON with name, description, "
                                               "units and source columns), to classify and match")
    listed.add_argument("points", help="point list (our CSV/JSON, or a BMS export with those columns)")
    for sub in (bacnet, mqtt, modbus, listed):
        sub.add_argument("--output", default="points", help="files to write: OUTPUT.csv and OUTPUT.json "
                                                            "(default ./points)")
        sub.add_argument("--quiet", action="store_true", help="no progress line")
        sub.add_argument("--building", help="BuildingConfig JSON: also write OUTPUT.proposals.csv/.json (Brick class, "
                                            "quantity, unit, matched element, confidence per point)")
        sub.add_argument("--bind", help="with --building: write this BuildingConfig with the proposals at "
                                        "--min-confidence or above bound as sensors")
        sub.add_argument("--min-confidence", type=float, default=0.8,
                         help="proposals --bind accepts (default 0.8)")
    args = parser.parse_args(argv)

    from sidecar.onboarding.discovery import DiscoveredPoint, Progress, write_point_list

    found: list[DiscoveredPoint] = []
    progress = Progress(f"discover {args.protocol}", quiet=args.quiet)
    meta: dict[str, Any] = {"protocol": args.protocol}
    interrupted = False
    try:
        if args.protocol == "bacnet":
            from sidecar.onboarding.discovery.bacnet import BacnetDiscovery, discover_bacnet

            settings = BacnetDiscovery(address=args.address, device_instance=args.instance, low=args.range[0],
                                       high=args.range[1], targets=args.target, bbmd=args.bbmd,
                                       who_is_s=args.who_is_s, timeout_s=args.timeout_s, batch=args.batch,
                                       parallel=args.parallel)
            meta["devices"] = settings.devices
            meta["stats"] = settings.stats
            asyncio.run(discover_bacnet(settings, found, progress.update))
        elif args.protocol == "mqtt":
            from sidecar.onboarding.discovery.mqtt import MqttDiscovery, discover_mqtt

            listen = MqttDiscovery(host=args.host, port=args.port, topic=args.topic, duration_s=args.duration_s,
                                   username=args.username, password=args.password, broker=args.broker_name)
            meta["stats"] = listen.stats
            asyncio.run(discover_mqtt(listen, found, progress.update))
        elif args.protocol == "file":
            from sidecar.onboarding.discovery import read_point_list

            try:
                found.extend(read_point_list(args.points))
            except (KeyError, ValueError, TypeError) as error:
                print(f"{PROG} discover file: {args.points}: not a point list ({error})", file=sys.stderr)
                return 2
        else:
            from sidecar.onboarding.discovery.modbus import RegisterMapError, discover_modbus

            try:
                meta["stats"] = asyncio.run(discover_modbus(args.register_map, args.host, args.port, args.unit,
                                                            found, read=args.read, timeout_s=args.timeout_s,
                                                            progress=progress.update))
            except RegisterMapError as error:
                print(f"{PROG} discover modbus: {error}", file=sys.stderr)
                return 2
    except KeyboardInterrupt:
        interrupted = True
    except OSError as error:
        print(f"\n{PROG} discover {args.protocol}: {error}", file=sys.stderr)
        return 2
    meta["interrupted"] = interrupted
    csv_path, json_path = write_point_list(found, args.output, meta)
    progress.done(f"{len(found)} points{' (interrupted)' if interrupted else ''} -> {csv_path}, {json_path}")
    if args.building and found:
        _propose(found, args, csv_path)
    return 130 if interrupted else 0


def _propose(found: list[Any], args: argparse.Namespace, csv_path: Path) -> None:
    import csv

    from sidecar.onboarding.proposals import bind, propose

    building = _read_building(args.building)
    proposals = propose(found, building)
    rows = [p.row() for p in proposals]
    base = csv_path.with_suffix("")
    with open(f"{base}.proposals.csv", "w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    Path(f"{base}.proposals.json").write_text(json.dumps({"building_id": building.get("building_id"),
                                                          "proposals": rows}, ensure_ascii=False, indent=1) + "\n",
                                              encoding="utf-8")
    sure = sum(1 for p in proposals if p.confidence >= args.min_confidence)
    print(f"proposals: {len(proposals)} ({sure} at confidence >= {args.min_confidence}) -> {base}.proposals.csv, "
          f"{base}.proposals.json", file=sys.stderr)
    if args.bind:
        bound = bind(building, proposals, args.min_confidence)
        added = len(bound["elements"]) - len(building.get("elements", []))
        _write_text(args.bind, json.dumps(bound, ensure_ascii=False, indent=1) + "\n")
        print(f"bound {added} sensors -> {args.bind}", file=sys.stderr)


def main(argv: list[str]) -> int:
    """``argv[0]`` is the command (``sample-building``, ``brick`` or ``discover``)."""
    command, rest = (argv[0], argv[1:]) if argv else ("", [])
    if command == "sample-building":
        return sample_building_main(rest)
    if command == "brick":
        return brick_main(rest)
    if command == "discover":
        return discover_main(rest)
    print(f"{PROG}: unknown onboarding command {command!r}", file=sys.stderr)
    return 2
