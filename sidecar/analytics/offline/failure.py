"""Calibrated failure probability from tabular equipment data: a general learner.

``FailureModel`` knows no data set. Its features are the table's own columns plus

- **automatic interactions** (default): products, differences and ratios of pairs of numeric
  columns, the kind of quantity (power = torque x speed, a temperature rise, wear x load) that a tree
  on the raw columns only approximates. Which of them are kept is chosen on the training rows by
  forward selection: each round screens every candidate by how much a shallow regression tree on
  (raw columns + candidate) explains the current out-of-fold residuals beyond the raw columns
  alone, then adds the best one only if the booster's inner 3-fold cross-validated log-loss drops
  (by ``min_gain``, relative); at most ``max_interactions`` rounds;
- **declared physics** (opt-in): where the user says what a column is (``roles``: ``torque``,
  ``speed``, ``temperature``, ``ambient_temperature``, ``wear``), the physical quantities (mechanical
  power in W from N m and rpm, temperature rise, wear x torque) are added as features without search;
- **learned split points**: for every engineered feature, a depth-3 decision tree on the training
  rows (exact splits) gives up to seven thresholds, each a 0/1 feature, because the booster bins a
  feature into at most 255 quantile bins and would blur a sharp limit in the tails. The thresholds
  are learned inside every fold (a pipeline step), never typed in.

Then a ``HistGradientBoostingClassifier`` whose settings come from a small grid by inner
cross-validation, calibrated by isotonic regression on out-of-fold predictions, so that a
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

# Names that are identifiers in any table; other identifiers (all-unique text, a running integer
# index) and failure records (0/1 columns set only on failure rows) are recognised from the data.
DEFAULT_DROP = ("id", "unit")
ROLES = ("torque", "speed", "temperature", "ambient_temperature", "wear")

# Hyper-parameter grid searched by inner CV on the training rows (modest on purpose: 10,000 rows).
DEFAULT_GRID: tuple[dict[str, Any], ...] = (
    {"learning_rate": 0.05, "max_leaf_nodes": 7, "max_iter": 150, "min_samples_leaf": 20},
    {"learning_rate": 0.05, "max_leaf_nodes": 15, "max_iter": 300, "min_samples_leaf": 40},
    {"learning_rate": 0.1, "max_leaf_nodes": 7, "max_iter": 200, "min_samples_leaf": 20},
)
# The cheap booster that judges candidate interactions during selection.
_SCREEN = {"learning_rate": 0.1, "max_leaf_nodes": 7, "max_iter": 100, "min_samples_leaf": 20}
# At most this many numeric columns (the most informative by a shallow tree) are paired.
MAX_PAIRED_COLUMNS = 10
OPS = ("*", "-", "/")


def best_f1_threshold(prob: np.ndarray, y: np.ndarray) -> float:
    """Probability threshold with the highest F1 on (out-of-fold) predictions."""
    from sklearn.metrics import precision_recall_curve

    precision, recall, thresholds = precision_recall_curve(y, prob)
    f1 = 2 * precision * recall / np.maximum(precision + recall, 1e-12)
    if len(thresholds) == 0:
        return 0.5
    return float(thresholds[int(np.nanargmax(f1[:-1]))])


def parse_roles(text: str | None) -> dict[str, str]:
    """``torque=Torque [Nm],speed=Rotational speed [rpm]`` or a file of ``role = column`` lines
    (TOML-like; ``#`` comments) -> {role: column}. Unknown roles are an error."""
    if not text:
        return {}
    from pathlib import Path

    path = Path(text)
    items = path.read_text(encoding="utf-8").splitlines() if path.is_file() else text.split(",")
    roles: dict[str, str] = {}
    for item in items:
        item = item.split("#", 1)[0].strip()
        if not item or item.startswith("["):
            continue
        if "=" not in item:
            raise CliError(f"column role {item!r}: expected role=column")
        role, column = (s.strip().strip('"').strip("'") for s in item.split("=", 1))
        if role not in ROLES:
            raise CliError(f"unknown column role {role!r} (known: {', '.join(ROLES)})")
        roles[role] = column
    return roles


def _safe(values: pd.Series) -> np.ndarray:
    return np.nan_to_num(values.to_numpy(dtype=float), nan=-1e30, posinf=1e30, neginf=-1e30)


def interaction(frame: pd.DataFrame, spec: tuple[str, str, str]) -> pd.Series:
    """The value of one interaction ``(op, a, b)`` on ``frame``."""
    op, a, b = spec
    x, z = frame[a].astype(float), frame[b].astype(float)
    if op == "*":
        return x * z
    if op == "-":
        return x - z
    return x / z.where(z != 0)


def physics(frame: pd.DataFrame, roles: dict[str, str]) -> pd.DataFrame:
    """Physical quantities of the declared columns (none without declarations)."""
    out = pd.DataFrame(index=frame.index)
    missing = [c for c in roles.values() if c not in frame.columns]
    if missing:
        raise CliError(f"declared column(s) not in the data: {', '.join(missing)}")
    num = {r: frame[c].astype(float) for r, c in roles.items()}
    if "torque" in num and "speed" in num:
        out["power_w"] = num["torque"] * num["speed"] * 2 * np.pi / 60.0
    if "temperature" in num and "ambient_temperature" in num:
        out["temperature_rise"] = num["temperature"] - num["ambient_temperature"]
    if "wear" in num and "torque" in num:
        out["wear_x_torque"] = num["wear"] * num["torque"]
    return out


class SplitFlags:
    """Pipeline step: for each of ``columns``, 0/1 flags at the split points of a depth-3 decision
    tree fitted on that column alone (exact thresholds, learned from the training rows)."""

    def __init__(self, columns: list[str], depth: int = 3, min_leaf: int = 10) -> None:
        self.columns = columns
        self.depth = depth
        self.min_leaf = min_leaf
        self.thresholds_: dict[str, list[float]] = {}

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {"columns": self.columns, "depth": self.depth, "min_leaf": self.min_leaf}

    def set_params(self, **params: Any) -> SplitFlags:
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> SplitFlags:
        from sklearn.tree import DecisionTreeClassifier

        self.thresholds_ = {}
        for c in self.columns:
            tree = DecisionTreeClassifier(max_depth=self.depth, min_samples_leaf=self.min_leaf, random_state=0)
            tree.fit(_safe(X[c]).reshape(-1, 1), y)
            self.thresholds_[c] = sorted(float(t) for t in tree.tree_.threshold[tree.tree_.feature >= 0])
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        X = X.copy()
        for c, cuts in self.thresholds_.items():
            values = _safe(X[c])
            for i, cut in enumerate(cuts):
                X[f"{c} > split{i}"] = (values > cut).astype(float)
        return X

    def fit_transform(self, X: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
        return self.fit(X, y).transform(X)


def _pipeline(flag_columns: list[str], booster: Any) -> Any:
    from sklearn.pipeline import Pipeline

    return Pipeline([("flags", SplitFlags(list(flag_columns))), ("booster", booster)])


def _recognised_drops(frame: pd.DataFrame, y: np.ndarray | None) -> list[str]:
    """Identifier columns (all-unique text, a running integer index) and failure records (0/1
    columns that are 1 only on failure rows: consequences of the label, not process readings)."""
    drops = []
    n = len(frame)
    for c in frame.columns:
        col = frame[c]
        if n > 20 and col.nunique(dropna=True) == n:
            if not pd.api.types.is_numeric_dtype(col):
                drops.append(c)
                continue
            if pd.api.types.is_integer_dtype(col) and np.all(np.diff(col.to_numpy()) == 1):
                drops.append(c)
                continue
        if y is not None and pd.api.types.is_numeric_dtype(col) and set(col.dropna().unique()) <= {0, 1}:
            on = col.to_numpy() == 1
            if on.any() and y[on].mean() >= 0.99:
                drops.append(c)
    return drops


@dataclass
class FailureModel:
    threshold: float = 0.5
    tune_threshold: bool = True
    drop: list[str] | None = None
    max_iter: int = 300
    random_state: int = 0
    # Candidate booster settings; the one with the lowest inner-CV log-loss is used. ``None``:
    # ``DEFAULT_GRID``; an empty tuple: the fixed settings below (``max_iter``).
    grid: tuple[dict[str, Any], ...] | None = None
    # Search interactions? ``None`` (default): yes, unless ``grid`` is empty (a caller that fixes
    # the settings asks for no inner search at all, as the live maintenance model does).
    interactions: bool | None = None
    max_interactions: int = 6
    min_gain: float = 0.005
    roles: dict[str, str] = field(default_factory=dict)
    params_: dict[str, Any] = field(default_factory=dict)
    model_: Any = None
    calibrator_: Any = None
    features_: list[str] = field(default_factory=list)
    categories_: dict[str, list[Any]] = field(default_factory=dict)
    interactions_: list[tuple[str, str, str]] = field(default_factory=list)
    dropped_: list[str] = field(default_factory=list)
    selection_: list[dict[str, Any]] = field(default_factory=list)
    flags_: list[str] = field(default_factory=list)

    def _base(self, frame: pd.DataFrame, label: str | None = None) -> pd.DataFrame:
        # ``getattr``: model files written before these attributes existed (the live maintenance
        # model persists a ``FailureModel``) still load and predict.
        drop = set(self.drop if self.drop is not None else DEFAULT_DROP) | set(getattr(self, "dropped_", []))
        if label:
            drop.add(label)
        X = frame[[c for c in frame.columns if c not in drop]].copy()
        for c in list(X.columns):
            if not pd.api.types.is_numeric_dtype(X[c]) and not isinstance(X[c].dtype, pd.CategoricalDtype):
                X[c] = X[c].astype(str).astype("category")
        return X

    def _matrix(self, frame: pd.DataFrame) -> pd.DataFrame:
        X = self._base(frame)
        roles = getattr(self, "roles", {}) or {}
        if roles:
            X = pd.concat([X, physics(frame, roles)], axis=1)
        for spec in getattr(self, "interactions_", []):
            X[" ".join((spec[1], spec[0], spec[2]))] = interaction(frame, spec)
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

    def _folds(self) -> Any:
        from sklearn.model_selection import StratifiedKFold

        return StratifiedKFold(n_splits=3, shuffle=True, random_state=self.random_state)

    def _oof(self, X: pd.DataFrame, y: np.ndarray, flags: list[str], params: dict[str, Any]) -> np.ndarray:
        from sklearn.model_selection import cross_val_predict

        model = _pipeline(flags, self._booster(params))
        return np.asarray(cross_val_predict(model, X, y, cv=self._folds(), method="predict_proba")[:, 1])

    def _select(self, X: pd.DataFrame, y: np.ndarray, engineered: list[str]) -> list[tuple[str, str, str]]:
        """Forward selection of interactions (module docstring); records each round in ``selection_``."""
        from sklearn.metrics import log_loss
        from sklearn.model_selection import KFold, cross_val_predict
        from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

        numeric = [c for c in X.columns if c not in engineered and pd.api.types.is_numeric_dtype(X[c])
                   and X[c].nunique() > 2]
        if len(numeric) < 2:
            return []
        coded = pd.DataFrame({c: (X[c].cat.codes if isinstance(X[c].dtype, pd.CategoricalDtype) else X[c])
                              for c in X.columns})
        base = np.column_stack([_safe(coded[c]) for c in coded.columns])
        if len(numeric) > MAX_PAIRED_COLUMNS:
            tree = DecisionTreeClassifier(max_depth=6, min_samples_leaf=20, random_state=0).fit(base, y)
            weight = dict(zip(coded.columns, tree.feature_importances_))
            numeric = sorted(numeric, key=lambda c: -weight[c])[:MAX_PAIRED_COLUMNS]
        candidates = {(op, a, b): interaction(X, (op, a, b))
                      for a, b in itertools.combinations(numeric, 2) for op in OPS}

        def loss(p: np.ndarray) -> float:
            return float(log_loss(y, np.clip(p, 1e-6, 1 - 1e-6), labels=[0, 1]))

        folds = KFold(n_splits=3, shuffle=True, random_state=self.random_state)

        def residual_error(matrix: np.ndarray, residual: np.ndarray) -> float:
            tree = DecisionTreeRegressor(max_depth=4, min_samples_leaf=20, random_state=0)
            fit = cross_val_predict(tree, matrix, residual, cv=folds)
            return float(np.mean((residual - fit) ** 2))

        chosen: list[tuple[str, str, str]] = []
        current = X.copy()
        prob = self._oof(current, y, engineered, _SCREEN)
        best = loss(prob)
        self.selection_ = [{"added": None, "inner_log_loss": round(best, 5)}]
        for _ in range(self.max_interactions):
            residual = y - prob
            matrix = np.column_stack([base] + [_safe(interaction(X, s)) for s in chosen]) if chosen else base
            floor = residual_error(matrix, residual)
            gains = {spec: floor - residual_error(np.column_stack([matrix, _safe(values)]), residual)
                     for spec, values in candidates.items() if spec not in chosen}
            if not gains:
                break
            spec = max(gains, key=lambda s: gains[s])
            name = " ".join((spec[1], spec[0], spec[2]))
            trial = current.assign(**{name: candidates[spec]})
            trial_prob = self._oof(trial, y, engineered + [name], _SCREEN)
            trial_loss = loss(trial_prob)
            self.selection_.append({"added": name, "inner_log_loss": round(trial_loss, 5),
                                    "kept": trial_loss < best * (1 - self.min_gain)})
            if trial_loss >= best * (1 - self.min_gain):
                break
            chosen.append(spec)
            engineered = engineered + [name]
            current, prob, best = trial, trial_prob, trial_loss
        return chosen

    def fit(self, frame: pd.DataFrame, label: str) -> FailureModel:
        from sklearn.isotonic import IsotonicRegression
        from sklearn.metrics import log_loss

        if label not in frame.columns:
            raise CliError(f"label column {label!r} not in training data")
        y = pd.to_numeric(frame[label], errors="coerce").fillna(0).astype(int).to_numpy()
        self.dropped_ = []
        self.features_, self.categories_, self.interactions_ = [], {}, []
        X0 = self._base(frame, label)
        # Given an explicit ``drop`` list, the caller has said what to ignore: nothing is guessed.
        self.dropped_ = _recognised_drops(X0, y) if self.drop is None else []
        X = self._base(frame, label)
        if self.roles:
            X = pd.concat([X, physics(frame, self.roles)], axis=1)
        engineered = [c for c in X.columns if c not in X0.columns]
        for c in X.columns:
            if isinstance(X[c].dtype, pd.CategoricalDtype):
                X[c] = X[c].astype(str).astype("category")
                self.categories_[c] = list(X[c].cat.categories)
        self.selection_ = []
        search = self.interactions if self.interactions is not None else self.grid != ()
        if search and y.sum() >= 6:
            self.interactions_ = self._select(X, y, engineered)
            for spec in self.interactions_:
                name = " ".join((spec[1], spec[0], spec[2]))
                X[name] = interaction(frame, spec)
                engineered.append(name)
        self.features_ = list(X.columns)
        self.flags_ = engineered
        # Out-of-fold scores choose the booster settings and train the calibrator, so neither is
        # fitted to rows the model has seen (in cross-validation: only the outer training rows).
        grid = DEFAULT_GRID if self.grid is None else self.grid
        best: tuple[float, dict[str, Any], Any] | None = None
        for params in (grid or ({},)):
            cand = self._oof(X, y, engineered, dict(params) if grid else {})
            cand_loss = float(log_loss(y, np.clip(cand, 1e-6, 1 - 1e-6), labels=[0, 1]))
            if best is None or cand_loss < best[0]:
                best = (cand_loss, dict(params), cand)
        assert best is not None
        self.params_, oof = best[1], best[2]
        self.calibrator_ = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(oof, y)
        if self.tune_threshold and y.sum() > 0:
            # The deployed threshold is chosen on the training rows' out-of-fold predictions
            # (never on rows it is later judged on): the F1-best calibrated probability.
            self.threshold = best_f1_threshold(self.calibrator_.predict(oof), y)
        self.model_ = _pipeline(engineered, self._booster()).fit(X, y)
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
    own, chosen on its training rows), at 0.5 and 0.7, Brier score, the interactions each fold
    chose and a reliability table (mean predicted vs observed per probability bin)."""
    from sklearn.metrics import average_precision_score, brier_score_loss, precision_recall_fscore_support
    from sklearn.model_selection import StratifiedKFold

    y = pd.to_numeric(frame[label], errors="coerce").fillna(0).astype(int).to_numpy()
    prob = np.zeros(len(frame))
    deployed = np.zeros(len(frame), dtype=int)
    thresholds = []
    chosen: list[dict[str, Any]] = []
    inter: list[list[str]] = []
    for tr, te in StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(frame, y):
        m = FailureModel(threshold=model.threshold, tune_threshold=model.tune_threshold, drop=model.drop,
                         max_iter=model.max_iter, random_state=model.random_state, grid=model.grid,
                         interactions=model.interactions, max_interactions=model.max_interactions,
                         min_gain=model.min_gain, roles=dict(model.roles))
        m.fit(frame.iloc[tr].reset_index(drop=True), label)
        prob[te] = m.predict_proba(frame.iloc[te].reset_index(drop=True))
        deployed[te] = prob[te] >= m.threshold
        thresholds.append(round(m.threshold, 4))
        chosen.append(m.params_)
        inter.append([" ".join((s[1], s[0], s[2])) for s in m.interactions_])
    out: dict[str, Any] = {"folds": folds, "rows": len(y), "positives": int(y.sum()),
                           "pr_auc": round(float(average_precision_score(y, prob)), 4),
                           "brier": round(float(brier_score_loss(y, prob)), 5)}
    for name, pred in (("deployed", deployed), ("at_0.5", (prob >= 0.5).astype(int)),
                       ("at_0.7", (prob >= 0.7).astype(int))):
        p, r, f, _ = precision_recall_fscore_support(y, pred, average="binary", zero_division=0)
        out[name] = {"precision": round(float(p), 4), "recall": round(float(r), 4), "f1": round(float(f), 4)}
    out["deployed_thresholds"] = thresholds
    out["chosen_params"] = chosen
    out["interactions"] = inter
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
