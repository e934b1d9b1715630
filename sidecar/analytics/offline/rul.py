"""Remaining useful life (cycles) from run-to-failure histories (C-MAPSS style).

Input formats:
* C-MAPSS text: whitespace separated, no header: unit, cycle, 3 operating settings, 21 sensors.
* Long CSV (documented format): header with ``unit`` and ``cycle`` columns and any numeric
  sensor columns; one row per unit and cycle, cycles increasing within a unit.

Model: per cycle, trailing means over 5/10/20/30 cycles, an exponentially weighted mean, its drift
from the unit's own first 20 cycles, and least-squares slopes over 10 and 20 cycles of every
informative sensor (constant ones are dropped), plus the cycle count; a gradient boosted regressor
on the target ``min(RUL, cap)`` (piece-wise linear degradation, cap 125 as in the literature).
Prediction is at each unit's last cycle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import CliError

CMAPSS_COLUMNS = ["unit", "cycle", "setting1", "setting2", "setting3"] + [f"s{i}" for i in range(1, 22)]


def read_histories(path: Path) -> pd.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise CliError(f"input not found: {path}")
    with path.open(encoding="utf-8") as fh:
        first = fh.readline()
    if "unit" in first.lower() and "," in first:
        frame = pd.read_csv(path)
        frame.columns = [c.strip().lower() if c.strip().lower() in ("unit", "cycle") else c for c in frame.columns]
        if not {"unit", "cycle"} <= set(frame.columns):
            raise CliError(f"{path}: a long CSV needs 'unit' and 'cycle' columns")
    else:
        frame = pd.read_csv(path, sep=r"\s+", header=None)
        if frame.shape[1] != len(CMAPSS_COLUMNS):
            raise CliError(f"{path}: expected {len(CMAPSS_COLUMNS)} C-MAPSS columns, found {frame.shape[1]}")
        frame.columns = CMAPSS_COLUMNS
    return frame.sort_values(["unit", "cycle"], kind="stable").reset_index(drop=True)


def _rolling_slope(v: pd.Series, t: pd.Series, unit: np.ndarray, window: int) -> np.ndarray:
    """Least-squares slope of ``v`` against ``t`` over each unit's trailing ``window`` rows."""
    def roll(z: pd.Series) -> np.ndarray:
        out = z.groupby(unit, sort=False).rolling(window, min_periods=3).mean()
        return out.reset_index(level=0, drop=True).sort_index().to_numpy()

    mt, mv, mtv, mtt = roll(t), roll(v), roll(t * v), roll(t * t)
    var = mtt - mt * mt
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = (mtv - mt * mv) / var
    return np.where(np.isfinite(slope) & (var > 1e-9), slope, 0.0)


def nasa_score(true: np.ndarray, pred: np.ndarray) -> float:
    """NASA/PHM08 asymmetric score: late predictions (d > 0) cost more than early ones."""
    d = np.asarray(pred, float) - np.asarray(true, float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


@dataclass
class RULModel:
    cap: float = 125.0
    windows: tuple[int, ...] = (5, 10, 20, 30)
    slope_windows: tuple[int, ...] = (10, 20)
    baseline: int = 20
    max_iter: int = 300
    random_state: int = 0
    sensors_: list[str] = field(default_factory=list)
    model_: Any = None

    def _features(self, frame: pd.DataFrame) -> pd.DataFrame:
        # Every feature at cycle c uses cycles <= c of the same unit only (as at prediction time).
        frame = frame.reset_index(drop=True)
        unit = frame["unit"].to_numpy()
        cycle = frame["cycle"].to_numpy(dtype=float)
        g = frame.groupby("unit", sort=False)
        feats = {"cycle": cycle}
        rank = g.cumcount().to_numpy()
        for s in self.sensors_:
            v = frame[s].astype(float)
            col = v.groupby(unit, sort=False)
            for w in self.windows:
                feats[f"{s}_m{w}"] = col.rolling(w, min_periods=1).mean().reset_index(level=0, drop=True).sort_index().to_numpy()
            ewm = col.transform(lambda z: z.ewm(alpha=0.1).mean()).to_numpy()
            # Drift from the unit's own early baseline (first ``baseline`` cycles): engines start
            # with different manufacturing offsets, so the change matters more than the level.
            early = v.where(rank < self.baseline)
            base = early.groupby(unit, sort=False).transform(lambda z: z.expanding().mean().ffill()).to_numpy()
            feats[f"{s}_ewm"] = ewm
            feats[f"{s}_drift"] = ewm - base
            for w in self.slope_windows:
                feats[f"{s}_slope{w}"] = _rolling_slope(v, pd.Series(cycle, index=v.index), unit, w)
        return pd.DataFrame(feats)

    def fit(self, frame: pd.DataFrame) -> RULModel:
        from sklearn.ensemble import HistGradientBoostingRegressor

        candidates = [c for c in frame.columns if c not in ("unit", "cycle")]
        self.sensors_ = [c for c in candidates
                         if pd.api.types.is_numeric_dtype(frame[c]) and frame[c].std() > 1e-6
                         and not c.startswith("setting")]
        life = frame.groupby("unit")["cycle"].transform("max")
        y = np.minimum(life - frame["cycle"], self.cap).to_numpy(dtype=float)
        X = self._features(frame)
        self.model_ = HistGradientBoostingRegressor(max_iter=self.max_iter, learning_rate=0.05, max_leaf_nodes=15,
                                                    l2_regularization=1.0, random_state=self.random_state)
        self.model_.fit(X.to_numpy(), y)
        return self

    def predict_last(self, frame: pd.DataFrame) -> pd.DataFrame:
        """``unit, rul`` at each unit's last cycle."""
        if self.model_ is None:
            raise RuntimeError("RULModel is not fitted")
        missing = [s for s in self.sensors_ if s not in frame.columns]
        if missing:
            raise CliError(f"sensor columns missing for prediction: {', '.join(missing)}")
        X = self._features(frame)
        last = frame.groupby("unit", sort=False)["cycle"].transform("max") == frame["cycle"]
        pred = np.clip(self.model_.predict(X.to_numpy()[last.to_numpy()]), 0.0, self.cap)
        return pd.DataFrame({"unit": frame.loc[last, "unit"].to_numpy(), "rul": np.round(pred, 2)})


def cross_validate(frame: pd.DataFrame, folds: int = 5, cuts_per_unit: int = 5, seed: int = 0,
                   cap: float = 125.0) -> dict[str, Any]:
    """Engine-wise k-fold: fit on the other engines; each held-out engine is truncated at random
    cycles (as the test set is) and scored at the truncation against ``min(true RUL, cap)``."""
    from sklearn.model_selection import GroupKFold

    rng = np.random.default_rng(seed)
    units = frame["unit"].unique()
    truth, preds = [], []
    for tr_idx, te_idx in GroupKFold(n_splits=folds).split(frame, groups=frame["unit"]):
        model = RULModel(cap=cap).fit(frame.iloc[tr_idx])
        test = frame.iloc[te_idx]
        pieces = []
        k = 0
        for unit, hist in test.groupby("unit"):
            n = len(hist)
            for cut in rng.integers(min(31, n), n + 1, size=cuts_per_unit):
                piece = hist.iloc[:cut].copy()
                piece["unit"] = k  # each truncation is its own pseudo-unit
                truth.append(min(n - cut, cap))
                pieces.append(piece)
                k += 1
        pred = model.predict_last(pd.concat(pieces, ignore_index=True))
        preds.extend(pred.sort_values("unit")["rul"].tolist())
    t, p = np.asarray(truth, float), np.asarray(preds, float)
    return {"units": len(units), "evaluations": len(t),
            "rmse": round(float(np.sqrt(np.mean((p - t) ** 2))), 2),
            "nasa_score_per_unit": round(nasa_score(t, p) / len(t), 3),
            "mae": round(float(np.mean(np.abs(p - t))), 2)}
