"""Rebuild ``sidecar/onboarding/data/brick_points.csv.gz`` from the Brick reference buildings.

The five reference buildings (EBU3B, Gates Hillman (GHC), Green Tech House (GTC), Rice Hall,
Soda Hall) were in the BrickSchema/Brick repository's ``examples/`` until commit 21d5d29 (April
2025); this reads them from that commit's parent in a local clone::

    python tests/onboarding/data/extract_brick_labels.py /path/to/Brick-clone

and writes one row per point: building, point name, Brick class (as the model states it; the
classifier maps old names onto its own label set). The point name is the BMS name the model
keeps: the entity's local name, Green Tech House's ``rdfs:label`` where it has one, and for Soda
Hall the BMS tag after the generated lower-case prefix (``flow_sensor_SODA1F1_VAV_AV`` ->
``SODA1F1_VAV_AV``); Soda Hall's zone points whose name is made from their class
(``temp_sensor_hvac_zone_R678``) carry no BMS name and are left out.
"""
from __future__ import annotations

import csv
import gzip
import re
import subprocess
import sys
from pathlib import Path

import rdflib
from rdflib.namespace import RDF, RDFS

COMMIT = "21d5d29f026c9f3e3dba226a511e66beeff2aa78^"
FILES = {"ebu3b": "ebu3b_brick.ttl", "ghc": "ghc_brick.ttl", "gtc": "gtc_brick.ttl", "rice": "rice_brick.ttl",
         "soda": "soda_brick.ttl"}
BRICK = "https://brickschema.org/schema/Brick#"
POINT_SUFFIXES = ("Sensor", "Setpoint", "Command", "Status", "Alarm", "Parameter", "Limit")
OUTPUT = Path(__file__).resolve().parents[3] / "sidecar" / "onboarding" / "data" / "brick_points.csv.gz"


def point_name(building: str, graph: rdflib.Graph, subject: rdflib.term.Node) -> str | None:
    local = str(subject).split("#", 1)[-1]
    if building == "gtc":
        label = next((str(o) for o in graph.objects(subject, RDFS.label)), "")
        return label or local.removeprefix("building:gtc/")
    if building == "soda":
        match = re.search(r"SOD[A-Z0-9_]*", local)
        return match.group(0) if match else None
    return local


def main(clone: str) -> int:
    rows: list[tuple[str, str, str]] = []
    for building, file_name in FILES.items():
        text = subprocess.run(["git", "-C", clone, "show", f"{COMMIT}:examples/{file_name}"], check=True,
                              capture_output=True, text=True).stdout
        graph = rdflib.Graph()
        graph.parse(data=text, format="turtle")
        for subject, cls in graph.subject_objects(RDF.type):
            name = str(cls).removeprefix(BRICK)
            if not str(cls).startswith(BRICK) or not name.endswith(POINT_SUFFIXES):
                continue
            point = point_name(building, graph, subject)
            if point:
                rows.append((building, point, name))
    rows.sort()
    with gzip.open(OUTPUT, "wt", encoding="utf-8", newline="\n", compresslevel=9) as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(("building", "name", "brick_class"))
        writer.writerows(rows)
    print(f"wrote {OUTPUT}: {len(rows)} points")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
