"""AHU fault detection: ASHRAE Guideline 36 (2018, section 5.16.14) fault conditions plus a learned
detector, combined.

Rules
-----
Each fault condition (FC) is evaluated only in the operating states where the guideline applies
it, only while the supply fan runs, with the guideline's default tolerances, and it is reported
only after it has held for ``alarm_delay`` minutes (the guideline's persistence); ``mode_delay``
minutes after an operating-state change are ignored. Operating states (OS):
OS1 heating (heating valve open), OS2 economiser free cooling (no valve open, OA damper above
minimum), OS3 economiser + mechanical cooling (cooling valve open, OA damper fully open), OS4
mechanical cooling at minimum OA (cooling valve open, OA damper at minimum), OS5 other.

Learned layer
-------------
Features that transfer between units: signals relative to the unit's own set points and
temperatures (SAT error, coil delta, outdoor-air fraction from temperatures minus the damper
signal, mixing residuals), their z-scores against the unit's own baseline (``UnitBaseline``:
median and robust spread per operating state over the unit's first days, learned without labels),
mode flags, the raw G36 conditions and day-to-date means (causal; public labels mark whole days).
A gradient-boosted classifier is fitted on *other*, labelled units (``fdd --train``); its
probability is combined with the rules' evidence into a per-minute ``confidence``
(``AHUFaultDetector``), which decides ``fault``; ``fault_class`` names what the condition (or the
most deviating signal) points at.

All temperatures are converted to degrees Fahrenheit internally (the guideline's tolerances are
stated in F); signals to fractions 0..1.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .errors import CliError

MAPS_DIR = Path(__file__).with_name("maps")

# Standard point names used by the rules and the learned detector.
POINTS = ("sat", "sat_sp", "sat_sp_heating", "oat", "mat", "rat", "fan_status", "fan_speed",
          "oa_damper", "cooling_valve", "heating_valve", "duct_static", "duct_static_sp", "occupancy")
TEMPERATURES = ("sat", "sat_sp", "sat_sp_heating", "oat", "mat", "rat")
FRACTIONS = ("fan_speed", "oa_damper", "cooling_valve", "heating_valve")


@dataclass
class G36Tolerances:
    """ASHRAE Guideline 36 default tolerances (deg F, fractions, in. w.c.) and timing (minutes)."""

    sat: float = 2.0           # epsilon SAT
    rat: float = 2.0           # epsilon RAT
    mat: float = 5.0           # epsilon MAT
    oat: float = 5.0           # epsilon OAT
    supply_fan_rise: float = 2.0   # delta T supply fan (fan heat)
    min_delta_oa_ra: float = 10.0  # delta T min for the OA-fraction test (FC6)
    oa_fraction: float = 0.05  # epsilon %OA
    fan_speed: float = 0.05    # epsilon VFD speed
    duct_static: float = 0.1   # epsilon duct static pressure
    valve_full: float = 0.99   # "fully open" valve / speed
    min_oa_damper: float = 0.2  # minimum OA damper position (site-specific; G36 uses the set point)
    max_state_changes_per_hour: int = 7
    alarm_delay: int = 30      # minutes a condition must hold before it is reported
    mode_delay: int = 15       # minutes after an operating-state change when FCs are ignored


@dataclass
class ColumnMap:
    """Standard point -> candidate CSV column names, and units of the file."""

    columns: dict[str, list[str]]
    temperature_unit: str = "F"
    fraction_scale: float = 1.0

    @classmethod
    def load(cls, spec: str | Path | None) -> ColumnMap:
        if spec is None or str(spec) == "lbnl":
            path = MAPS_DIR / "lbnl.toml"
        else:
            path = Path(spec)
            if not path.is_file():
                shipped = MAPS_DIR / f"{spec}.toml"
                if shipped.is_file():
                    path = shipped
                else:
                    raise CliError(f"column map not found: {spec} (shipped maps: "
                                   f"{', '.join(p.stem for p in MAPS_DIR.glob('*.toml'))})")
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise CliError(f"{path}: invalid TOML: {exc}") from exc
        cols = {k: ([v] if isinstance(v, str) else list(v)) for k, v in raw.get("columns", {}).items()}
        units = raw.get("units", {})
        return cls(cols, str(units.get("temperature", "F")).upper(), float(units.get("fraction_scale", 1.0)))

    def standardise(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Frame of standard points (missing points are NaN), F and 0..1 fractions."""
        stripped = {c.strip(): c for c in frame.columns}
        out = pd.DataFrame(index=frame.index)
        for point in POINTS + ("timestamp", "label"):
            for candidate in self.columns.get(point, []):
                if candidate.strip() in stripped:
                    out[point] = frame[stripped[candidate.strip()]]
                    break
        for point in POINTS:
            if point not in out:
                out[point] = np.nan
            else:
                out[point] = pd.to_numeric(out[point], errors="coerce")
        if self.temperature_unit == "C":
            for point in TEMPERATURES:
                out[point] = out[point] * 9.0 / 5.0 + 32.0
        for point in FRACTIONS:
            out[point] = out[point] / self.fraction_scale
        if out["sat_sp_heating"].isna().all():
            out["sat_sp_heating"] = out["sat_sp"]
        if "timestamp" in out:
            out["timestamp"] = pd.to_datetime(out["timestamp"], errors="coerce")
        return out


def operating_state(p: pd.DataFrame, tol: G36Tolerances) -> np.ndarray:
    """G36 operating state 1..5 per row (0 when the supply fan is off)."""
    heat = p["heating_valve"].fillna(0).to_numpy() > 0.01
    cool = p["cooling_valve"].fillna(0).to_numpy() > 0.01
    oa = p["oa_damper"].fillna(0).to_numpy()
    fan_on = _fan_on(p)
    state = np.full(len(p), 5)
    state[heat & ~cool] = 1
    state[~heat & ~cool & (oa > tol.min_oa_damper + tol.oa_fraction)] = 2
    state[~heat & cool & (oa >= tol.valve_full - tol.oa_fraction)] = 3
    state[~heat & cool & (oa <= tol.min_oa_damper + tol.oa_fraction)] = 4
    state[~fan_on] = 0
    return state


def _fan_on(p: pd.DataFrame) -> np.ndarray:
    status = p["fan_status"].to_numpy(dtype=float)
    speed = p["fan_speed"].to_numpy(dtype=float)
    on = np.where(np.isnan(status), speed > 0.05, status > 0.5)
    return np.asarray(on, dtype=bool)


def raw_fault_conditions(p: pd.DataFrame, tol: G36Tolerances) -> dict[str, np.ndarray]:
    """Instantaneous FC flags (before persistence), each already restricted to its states."""
    os_ = operating_state(p, tol)
    sat, sp, sph = p["sat"].to_numpy(), p["sat_sp"].to_numpy(), p["sat_sp_heating"].to_numpy()
    oat, mat, rat = p["oat"].to_numpy(), p["mat"].to_numpy(), p["rat"].to_numpy()
    speed = p["fan_speed"].to_numpy()
    cc, hc = p["cooling_valve"].to_numpy(), p["heating_valve"].to_numpy()
    dsp, dsp_sp = p["duct_static"].to_numpy(), p["duct_static_sp"].to_numpy()
    running = os_ > 0
    in_os = {k: os_ == k for k in range(1, 6)}
    with np.errstate(invalid="ignore"):
        fc: dict[str, np.ndarray] = {}
        fc["FC1"] = running & (dsp < dsp_sp - tol.duct_static) & (speed >= tol.valve_full - tol.fan_speed)
        fc["FC2"] = running & (mat + tol.mat < np.minimum(rat - tol.rat, oat - tol.oat))
        fc["FC3"] = running & (mat - tol.mat > np.maximum(rat + tol.rat, oat + tol.oat))
        # FC6: OA fraction from temperatures disagrees with the minimum OA fraction (OS1, OS4).
        with np.errstate(divide="ignore"):
            oa_frac = (mat - rat) / (oat - rat)
        fc["FC6"] = ((in_os[1] | in_os[4]) & (np.abs(rat - oat) >= tol.min_delta_oa_ra)
                     & (np.abs(oa_frac - tol.min_oa_damper) > 2 * tol.oa_fraction + 0.15))
        fc["FC5"] = in_os[1] & (sat + tol.sat <= mat - tol.mat + tol.supply_fan_rise)
        fc["FC7"] = in_os[1] & (sat < sph - tol.sat) & (hc >= tol.valve_full)
        fc["FC8"] = in_os[2] & (np.abs(sat - tol.supply_fan_rise - mat) > math.hypot(tol.sat, tol.mat))
        fc["FC9"] = in_os[2] & (oat - tol.oat > sp - tol.supply_fan_rise + tol.sat)
        fc["FC10"] = in_os[3] & (np.abs(mat - oat) > math.hypot(tol.mat, tol.oat))
        fc["FC11"] = in_os[3] & (oat + tol.oat < sp - tol.supply_fan_rise - tol.sat)
        fc["FC12"] = ((in_os[2] | in_os[3] | in_os[4])
                      & (sat - tol.sat - tol.supply_fan_rise >= mat + tol.mat))
        fc["FC13"] = (in_os[3] | in_os[4]) & (sat > sp + tol.sat) & (cc >= tol.valve_full)
    # FC4: too many operating-state changes in the last hour (hunting).
    changes = np.r_[0, (os_[1:] != os_[:-1]).astype(int)]
    per_hour = pd.Series(changes).rolling(60, min_periods=1).sum().to_numpy()
    fc["FC4"] = running & (per_hour > tol.max_state_changes_per_hour)
    for key, arr in fc.items():
        fc[key] = np.nan_to_num(np.asarray(arr, dtype=float), nan=0.0) > 0.5
    return fc


def persistent(flag: np.ndarray, state: np.ndarray, tol: G36Tolerances) -> np.ndarray:
    """Apply the guideline's persistence: held ``alarm_delay`` rows, not within ``mode_delay`` of a
    state change. One row = one minute (trend data at 1-minute samples)."""
    changed = np.r_[True, state[1:] != state[:-1]]
    idx = np.arange(len(state))
    last_change = np.maximum.accumulate(np.where(changed, idx, 0))
    settled = (idx - last_change) >= tol.mode_delay
    ok = flag & settled
    run = np.zeros(len(ok), dtype=np.int64)
    count = 0
    for i, v in enumerate(ok):
        count = count + 1 if v else 0
        run[i] = count
    return run >= tol.alarm_delay


@dataclass
class G36RuleDetector:
    """The guideline's fault conditions with persistence; ``predict`` gives fault and condition."""

    tolerances: G36Tolerances = field(default_factory=G36Tolerances)
    enabled: tuple[str, ...] = ("FC1", "FC2", "FC3", "FC4", "FC5", "FC6", "FC7", "FC8", "FC9",
                                "FC10", "FC11", "FC12", "FC13")

    def flags(self, points: pd.DataFrame) -> dict[str, np.ndarray]:
        state = operating_state(points, self.tolerances)
        raw = raw_fault_conditions(points, self.tolerances)
        return {k: persistent(raw[k], state, self.tolerances) for k in self.enabled if k in raw}

    def predict(self, points: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        flags = self.flags(points)
        names = list(flags)
        stack = np.column_stack([flags[k] for k in names]) if names else np.zeros((len(points), 0), bool)
        fault = stack.any(axis=1)
        conditions = [";".join(n for n, on in zip(names, row) if on) for row in stack]
        return fault.astype(int), conditions


def _days(points: pd.DataFrame) -> np.ndarray:
    if "timestamp" in points and points["timestamp"].notna().all():
        return np.asarray(points["timestamp"].dt.normalize().to_numpy())
    return np.arange(len(points)) // 1440


# Unit-relative signals the learned layer compares with the unit's own baseline.
SIGNALS = ("sat_error", "coil_delta", "oa_fraction_error", "mat_below_mix", "mat_above_mix",
           "oa_damper", "cooling_valve", "heating_valve", "fan_speed")
# What a deviating signal (or a G36 condition) points at: the fault class reported per minute.
SIGNAL_CLASS = {"sat_error": "supply air temperature", "coil_delta": "coil / valve",
                "oa_fraction_error": "economiser / outdoor-air damper", "mat_below_mix": "mixed-air sensor",
                "mat_above_mix": "mixed-air sensor", "oa_damper": "economiser / outdoor-air damper",
                "cooling_valve": "coil / valve", "heating_valve": "coil / valve", "fan_speed": "supply fan / duct"}
FC_CLASS = {"FC1": "supply fan / duct", "FC2": "mixed-air sensor", "FC3": "mixed-air sensor", "FC4": "control hunting",
            "FC5": "coil / valve", "FC6": "economiser / outdoor-air damper", "FC7": "coil / valve",
            "FC8": "economiser / outdoor-air damper", "FC9": "economiser / outdoor-air damper",
            "FC10": "economiser / outdoor-air damper", "FC11": "economiser / outdoor-air damper",
            "FC12": "coil / valve", "FC13": "coil / valve"}


def unit_signals(points: pd.DataFrame, tol: G36Tolerances) -> tuple[pd.DataFrame, np.ndarray]:
    """Per-minute signals relative to the unit's own set points and temperatures (deltas to set
    points, the outdoor-air fraction from temperatures against the damper, mixing residuals), and
    the operating state."""
    p = points
    state = operating_state(p, tol)
    f = pd.DataFrame(index=p.index)
    f["sat_error"] = p["sat"] - np.where(state == 1, p["sat_sp_heating"], p["sat_sp"])
    f["coil_delta"] = p["sat"] - p["mat"]
    spread = p["oat"] - p["rat"]
    with np.errstate(invalid="ignore", divide="ignore"):
        oa_frac = (p["mat"] - p["rat"]) / spread.where(spread.abs() >= tol.min_delta_oa_ra)
    f["oa_fraction_error"] = oa_frac.clip(-0.5, 1.5) - p["oa_damper"]
    f["mat_below_mix"] = np.minimum(p["rat"], p["oat"]) - p["mat"]
    f["mat_above_mix"] = p["mat"] - np.maximum(p["rat"], p["oat"])
    for point in ("oa_damper", "cooling_valve", "heating_valve", "fan_speed"):
        f[point] = p[point]
    return f.astype(float), state


@dataclass
class UnitBaseline:
    """A unit's own normal, learned without labels from its first ``days`` days: per operating
    state, the median and a robust spread (1.4826 x MAD, floored) of each unit-relative signal.
    States with under an hour of baseline minutes fall back to all running minutes."""

    days: int = 7
    min_rows: int = 60
    median_: dict[str, dict[int, float]] = field(default_factory=dict)
    scale_: dict[str, dict[int, float]] = field(default_factory=dict)

    def fit(self, signals: pd.DataFrame, state: np.ndarray, day: np.ndarray) -> UnitBaseline:
        first = np.isin(day, np.unique(day)[: self.days])
        self.median_, self.scale_ = {}, {}
        for col in signals.columns:
            v = signals[col].to_numpy(dtype=float)
            ok = first & np.isfinite(v) & (state > 0)
            self.median_[col], self.scale_[col] = {}, {}
            for s in range(6):
                sel = ok & (state == s) if s else ok
                if sel.sum() < self.min_rows:
                    continue
                med = float(np.median(v[sel]))
                mad = 1.4826 * float(np.median(np.abs(v[sel] - med)))
                # Floor: a signal that never moved in the baseline (a valve shut all week) must
                # not turn a small change into a huge z.
                self.median_[col][s] = med
                self.scale_[col][s] = max(mad, 0.1 * float(np.std(v[ok])) if ok.any() else 0.0, 0.05)
        return self

    def z(self, signals: pd.DataFrame, state: np.ndarray) -> pd.DataFrame:
        out = pd.DataFrame(index=signals.index)
        for col in signals.columns:
            v = signals[col].to_numpy(dtype=float)
            z = np.full(len(v), np.nan)
            med, scale = self.median_.get(col, {}), self.scale_.get(col, {})
            for s in range(1, 6):
                key = s if s in med else 0
                if key in med:
                    sel = state == s
                    z[sel] = (v[sel] - med[key]) / scale[key]
            out[f"z_{col}"] = np.clip(z, -20.0, 20.0)
        return out


def unit_features(points: pd.DataFrame, rules: G36RuleDetector, baseline: UnitBaseline | None = None,
                  ) -> tuple[pd.DataFrame, UnitBaseline]:
    """Unit-agnostic features: unit-relative signals, their z-scores against the unit's own
    baseline (fitted here from the unit's first days when not given), mode flags, the G36 raw
    conditions, and day-to-date means of the |z| and the conditions while the fan runs (causal;
    public labels mark whole days)."""
    tol = rules.tolerances
    signals, state = unit_signals(points, tol)
    day = _days(points)
    if baseline is None:
        baseline = UnitBaseline().fit(signals, state, day)
    z = baseline.z(signals, state)
    f = pd.concat([signals, z], axis=1)
    running = pd.Series(state > 0, index=points.index)
    f["fan_on"] = running.astype(float)
    for k in range(1, 6):
        f[f"os{k}"] = (state == k).astype(float)
    raw = raw_fault_conditions(points, tol)
    for name, v in raw.items():
        f[f"raw_{name}"] = v.astype(float)
    daily = pd.concat([z.abs(), f[[f"raw_{k}" for k in raw]]], axis=1).where(running, axis=0)
    # Expanding mean within each day (NaN ignored), vectorised: cumulative sums / counts.
    grouped = daily.notna().astype(float).groupby(day)
    dtd = daily.fillna(0.0).groupby(day).cumsum() / grouped.cumsum().replace(0.0, np.nan)
    dtd.columns = [f"dtd_{c}" for c in dtd.columns]
    return pd.concat([f, dtd], axis=1), baseline


@dataclass
class LearnedAHUDetector:
    """Gradient-boosted classifier on unit-agnostic features (``unit_features``), fitted on
    other, labelled units, each against its own label-free baseline; on a new unit it uses that
    unit's own baseline, so what transfers is "how far from its own normal", not set points."""

    threshold: float = 0.5
    max_iter: int = 150
    baseline_days: int = 7
    random_state: int = 0
    rules: G36RuleDetector = field(default_factory=G36RuleDetector)
    model_: Any = None
    feature_names_: list[str] = field(default_factory=list)

    def _features(self, points: pd.DataFrame) -> pd.DataFrame:
        tol = self.rules.tolerances
        signals, state = unit_signals(points, tol)
        baseline = UnitBaseline(days=self.baseline_days).fit(signals, state, _days(points))
        # Missing points (no return fan, no duct static) and unmeasurable signals are 0, not NaN:
        # a column that is NaN throughout cannot be binned.
        return unit_features(points, self.rules, baseline)[0].fillna(0.0)

    def fit(self, frames: list[pd.DataFrame], labels: list[np.ndarray]) -> LearnedAHUDetector:
        from sklearn.ensemble import HistGradientBoostingClassifier

        X = pd.concat([self._features(p) for p in frames], ignore_index=True)
        y = np.concatenate(labels).astype(int)
        self.feature_names_ = list(X.columns)
        self.model_ = HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=0.05,
                                                     max_leaf_nodes=7, l2_regularization=1.0,
                                                     class_weight="balanced",
                                                     random_state=self.random_state)
        self.model_.fit(X.to_numpy(dtype=float), y)
        return self

    def predict_proba(self, points: pd.DataFrame) -> np.ndarray:
        if self.model_ is None:
            raise RuntimeError("LearnedAHUDetector is not fitted")
        X = self._features(points)[self.feature_names_]
        return np.asarray(self.model_.predict_proba(X.to_numpy(dtype=float))[:, 1])


def _held(flag: np.ndarray) -> np.ndarray:
    """Minutes each flag has been held so far (0 where it is off)."""
    on = np.asarray(flag, dtype=bool)
    idx = np.arange(len(on))
    last_off = np.maximum.accumulate(np.where(~on, idx, -1))
    return np.where(on, idx - last_off, 0)


@dataclass
class AHUFaultDetector:
    """G36 rules (the floor) and, when fitted, the learned layer; per minute a fault flag, the
    conditions, a fault class and a confidence.

    ``confidence`` is the evidence that the minute is faulty, in 0..1. Rules alone: 0 without a
    condition, rising with how long a condition has held, 0.5 when the guideline reports it (after
    ``alarm_delay``) and 1 after twice the delay. With the learned layer it is the mean of that and
    the learned probability, and ``fault`` is ``confidence >= 0.5``: a fresh rule alarm needs the
    learned layer's agreement, a long-held one stands unless the learned layer is sure the unit is
    at its normal, and the learned layer alone (no condition at all) never raises a fault — a
    classifier trained on other units learns their base rate (measured on LBNL, docs/analytics.md).
    """

    rules: G36RuleDetector = field(default_factory=G36RuleDetector)
    learned: LearnedAHUDetector | None = None

    def predict(self, points: pd.DataFrame) -> pd.DataFrame:
        tol = self.rules.tolerances
        flags = self.rules.flags(points)
        raw = raw_fault_conditions(points, tol)
        names = list(flags)
        stack = np.column_stack([flags[k] for k in names]) if names else np.zeros((len(points), 0), bool)
        fault = stack.any(axis=1)
        cond = [";".join(n for n, on in zip(names, row) if on) for row in stack]
        held = np.zeros(len(points))
        for k in names:
            held = np.maximum(held, _held(raw[k] & (operating_state(points, tol) > 0)))
        rule_conf = np.clip(held / (2.0 * tol.alarm_delay), 0.0, 1.0)
        rule_conf[fault] = np.maximum(rule_conf[fault], 0.5)
        out = pd.DataFrame({"rule_fault": fault.astype(int), "fault_condition": cond}, index=points.index)
        signals, state = unit_signals(points, tol)
        baseline = UnitBaseline().fit(signals, state, _days(points))
        z = baseline.z(signals, state).abs().fillna(0.0).to_numpy()
        worst = [SIGNALS[i] for i in np.argmax(z, axis=1)]
        if self.learned is not None and self.learned.model_ is not None:
            prob = self.learned.predict_proba(points)
            confidence = (rule_conf + prob) / 2.0
            flagged = confidence >= 0.5
            out["learned_probability"] = np.round(prob, 4)
        else:
            confidence, flagged = rule_conf, fault
        classes = []
        for i in range(len(points)):
            if not flagged[i]:
                classes.append("")
            elif cond[i]:
                classes.append(FC_CLASS.get(cond[i].split(";")[0], "other"))
            else:
                classes.append(SIGNAL_CLASS[worst[i]])
        out["fault"] = flagged.astype(int)
        out["fault_class"] = classes
        out["confidence"] = np.round(confidence, 3)
        return out


def load_points(path: Path, cmap: ColumnMap) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(original frame as text, standardised points)."""
    if not path.is_file():
        raise CliError(f"input not found: {path}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    points = cmap.standardise(frame)
    needed = [p for p in ("sat", "sat_sp", "oat", "mat", "rat") if points[p].isna().all()]
    if needed:
        raise CliError(f"{path}: no data for {', '.join(needed)}; give a column map with --columns "
                       f"(columns in file: {', '.join(c.strip() for c in frame.columns)})")
    return frame, points
