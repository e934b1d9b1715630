"""Persisting fitted analytics models: one ``.joblib`` file plus a ``.json`` card beside it holding
the model's kind, version, training metrics and creation time.

Training is a plain top-level function (``train_failure_model``) so the service can run it in a
``ProcessPoolExecutor``/``ThreadPoolExecutor`` without blocking its event loop, then ``load_model``
the result at start.
"""

from __future__ import annotations

import importlib
import json
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import ANALYTICS_VERSION

# Model files written before the offline models had their own subpackage name their classes by the
# old module path; ``load_model`` makes that path resolve to the module's new home.
_MOVED_MODULES = {"sidecar.analytics.failure": "sidecar.analytics.offline.failure"}


class ModelFileError(Exception):
    """A model file is missing, unreadable, or of another kind/version than expected."""


@dataclass
class ModelCard:
    kind: str
    version: str = ANALYTICS_VERSION
    created_ts: float = field(default_factory=time.time)
    metrics: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)


def save_model(model: Any, path: Path, card: ModelCard) -> Path:
    """Write ``model`` to ``path`` (atomically) and its card to ``path.with_suffix('.json')``."""
    import joblib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    joblib.dump({"card": asdict(card), "model": model}, tmp)
    tmp.replace(path)
    path.with_suffix(".json").write_text(json.dumps(asdict(card), indent=2, default=str), encoding="utf-8")
    return path


def load_model(path: Path, kind: str | None = None) -> tuple[Any, ModelCard]:
    """Reload a model saved by ``save_model``; checks its kind and major version."""
    import joblib

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    for old, new in _MOVED_MODULES.items():
        if old not in sys.modules:
            sys.modules[old] = importlib.import_module(new)
    try:
        blob = joblib.load(path)
        card = ModelCard(**blob["card"])
        model = blob["model"]
    except Exception as exc:  # a corrupt or foreign file must not crash the service
        raise ModelFileError(f"cannot read model {path}: {exc}") from exc
    if kind is not None and card.kind != kind:
        raise ModelFileError(f"{path} holds a {card.kind!r} model, expected {kind!r}")
    if card.version.split(".")[0] != ANALYTICS_VERSION.split(".")[0]:
        raise ModelFileError(f"{path} was written by analytics {card.version}, this is {ANALYTICS_VERSION}")
    return model, card


def train_failure_model(train_csv: str, label: str, out_path: str, drop: list[str] | None = None) -> dict[str, Any]:
    """Fit the failure model on a history CSV, estimate its metrics by CV, persist it.

    Returns the model card as a dict (picklable, for executors).
    """
    import pandas as pd

    from .failure import FailureModel, cross_validate

    frame = pd.read_csv(train_csv)
    model = FailureModel(drop=drop)
    metrics = cross_validate(model, frame, label, folds=5)
    model.fit(frame, label)
    card = ModelCard(kind="failure", metrics=metrics, params={"label": label, "threshold": model.threshold})
    save_model(model, Path(out_path), card)
    return asdict(card)
