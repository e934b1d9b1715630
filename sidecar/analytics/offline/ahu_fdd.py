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

Learned detector
----------------
A gradient-boosted classifier on unit-agnostic features (set-point errors, coil/damper signals,
temperature differences that the FCs test, the FC flags themselves) plus their day-to-date
means (fault labels in the public data mark whole days; day-to-date means are causal).
It is fitted on *other*, labelled units (``fdd --train``) and outputs a probability;
the combination reports a fault when a rule fires, or when the probability passes its threshold
later on a day on which a rule already fired (the learned part confirms and extends rule detections;
on its own it does not transfer between units).

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


def _features(points: pd.DataFrame, rules: G36RuleDetector) -> pd.DataFrame:
    tol = rules.tolerances
    p = points
    state = operating_state(p, tol)
    f = pd.DataFrame(index=p.index)
    f["fan_on"] = (state > 0).astype(float)
    for k in range(1, 6):
        f[f"os{k}"] = (state == k).astype(float)
    f["sat_err"] = p["sat"] - np.where(state == 1, p["sat_sp_heating"], p["sat_sp"])
    f["sat_minus_mat"] = p["sat"] - p["mat"]
    f["mat_minus_rat"] = p["mat"] - p["rat"]
    f["mat_minus_oat"] = p["mat"] - p["oat"]
    f["rat_minus_oat"] = p["rat"] - p["oat"]
    for point in ("oa_damper", "cooling_valve", "heating_valve", "fan_speed"):
        f[point] = p[point]
    raw = raw_fault_conditions(p, tol)
    for name, v in raw.items():
        f[f"raw_{name}"] = v.astype(float)
    # Day-to-date means while the fan runs (causal): the labels are per day.
    if "timestamp" in p and p["timestamp"].notna().all():
        day = p["timestamp"].dt.normalize()
    else:
        day = pd.Series(np.arange(len(p)) // 1440, index=p.index)
    running = f["fan_on"].to_numpy() > 0
    for col in ["sat_err", "sat_minus_mat", "mat_minus_rat", "mat_minus_oat", "oa_damper", "cooling_valve",
                "heating_valve"] + [f"raw_{k}" for k in raw]:
        vals = f[col].where(running)
        f[f"dtd_{col}"] = vals.groupby(day.to_numpy()).transform(lambda s: s.expanding().mean())
    return f


@dataclass
class LearnedAHUDetector:
    """Gradient-boosted classifier on unit-agnostic AHU features (fit on other, labelled units)."""

    threshold: float = 0.5
    max_iter: int = 200
    random_state: int = 0
    rules: G36RuleDetector = field(default_factory=G36RuleDetector)
    model_: Any = None
    feature_names_: list[str] = field(default_factory=list)

    def fit(self, frames: list[pd.DataFrame], labels: list[np.ndarray]) -> LearnedAHUDetector:
        from sklearn.ensemble import HistGradientBoostingClassifier

        X = pd.concat([_features(p, self.rules) for p in frames], ignore_index=True)
        y = np.concatenate(labels).astype(int)
        self.feature_names_ = list(X.columns)
        self.model_ = HistGradientBoostingClassifier(max_iter=self.max_iter, learning_rate=0.05,
                                                     max_leaf_nodes=15, l2_regularization=1.0,
                                                     class_weight="balanced",
                                                     random_state=self.random_state)
        self.model_.fit(X.to_numpy(dtype=float), y)
        return self

    def predict_proba(self, points: pd.DataFrame) -> np.ndarray:
        if self.model_ is None:
            raise RuntimeError("LearnedAHUDetector is not fitted")
        X = _features(points, self.rules)[self.feature_names_]
        return np.asarray(self.model_.predict_proba(X.to_numpy(dtype=float))[:, 1])


def _seen_today(flag: np.ndarray, points: pd.DataFrame) -> np.ndarray:
    """Causal: has ``flag`` been set at or before this row on the same calendar day?"""
    if "timestamp" in points and points["timestamp"].notna().all():
        day = points["timestamp"].dt.normalize().to_numpy()
    else:
        day = np.arange(len(points)) // 1440
    seen = pd.Series(flag.astype(float)).groupby(day).cummax().to_numpy()
    return np.asarray(seen > 0.5)


@dataclass
class AHUFaultDetector:
    """G36 rules, extended by the learned detector within days the rules flagged (never
    widened to days the rules found nothing). Without a fitted learned detector: rules alone."""

    rules: G36RuleDetector = field(default_factory=G36RuleDetector)
    learned: LearnedAHUDetector | None = None
    # Off by default: measured on LBNL, extending MZVAV-2-1's few false rule alarms with a learned
    # detector trained on SZCAV lowered MCC (-0.03 -> -0.12); the learned probability is reported
    # (``learned_probability``) but only changes ``fault`` when this is switched on.
    extend_rules: bool = False

    def predict(self, points: pd.DataFrame) -> pd.DataFrame:
        fault, cond = self.rules.predict(points)
        out = pd.DataFrame({"rule_fault": fault, "fault_condition": cond}, index=points.index)
        if self.learned is not None and self.learned.model_ is not None:
            prob = self.learned.predict_proba(points)
            # The learned part only extends a rule detection: from the first rule fault of a
            # day to the rest of that day while the classifier agrees. A classifier trained on
            # other units does not transfer on its own (it learns their base rate), so it is
            # never allowed to raise a fault on a day the rules found nothing.
            learned = (prob >= self.learned.threshold) & _seen_today(fault.astype(bool), points)
            learned &= self.extend_rules
            out["learned_probability"] = np.round(prob, 4)
            out["learned_fault"] = learned.astype(int)
            out["fault_condition"] = [c if c else ("learned" if ln else "")
                                      for c, ln in zip(cond, learned)]
            out["fault"] = (fault.astype(bool) | learned).astype(int)
        else:
            out["fault"] = fault
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
