"""The one-way house around the alarms (issue 13): alert kinds are defined only in
``sidecar/alarms/record.py``, the alarms room imports nothing downstream of it, and the
maintenance engine and the plug-ins reach the pipeline only through ``sidecar.port``."""
from __future__ import annotations

import ast
from pathlib import Path

from sidecar.alarms.record import KINDS

SIDECAR = Path(__file__).resolve().parents[2] / "sidecar"
DOWNSTREAM = ("sidecar.pipeline", "sidecar.health", "sidecar.maintenance", "sidecar.plugins", "sidecar.service",
              "sidecar.port", "sidecar.cloud", "sidecar.dashboard")


def _imports(path: Path) -> set[str]:
    """Absolute names a module imports (every ``import``/``from``, lazy ones included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_alarms_room_imports_nothing_downstream() -> None:
    for path in sorted((SIDECAR / "alarms").glob("*.py")):
        bad = sorted(n for n in _imports(path) if n.startswith(DOWNSTREAM) or n == "sidecar.alerts")
        assert bad == [], f"{path.name} imports {bad}"


def test_alert_kinds_are_defined_only_in_the_alarms_record() -> None:
    defined = []
    for path in sorted(SIDECAR.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name) and target.id.startswith("KIND_") \
                            and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str) \
                            and node.value.value in KINDS:
                        defined.append(f"{path.relative_to(SIDECAR)}:{target.id}")
    assert defined and all(d.startswith("alarms/record.py:") for d in defined), defined


def test_maintenance_and_plugins_see_the_pipeline_only_through_the_port() -> None:
    for path in [SIDECAR / "plugins.py", *sorted((SIDECAR / "maintenance").glob("*.py"))]:
        text = path.read_text(encoding="utf-8")
        assert "sidecar.pipeline" not in _imports(path), path.name
        for reach in (".ring", ".alerts.", ".last_seen[", ".listener", ".health."):
            assert f"pipeline{reach}" not in text, f"{path.name} reaches into pipeline{reach}"
