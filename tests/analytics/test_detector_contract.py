"""The one detector contract: every live detector has the same methods with the same signatures,
score_one learns nothing and gives the score score_learn_one then gives, forget starts a sensor
afresh; every detector module's examples run (doctest); the package layout stays one-way."""

from __future__ import annotations

import ast
import doctest
import inspect
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from sidecar.analytics.detectors import base, contextual, dual_vigilance, live, resonance, streaming
from sidecar.analytics.detectors.base import Detector, PerSensorDetector
from sidecar.analytics.detectors.contextual import (
    ContextualAnomalyDetector,
    DailyRecurrenceMask,
    EnsembleAnomalyDetector,
)
from sidecar.analytics.detectors.dual_vigilance import DualVigilanceDetector
from sidecar.analytics.detectors.resonance import ResonanceAnomalyDetector
from sidecar.analytics.detectors.streaming import StreamingAnomalyDetector

ROOT = Path(__file__).resolve().parents[2]
ANALYTICS = ROOT / "sidecar" / "analytics"

DETECTORS: dict[str, Callable[[], Detector]] = {
    "streaming": StreamingAnomalyDetector,
    "contextual": lambda: ContextualAnomalyDetector(warmup=60, rest=10),
    "resonance": lambda: ResonanceAnomalyDetector(warmup=60, rest=10),
    "vigilance": lambda: DualVigilanceDetector(warmup=208),
    "ensemble": lambda: EnsembleAnomalyDetector(warmup=60, recurrence=DailyRecurrenceMask()),
    "ensemble-vigilance": lambda: live.ensemble_vigilance(warmup=208, recurrence=DailyRecurrenceMask()),
    "live-streaming": lambda: live.build_anomaly_detector("streaming"),
}
CONTRACT = ("score_one", "learn_one", "score_learn_one", "score_many", "forget", "score_series")


def _series(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy daily cycle (one reading every 15 min) with a few spikes and a level shift."""
    rng = np.random.default_rng(seed)
    i = np.arange(n)
    x = 20.0 + 5.0 * np.sin(2 * np.pi * i / 96) + rng.normal(0, 0.3, n)
    x[rng.choice(n, 6, replace=False)] += 25.0
    x[int(0.7 * n):] += 8.0
    return x, 900.0 * i + 3600.0


@pytest.mark.parametrize("name", list(DETECTORS))
def test_every_live_detector_has_the_contract_s_signatures(name: str) -> None:
    det = DETECTORS[name]()
    assert isinstance(det, Detector)
    for method in CONTRACT:
        mine = inspect.signature(getattr(det, method))
        theirs = inspect.signature(getattr(Detector, method).__get__(det))
        assert [(p.name, p.kind, p.default) for p in mine.parameters.values()] == \
               [(p.name, p.kind, p.default) for p in theirs.parameters.values()], f"{name}.{method}"
    assert det.learn_one(1.0, 0.0, key="k") is det


@pytest.mark.parametrize("name", list(DETECTORS))
def test_score_one_is_the_next_score_and_learns_nothing(name: str) -> None:
    x, t = _series(900)
    probed, plain = DETECTORS[name](), DETECTORS[name]()
    expected = plain.score_series(x, t, key="s")
    got = []
    for v, ts in zip(x, t):
        peek = probed.score_one(float(v), float(ts), key="s")
        assert probed.score_one(float(v), float(ts), key="s") == peek
        assert probed.score_one(float(v) + 50.0, float(ts), key="other") >= 0.0  # a sensor never learnt
        score = probed.score_learn_one(float(v), float(ts), key="s")
        assert score == peek
        got.append(score)
    np.testing.assert_array_equal(got, expected)  # score_one changed no state
    assert np.count_nonzero(expected) > 0  # the series has something to find
    assert probed.score_many(["other"], [21.0], [t[-1] + 900.0])[0] == \
        DETECTORS[name]().score_many(["other"], [21.0], [t[-1] + 900.0])[0]


@pytest.mark.parametrize("name", list(DETECTORS))
def test_forget_starts_the_sensor_afresh_and_keeps_the_others(name: str) -> None:
    x, t = _series(700, seed=1)
    y, _ = _series(700, seed=2)
    det = DETECTORS[name]()
    det.score_many(["a", "b"] * 400, np.column_stack([x[:400], y[:400]]).ravel(), np.repeat(t[:400], 2))
    det.forget("a")
    det.forget("never-seen")
    np.testing.assert_array_equal(det.score_series(x, t, key="a"), DETECTORS[name]().score_series(x, t, key="a"))
    fresh = DETECTORS[name]()
    fresh.score_series(y[:400], t[:400], key="b")
    np.testing.assert_array_equal(det.score_series(y[400:], t[400:], key="b"),
                                  fresh.score_series(y[400:], t[400:], key="b"))


def test_per_sensor_detectors_share_one_base() -> None:
    for cls in (ContextualAnomalyDetector, ResonanceAnomalyDetector, DualVigilanceDetector):
        assert issubclass(cls, PerSensorDetector)
        for method in ("set_warmup", "score_many", "forget"):
            assert method not in vars(cls), f"{cls.__name__} redefines {method}"
    with pytest.raises(ValueError, match="timestamps has shape"):
        ResonanceAnomalyDetector().score_many(["a", "b"], [1.0, 2.0], [0.0])


@pytest.mark.parametrize("module", [base, streaming, contextual, resonance, dual_vigilance, live],
                         ids=lambda m: m.__name__.rsplit(".", 1)[1])
def test_the_detector_modules_examples_run(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS, verbose=False)  # type: ignore[arg-type]
    assert result.failed == 0
    assert result.attempted > 0
    for name, cls in vars(module).items():
        if inspect.isclass(cls) and cls.__module__ == module.__name__ and issubclass(cls, Detector) \
                and not inspect.isabstract(cls):
            assert ">>>" in (cls.__doc__ or ""), f"{name} has no example"


def _imports(path: Path) -> set[str]:
    """Modules a file imports (relative imports resolved), as import_cycles.py reads them."""
    rel = path.relative_to(ROOT).with_suffix("")
    package = list(rel.parts[:-1])
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            parts = package[: len(package) - node.level + 1] if node.level else []
            mod = ".".join(parts + ([node.module] if node.module else []))
            out.add(mod)
            out.update(f"{mod}.{a.name}" for a in node.names)
    return out


def test_the_analytics_layout_runs_one_way() -> None:
    """Detectors never import the offline models; the models never import the CLI."""
    for path in (ANALYTICS / "detectors").glob("*.py"):
        bad = {m for m in _imports(path) if m.startswith("sidecar.analytics.offline")}
        assert not bad, f"{path.name} imports {bad}"
    for path in (ANALYTICS / "offline").glob("*.py"):
        if path.name != "cli.py":
            bad = {m for m in _imports(path) if m.startswith("sidecar.analytics.offline.cli")}
            assert not bad, f"{path.name} imports the CLI"


def test_the_settings_import_no_numpy() -> None:
    """The settings read the live models' names before anything heavy loads."""
    code = ("import sys; import sidecar.alarms.settings, sidecar.maintenance.settings, "
            "sidecar.analytics.detectors.live; "
            "print(sorted(m for m in ('numpy', 'pandas', 'sklearn') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
