"""The learned failure model of the live path: trained from the historian's history, persisted
under ``<data dir>/models/``, reloaded at start.

Rows: one per (equipment sensor with a critical limit, evaluation time every ``step_h``) of the
history's one-minute means; features: the trend evidence at that time (``z``, margin to the limit
in noise units, extrapolated change / margin, the slope's t statistic) plus the
sensor's quantity and equipment kind (categorical: one model serves every equipment type and
learns per type what a trend means). Label: the sensor crosses its critical limit within the
horizon after the evaluation time (rows already beyond it are left out). The classifier is the
analytics package's ``FailureModel`` (gradient boosting + isotonic calibration on out-of-fold
scores), so "p >= 0.7" keeps its meaning.

Training needs ``min_failures`` failure episodes (inside -> beyond the critical limit) in the
history; until then the engine runs the calibrated trend estimator (``trend.calibrate``).
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sidecar.maintenance.trend import Risk, Trend, crossing_risk, robust_trend

MODEL_KIND = "maintenance-failure"
MODEL_FILE = "maintenance-failure.joblib"
LABEL = "fails_within_horizon"
NUMERIC = ("z", "margin_sd", "reach", "slope_t")


@dataclass(frozen=True, slots=True)
class SensorHistory:
    sensor_id: str
    quantity: str
    equipment_kind: str
    low_critical: float
    high_critical: float
    ts: np.ndarray       # one-minute bucket times, ascending
    value: np.ndarray


def feature_row(trend: Trend, risk: Risk, quantity: str, equipment_kind: str, horizon_h: float) -> dict[str, Any]:
    margin = abs(risk.limit - trend.level) if math.isfinite(risk.limit) else math.inf
    clip = 50.0
    return {
        "z": float(np.clip(risk.z, -clip, clip)),
        "margin_sd": float(min(margin / trend.resid_sd, 1e3)),
        "reach": float(min(abs(trend.slope_h) * horizon_h / margin, 1e3)) if margin > 0 else 1e3,
        "slope_t": float(np.clip(abs(trend.slope_h) / trend.slope_se_h, 0, 1e3)) if trend.slope_se_h > 0 else 1e3,
        "quantity": quantity, "equipment_kind": equipment_kind,
    }


def failure_episodes(h: SensorHistory) -> int:
    beyond = (h.value > h.high_critical) | (h.value < h.low_critical)
    return int(np.sum(beyond[1:] & ~beyond[:-1]))


def training_table(histories: list[SensorHistory], horizon_h: float, window_h: float, step_h: float = 0.5,
                   min_span_h: float = 0.25) -> Any:
    import pandas as pd

    rows = []
    for h in histories:
        if len(h.ts) < 10:
            continue
        beyond = (h.value > h.high_critical) | (h.value < h.low_critical)
        t_end = h.ts[-1] - horizon_h * 3600.0       # the label needs the whole horizon
        t = h.ts[0] + window_h * 3600.0
        while t <= t_end:
            lo, hi = np.searchsorted(h.ts, t - window_h * 3600.0), np.searchsorted(h.ts, t, "right")
            k = hi - 1
            if hi - lo >= 6 and not beyond[k]:
                trend = robust_trend(h.ts[lo:hi], h.value[lo:hi], t)
                if trend is not None and trend.span_h >= min_span_h:
                    risk = crossing_risk(trend, h.low_critical, h.high_critical, horizon_h)
                    ahead = beyond[hi:np.searchsorted(h.ts, t + horizon_h * 3600.0, "right")]
                    row = feature_row(trend, risk, h.quantity, h.equipment_kind, horizon_h)
                    row[LABEL] = int(ahead.any())
                    rows.append(row)
            t += step_h * 3600.0
    return pd.DataFrame(rows)


class NotEnoughHistory(Exception):
    """Too few failure episodes (or rows) to train; the message says how many."""


def train(histories: list[SensorHistory], out_path: Path, horizon_h: float, window_h: float,
          min_failures: int) -> dict[str, Any]:
    """Build the table, cross-validate, fit and persist; returns the model card (as a dict).
    Raises ``NotEnoughHistory``. A top-level function: runs in an executor."""
    episodes = sum(failure_episodes(h) for h in histories)
    if episodes < min_failures:
        raise NotEnoughHistory(f"{episodes} failure episode(s) in history, {min_failures} needed")
    # Imported only now: pandas and scikit-learn load when there is something to train.
    from sidecar.analytics.offline.failure import FailureModel, cross_validate
    from sidecar.analytics.offline.models import ModelCard, save_model

    table = training_table(histories, horizon_h, window_h)
    positives = int(table[LABEL].sum()) if len(table) else 0
    if positives < 10 or len(table) - positives < 10:
        raise NotEnoughHistory(f"{positives} positive and {len(table) - positives} negative rows, 10 of each needed")
    model = FailureModel(grid=(), tune_threshold=False, drop=[], max_iter=150)
    metrics = cross_validate(model, table, LABEL, folds=3)
    model.fit(table, LABEL)
    version = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    card = ModelCard(kind=MODEL_KIND, metrics={**metrics, "failure_episodes": episodes},
                     params={"model_version": version, "horizon_hours": horizon_h, "window_hours": window_h,
                             "features": list(NUMERIC) + ["quantity", "equipment_kind"]})
    save_model(model, Path(out_path), card)
    return asdict(card)


class LearnedModel:
    """A loaded model and its card; ``predict`` takes ``feature_row`` dicts."""

    def __init__(self, model: Any, card: Any) -> None:
        self.model = model
        self.card = card

    @property
    def version(self) -> str:
        return str(self.card.params.get("model_version", self.card.version))

    @classmethod
    def load(cls, path: Path) -> LearnedModel:
        from sidecar.analytics.offline.models import load_model

        model, card = load_model(path, MODEL_KIND)
        return cls(model, card)

    def knows(self, row: dict[str, Any]) -> bool:
        """Whether the model saw this row's quantity and equipment kind in training (where it did
        not, the engine keeps the calibrated trend estimate: the model has no history there)."""
        cats = getattr(self.model, "categories_", {})
        return all(row.get(c) in known for c, known in cats.items())

    def predict(self, rows: list[dict[str, Any]]) -> np.ndarray:
        import pandas as pd

        if not rows:
            return np.empty(0)
        return np.asarray(self.model.predict_proba(pd.DataFrame(rows)), dtype=float)
