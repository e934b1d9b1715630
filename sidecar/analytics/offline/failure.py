"""Calibrated failure probability from tabular equipment data (AI4I-style).

``FailureModel`` = physics-informed features (mechanical power, temperature difference, wear x
torque and its ratio to the product type's overstrain limit: the quantities behind overstrain,
heat-dissipation and power failures; with ``physics_rules`` also the documented AI4I failure
conditions as 0/1 flags, which the booster's quantile bins would otherwise blur) + a gradient
boosted classifier whose hyper-parameters are chosen from a small grid by inner cross-validation
on the training rows, calibrated by isotonic regression on out-of-fold predictions, so that a
probability of 0.7 means about 7 in 10 such rows fail. ``threshold`` is what ``predict`` and the
reported precision/recall/F1 use: with ``tune_threshold`` (default) it is the F1-best threshold on
the training rows' out-of-fold predictions, else the given value (default 0.5); work orders use
0.7 whatever it is.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .errors import CliError

# Columns that are identifiers or leak the answer (AI4I failure-mode flags) are never features.
DEFAULT_DROP = ("UDI", "Product ID", "TWF", "HDF", "PWF", "OSF", "RNF", "unit", "id")


def best_f1_threshold(prob: np.ndarray, y: np.ndarray) -> float:
    """Probability threshold with the highest F1 on (out-of-fold) predictions."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, prob)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    if len(thresholds) == 0:
        return 0.5
    return float(thresholds[int(np.nanargmax(f1[:-1]))])


# AI4I 2020's documented failure physics (Matzka 2020): overstrain limits of wear x torque per
# product quality (min*Nm), heat dissipation (process - air temperature < 8.6 K below 1380 rpm) and
# power (torque x angular speed outside 3500..9000 W). Used as features, never as labels.
OVERSTRAIN_LIMITS = {"L": 11000.0, "M": 12000.0, "H": 13000.0}
HDF_DELTA_K, HDF_RPM = 8.6, 1380.0
PWF_LOW_W, PWF_HIGH_W = 3500.0, 9000.0

# Hyper-parameter grid searched by inner CV on the training rows (modest on purpose: 10,000 rows).
DEFAULT_GRID: tuple[dict[str, Any], ...] = (
    {"learning_rate": 0.05, "max_leaf_nodes": 7, "max_iter": 150, "min_samples_leaf": 20},
    {"learning_rate": 0.05, "max_leaf_nodes": 15, "max_iter": 300, "min_samples_leaf": 40},
    {"learning_rate": 0.1, "max_leaf_nodes": 7, "max_iter": 200, "min_samples_leaf": 20},
)


def _engineer(frame: pd.DataFrame, physics_rules: bool = True) -> pd.DataFrame:
    X = frame.copy()
    cols = {c.lower(): c for c in X.columns}
    air = next((cols[c] for c in cols if c.startswith("air temperature")), None)
    proc = next((cols[c] for c in cols if c.startswith("process temperature")), None)
    rpm = next((cols[c] for c in cols if c.startswith("rotational speed")), None)
    torque = next((cols[c] for c in cols if c.startswith("torque")), None)
    wear = next((cols[c] for c in cols if c.startswith("tool wear")), None)
    if air and proc:
        X["temp_difference"] = X[proc] - X[air]
    if rpm and torque:
        X["power_w"] = X[torque] * X[rpm] * 2 * np.pi / 60.0
    if wear and torque:
        X["wear_torque"] = X[wear] * X[torque]
        kind = next((cols[c] for c in cols if c == "type"), None)
        if kind is not None:
            limit = X[kind].astype(str).str.strip().str.upper().map(OVERSTRAIN_LIMITS).astype(float)
            if limit.notna().any():
                X["overstrain_ratio"] = X["wear_torque"] / limit
    if physics_rules:
        if "temp_difference" in X and rpm:
            X["rule_heat_dissipation"] = ((X["temp_difference"] < HDF_DELTA_K) & (X[rpm] < HDF_RPM)).astype(int)
        if "power_w" in X:
            X["rule_power"] = ((X["power_w"] < PWF_LOW_W) | (X["power_w"] > PWF_HIGH_W)).astype(int)
        if "overstrain_ratio" in X:
            X["rule_overstrain"] = (X["overstrain_ratio"] > 1.0).astype(int)
    for c in list(X.columns):
        if not pd.api.types.is_numeric_dtype(X[c]) and not isinstance(X[c].dtype, pd.CategoricalDtype):
            X[c] = X[c].astype(str).astype("category")
    return X


@dataclass
class FailureModel:
    threshold: float = 0.5
    tune_threshold: bool = True
    drop: list[str] | None = None
    max_iter: int = 300
    random_state: int = 0
    physics_rules: bool = True
    # Candidate booster settings; the one with the lowest inner-CV log-loss is used. ``None``:
    # ``DEFAULT_GRID``; an empty tuple: the fixed settings below (``max_iter``).
    grid: tuple[dict[str, Any], ...] | None = None
    params_: dict[str, Any] = field(default_factory=dict)
    model_: Any = None
    calibrator_: Any = None
    features_: list[str] = field(default_factory=list)
    categories_: dict[str, list[Any]] = field(default_factory=dict)

    def _matrix(self, frame: pd.DataFrame, label: str | None = None) -> pd.DataFrame:
        drop = set(self.drop if self.drop is not None else DEFAULT_DROP)
        if label:
            drop.add(label)
        X = _engineer(frame[[c for c in frame.columns if c not in drop]],
                      getattr(self, "physics_rules", False))
        if self.features_:
            missing = [c for c in self.features_ if c not in X.columns]
            if missing:
                raise CliError(f"columns missing for prediction: {', '.join(missing)}")
            X = X[self.features_]
            for c, cats in self.categories_.items():
                X[c] = pd.Categorical(X[c].astype(str), categories=cats)
        return X

    def _booster(self, params: dict[str, Any] | None = None) -> Any:
        from sklearn.ensemble import HistGradientBoostingClassifier

        settings = {"max_iter": self.max_iter, "learning_rate": 0.05, "max_leaf_nodes": 15}
        settings.update(params if params is not None else getattr(self, "params_", {}))
        return HistGradientBoostingClassifier(l2_regularization=1.0, categorical_features="from_dtype",
                                              random_state=self.random_state, **settings)

    def fit(self, frame: pd.DataFrame, label: str) -> FailureModel:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        if label not in frame.columns:
            raise CliError(f"label column {label!r} not in training data")
        y = pd.to_numeric(frame[label], errors="coerce").fillna(0).astype(int).to_numpy()
        X = self._matrix(frame, label)
        self.features_ = list(X.columns)
        self.categories_ = {}
        for c in X.columns:
            if isinstance(X[c].dtype, pd.CategoricalDtype):
                X[c] = X[c].astype(str).astype("category")
                self.categories_[c] = list(X[c].cat.categories)
        from sklearn.metrics import log_loss

        # Out-of-fold scores choose the booster settings and train the calibrator, so neither is
        # fitted to rows the model has seen (in cross-validation: only the outer training rows).
        folds = StratifiedKFold(n_splits=3, shuffle=True, random_state=self.random_state)
        grid = DEFAULT_GRID if self.grid is None else self.grid
        best: tuple[float, dict[str, Any], Any] | None = None
        for params in (grid or ({},)):
            cand = cross_val_predict(self._booster(dict(params)), X, y, cv=folds, method="predict_proba")[:, 1]
            loss = float(log_loss(y, np.clip(cand, 1e-6, 1 - 1e-6), labels=[0, 1]))
            if best is None or loss < best[0]:
                best = (loss, dict(params), cand)
        assert best is not None
        self.params_, oof = best[1], best[2]
        self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(oof, y)
        if self.tune_threshold and y.sum() > 0:
            # The deployed threshold is chosen on the training rows' out-of-fold predictions
            # (never on rows it is later judged on): the F1-best calibrated probability.
            self.threshold = best_f1_threshold(self.calibrator_.predict(oof), y)
        self.model_ = self._booster().fit(X, y)
        return self

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if self.model_ is None:
            raise RuntimeError("FailureModel is not fitted")
        X = self._matrix(frame)
        raw = self.model_.predict_proba(X)[:, 1]
        return np.asarray(self.calibrator_.predict(raw), dtype=float)

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return (self.predict_proba(frame) >= self.threshold).astype(int)


def cross_validate(model: FailureModel, frame: pd.DataFrame, label: str, folds: int = 5,
                   seed: int = 0) -> dict[str, Any]:
    """Stratified k-fold: PR-AUC, precision/recall/F1 at the deployed threshold (each fold's model's
    own, chosen on its training rows), at 0.5 and 0.7, Brier score and a
    reliability table (mean predicted vs observed per probability bin)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, precision_recall_fscore_support
    from sklearn.model_selection import StratifiedKFold

    y = pd.to_numeric(frame[label], errors="coerce").fillna(0).astype(int).to_numpy()
    prob = np.zeros(len(frame))
    deployed = np.zeros(len(frame), dtype=int)
    thresholds = []
    chosen: list[dict[str, Any]] = []
    for tr, te in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(frame, y):
        m = FailureModel(threshold=model.threshold, tune_threshold=model.tune_threshold, drop=model.drop,
                         max_iter=model.max_iter, random_state=model.random_state,
                         physics_rules=model.physics_rules, grid=model.grid)
        m.fit(frame.iloc[tr].reset_index(drop=True), label)
        prob[te] = m.predict_proba(frame.iloc[te].reset_index(drop=True))
        deployed[te] = prob[te] >= m.threshold
        thresholds.append(round(m.threshold, 4))
        chosen.append(m.params_)
    out: dict[str, Any] = {"folds": folds, "rows": len(y), "positives": int(y.sum()),
                           "pr_auc": round(float(average_precision_score(y, prob)), 4),
                           "brier": round(float(brier_score_loss(y, prob)), 5)}
    for name, pred in (("deployed", deployed), ("at_0.5", (prob >= 0.5).astype(int)),
                       ("at_0.7", (prob >= 0.7).astype(int))):
        p, r, f, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
        out[name] = {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4)}
    out["deployed_thresholds"] = thresholds
    out["chosen_params"] = chosen
    bins = np.array([0.0, 0.1, 0.3, 0.5, 0.7, 0.9, 1.0001])
    rel = []
    for lo, hi in itertools.pairwise(bins):
        sel = (prob >= lo) & (prob < hi)
        if sel.any():
            rel.append({"bin": f"{lo:.1f}-{min(hi, 1.0):.1f}", "n": int(sel.sum()),
                        "mean_predicted": round(float(prob[sel].mean()), 3),
                        "observed": round(float(y[sel].mean()), 3)})
    out["reliability"] = rel
    return out
