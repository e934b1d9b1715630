"""Point -> Brick class, quantity and unit, from its name, description and units.

``PointClassifier`` is a scikit-learn style estimator: character n-grams of the raw name (TF-IDF)
plus the words the BMS tokenizer expands the name, description and units into (``ZN_T`` ->
``zone temperature``), into a logistic regression. It is trained on the point lists of the Brick
reference buildings (``data/brick_points.csv``, see ``data/README.md``), whose classes are mapped
by ``LABEL_OF`` onto the label set below (current Brick 1.4 names); points whose class says only
``Command`` or ``Point`` are left out of training.

``leave_one_building_out`` measures it the honest way: each building is predicted by a model that
never saw it, and macro-F1 is taken over the classes that occur in at least two buildings (a class
only one building has cannot be learned from the others).
"""
from __future__ import annotations

import csv
import gzip
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sidecar.onboarding import names

DATA_DIR = Path(__file__).resolve().parent / "data"
# How sure a class the rules name is: they are right on 98 % of the reference points they name
# (less on Green Tech House's terse tags, 67 %), which were also what they were written against.
RULE_CONFIDENCE = 0.85
TRAINING_CSV = DATA_DIR / "brick_points.csv.gz"


@dataclass(frozen=True, slots=True)
class PointClass:
    brick_class: str
    quantity: str | None  # the sidecar's quantity (shared_schemas.protocol.QUANTITY_UNITS), None: no reading
    unit: str | None      # UCUM


def _c(brick_class: str, quantity: str | None = None, unit: str | None = None) -> PointClass:
    return PointClass(brick_class, quantity, unit)


# The label set: Brick 1.4 class -> quantity and unit (Vibration_Sensor and Volume_Sensor are not
# Brick classes: the export writes them as brick:Sensor, see brick.EXPORT_CLASS).
CLASSES: dict[str, PointClass] = {c.brick_class: c for c in (
    _c("Zone_Air_Temperature_Sensor", "temperature", "Cel"),
    _c("Supply_Air_Temperature_Sensor", "temperature", "Cel"),
    _c("Return_Air_Temperature_Sensor", "temperature", "Cel"),
    _c("Mixed_Air_Temperature_Sensor", "temperature", "Cel"),
    _c("Outside_Air_Temperature_Sensor", "temperature", "Cel"),
    _c("Exhaust_Air_Temperature_Sensor", "temperature", "Cel"),
    _c("Leaving_Hot_Water_Temperature_Sensor", "temperature", "Cel"),
    _c("Entering_Hot_Water_Temperature_Sensor", "temperature", "Cel"),
    _c("Leaving_Chilled_Water_Temperature_Sensor", "temperature", "Cel"),
    _c("Entering_Chilled_Water_Temperature_Sensor", "temperature", "Cel"),
    _c("Leaving_Condenser_Water_Temperature_Sensor", "temperature", "Cel"),
    _c("Temperature_Sensor", "temperature", "Cel"),
    _c("Target_Zone_Air_Temperature_Setpoint", "temperature", "Cel"),
    _c("Cooling_Temperature_Setpoint", "temperature", "Cel"),
    _c("Heating_Temperature_Setpoint", "temperature", "Cel"),
    _c("Supply_Air_Temperature_Setpoint", "temperature", "Cel"),
    _c("Temperature_Adjust_Sensor", "temperature", "Cel"),
    _c("Supply_Air_Flow_Sensor", "flow", "L/s"),
    _c("Air_Flow_Sensor", "flow", "L/s"),
    _c("Water_Flow_Sensor", "flow", "L/s"),
    _c("Supply_Air_Flow_Setpoint", "flow", "L/s"),
    _c("Air_Flow_Setpoint_Limit", "flow", "L/s"),
    _c("Damper_Position_Sensor", "position", "%"),
    _c("Damper_Position_Command", "position", "%"),
    _c("Valve_Command", "position", "%"),
    _c("Heating_Command", "position", "%"),
    _c("Cooling_Command", "position", "%"),
    _c("Occupancy_Sensor", "occupancy", "{persons}"),
    _c("Occupancy_Command", "status", "1"),
    _c("CO2_Sensor", "co2", "ppm"),
    _c("CO2_Setpoint", "co2", "ppm"),
    _c("Relative_Humidity_Sensor", "humidity", "%"),
    _c("Static_Pressure_Sensor", "pressure", "Pa"),
    _c("Static_Pressure_Setpoint", "pressure", "Pa"),
    _c("Differential_Pressure_Sensor", "pressure", "Pa"),
    _c("Pressure_Sensor", "pressure", "Pa"),
    _c("Start_Stop_Command", "status", "1"),
    _c("Start_Stop_Status", "status", "1"),
    _c("Run_Status", "status", "1"),
    _c("Enable_Command", "status", "1"),
    _c("Alarm", "status", "1"),
    _c("Fault_Status", "status", "1"),
    _c("Direction_Status", "status", "1"),
    _c("Electric_Power_Sensor", "power", "kW"),
    _c("Thermal_Power_Sensor", "power", "kW"),
    _c("Energy_Sensor", "energy", "kW.h"),
    _c("Current_Sensor", "current", "A"),
    _c("Voltage_Sensor", "voltage", "V"),
    _c("Frequency_Sensor", "frequency", "Hz"),
    _c("Enthalpy_Sensor", "enthalpy", "kJ/kg"),
    _c("Vibration_Sensor", "vibration", "mm/s"),
    _c("Volume_Sensor", "volume", "m3"),
    _c("TVOC_Sensor", "voc", "ppb"),
    _c("PM2.5_Sensor", "pm25", "ug/m3"),
    _c("Illuminance_Sensor", "illuminance", "lx"),
    _c("Luminance_Command", "status", "1"),
    _c("Point", None, None),
)}

# Class in the reference models (Brick 1.0-1.2 names) -> label; classes not listed are not used.
LABEL_OF: dict[str, str] = {
    "Zone_Air_Temperature_Sensor": "Zone_Air_Temperature_Sensor",
    "Air_Temperature_Sensor": "Zone_Air_Temperature_Sensor",  # Rice Hall: its space temperatures
    "Average_Zone_Air_Temperature_Sensor": "Zone_Air_Temperature_Sensor",
    "Discharge_Air_Temperature_Sensor": "Supply_Air_Temperature_Sensor",
    "Supply_Air_Temperature_Sensor": "Supply_Air_Temperature_Sensor",
    "Preheat_Supply_Air_Temperature_Sensor": "Supply_Air_Temperature_Sensor",
    "Return_Air_Temperature_Sensor": "Return_Air_Temperature_Sensor",
    "Mixed_Air_Temperature_Sensor": "Mixed_Air_Temperature_Sensor",
    "Outside_Air_Temperature_Sensor": "Outside_Air_Temperature_Sensor",
    "Exhaust_Air_Temperature_Sensor": "Exhaust_Air_Temperature_Sensor",
    "Hot_Water_Supply_Temperature_Sensor": "Leaving_Hot_Water_Temperature_Sensor",
    "Hot_Water_Return_Temperature_Sensor": "Entering_Hot_Water_Temperature_Sensor",
    "Chilled_Water_Supply_Temperature_Sensor": "Leaving_Chilled_Water_Temperature_Sensor",
    "Chilled_Water_Return_Temperature_Sensor": "Entering_Chilled_Water_Temperature_Sensor",
    "Temperature_Sensor": "Temperature_Sensor",
    "Zone_Air_Temperature_Setpoint": "Target_Zone_Air_Temperature_Setpoint",
    "Temperature_Setpoint": "Target_Zone_Air_Temperature_Setpoint",
    "Cooling_Temperature_Setpoint": "Cooling_Temperature_Setpoint",
    "Effective_Air_Temperature_Cooling_Setpoint": "Cooling_Temperature_Setpoint",
    "Heating_Temperature_Setpoint": "Heating_Temperature_Setpoint",
    "Effective_Air_Temperature_Heating_Setpoint": "Heating_Temperature_Setpoint",
    "Discharge_Air_Temperature_Setpoint": "Supply_Air_Temperature_Setpoint",
    "Discharge_Air_Temperature_Cooling_Setpoint": "Supply_Air_Temperature_Setpoint",
    "Temperature_Adjust_Sensor": "Temperature_Adjust_Sensor",
    "Discharge_Air_Flow_Sensor": "Supply_Air_Flow_Sensor",
    "Supply_Air_Flow_Sensor": "Supply_Air_Flow_Sensor",
    "Average_Discharge_Air_Flow_Sensor": "Supply_Air_Flow_Sensor",
    "Air_Flow_Sensor": "Air_Flow_Sensor",
    "Exhaust_Air_Flow_Sensor": "Air_Flow_Sensor",
    "Bypass_Air_Flow_Sensor": "Air_Flow_Sensor",
    "Discharge_Air_Flow_Setpoint": "Supply_Air_Flow_Setpoint",
    "Air_Flow_Setpoint": "Supply_Air_Flow_Setpoint",
    "Max_Cooling_Discharge_Air_Flow_Setpoint_Limit": "Air_Flow_Setpoint_Limit",
    "Min_Occupied_Cooling_Discharge_Air_Flow_Setpoint_Limit": "Air_Flow_Setpoint_Limit",
    "Min_Occupied_Heating_Discharge_Air_Flow_Setpoint_Limit": "Air_Flow_Setpoint_Limit",
    "Damper_Position_Sensor": "Damper_Position_Sensor",
    "Damper_Command": "Damper_Position_Command",
    "Valve_Command": "Valve_Command",
    "Heating_Command": "Heating_Command",
    "Cooling_Command": "Cooling_Command",
    "Occupancy_Sensor": "Occupancy_Sensor",
    "Occupancy_Command": "Occupancy_Command",
    "CO2_Sensor": "CO2_Sensor",
    "Return_Air_CO2_Sensor": "CO2_Sensor",
    "Outside_Air_CO2_Sensor": "CO2_Sensor",
    "CO2_Setpoint": "CO2_Setpoint",
    "Humidity_Sensor": "Relative_Humidity_Sensor",
    "Relative_Humidity_Sensor": "Relative_Humidity_Sensor",
    "Discharge_Air_Humidity_Sensor": "Relative_Humidity_Sensor",
    "Return_Air_Humidity_Sensor": "Relative_Humidity_Sensor",
    "Outside_Air_Humidity_Sensor": "Relative_Humidity_Sensor",
    "Discharge_Air_Static_Pressure_Sensor": "Static_Pressure_Sensor",
    "Static_Pressure_Sensor": "Static_Pressure_Sensor",
    "Discharge_Air_Static_Pressure_Setpoint": "Static_Pressure_Setpoint",
    "Static_Pressure_Setpoint": "Static_Pressure_Setpoint",
    "Differential_Pressure_Sensor": "Differential_Pressure_Sensor",
    "Pressure_Sensor": "Pressure_Sensor",
    "Start_Stop_Command": "Start_Stop_Command",
    "Start_Stop_Status": "Start_Stop_Status",
    "Run_Time_Sensor": "Run_Status",  # GHC's "Run": a run status, not hours run
    "Run_Enable_Command": "Enable_Command",
    "Fault_Status": "Fault_Status",
    "Direction_Status": "Direction_Status",
    "Electrical_Power_Sensor": "Electric_Power_Sensor",
    "Power_Sensor": "Electric_Power_Sensor",
    "Energy_Sensor": "Energy_Sensor",
    "Current_Sensor": "Current_Sensor",
    "Voltage_Sensor": "Voltage_Sensor",
    "Output_Frequency_Sensor": "Frequency_Sensor",
    "Outside_Air_Enthalpy_Sensor": "Enthalpy_Sensor",
    "Return_Air_Enthalpy_Sensor": "Enthalpy_Sensor",
    "Luminance_Command": "Luminance_Command",
}


def label_of(reference_class: str) -> str | None:
    """The label for a class as the reference models state it (every ``*_Alarm`` is ``Alarm``)."""
    if reference_class.endswith("Alarm"):
        return "Alarm"
    return LABEL_OF.get(reference_class)


@dataclass(frozen=True, slots=True)
class LabelledPoint:
    building: str
    name: str
    label: str
    description: str = ""
    units: str = ""


def load_training(path: Path = TRAINING_CSV) -> list[LabelledPoint]:
    """The reference buildings' points that have a label (see ``label_of``)."""
    opener: Any = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    out: list[LabelledPoint] = []
    for row in rows:
        label = label_of(row["brick_class"])
        if label is not None:
            out.append(LabelledPoint(row["building"], row["name"], label))
    return out


def point_text(name: str, description: str = "", units: str = "") -> str:
    """What the word features see: expanded words of name and description, and a units token."""
    parts = [names.expanded(name)]
    if description:
        parts.append(names.expanded(description))
    if units:
        parts.append("unit_" + "".join(ch for ch in units.lower() if ch.isalnum()))
    parts.append(f"rule_{rule_class(name, description)}")
    return " ".join(parts)


def _raw(name: str) -> str:
    """What the character n-grams see: the name lower-cased, digits folded to one symbol."""
    return "".join("0" if ch.isdigit() else ch for ch in name.lower())


class PointClassifier:
    """Point name (+ description, units) -> Brick class; ``fit``/``predict``/``predict_proba``.

    ``C`` is the logistic regression's inverse regularisation; ``char_weight`` scales the
    character n-gram block against the word block (the words carry across vendors, raw characters
    within one vendor's style).
    """

    def __init__(self, C: float = 4.0, char_weight: float = 0.5, max_iter: int = 2000,
                 rules_first: bool = True, override: float = 0.9) -> None:
        self.rules_first = rules_first
        self.override = override
        self.C = C
        self.char_weight = char_weight
        self.max_iter = max_iter

    def _matrix(self, names_: Sequence[str], descriptions: Sequence[str], units: Sequence[str],
                fit: bool) -> Any:
        from scipy.sparse import hstack

        texts = [point_text(n, d, u) for n, d, u in zip(names_, descriptions, units)]
        raws = [_raw(n) for n in names_]
        if fit:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.words_ = TfidfVectorizer(analyzer="word", ngram_range=(1, 2), sublinear_tf=True,
                                          token_pattern=r"[^ ]+")
            self.chars_ = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True, min_df=2)
            return hstack([self.words_.fit_transform(texts),
                           self.chars_.fit_transform(raws) * self.char_weight]).tocsr()
        return hstack([self.words_.transform(texts), self.chars_.transform(raws) * self.char_weight]).tocsr()

    def fit(self, names_: Sequence[str], labels: Sequence[str], descriptions: Sequence[str] | None = None,
            units: Sequence[str] | None = None) -> PointClassifier:
        from sklearn.linear_model import LogisticRegression

        blank = [""] * len(names_)
        # One row per distinct (name pattern, label): GHC repeats "Discharge_Temp" 464 times and
        # would otherwise outvote every other building's style.
        seen: dict[tuple[str, str, str, str], tuple[str, str, str, str]] = {}
        for n, d, u, y in zip(names_, descriptions or blank, units or blank, labels):
            seen.setdefault((_raw(n), d, u, y), (n, d, u, y))
        rows = list(seen.values())
        x = self._matrix([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], fit=True)
        self.model_ = LogisticRegression(C=self.C, max_iter=self.max_iter, class_weight="balanced")
        self.model_.fit(x, [r[3] for r in rows])
        self.classes_ = list(self.model_.classes_)
        return self

    def predict_proba(self, names_: Sequence[str], descriptions: Sequence[str] | None = None,
                      units: Sequence[str] | None = None) -> Any:
        blank = [""] * len(names_)
        return self.model_.predict_proba(self._matrix(list(names_), descriptions or blank,
                                                      units or blank, fit=False))

    def predict(self, names_: Sequence[str], descriptions: Sequence[str] | None = None,
                units: Sequence[str] | None = None) -> list[str]:
        return [label for label, _confidence in self.decide(names_, descriptions, units)]

    def decide(self, names_: Sequence[str], descriptions: Sequence[str] | None = None,
               units: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """(class, confidence) per point. The rules speak first when they are sure of a class the
        model knows and the model does not strongly disagree (below ``override`` for its own
        choice); otherwise the model decides. Rules carry across vendors, the model learns the
        conventions the rules miss."""
        blank = [""] * len(names_)
        descriptions = descriptions or blank
        proba = self.predict_proba(names_, descriptions, units)
        index = {c: i for i, c in enumerate(self.classes_)}
        out: list[tuple[str, float]] = []
        for name, description, p in zip(names_, descriptions, proba):
            best = int(p.argmax())
            ruled = rule_class(name, description)
            if ruled is not None and self.rules_first and (p[best] < self.override or ruled not in index):
                learned = float(p[index[ruled]]) if ruled in index else 0.0
                out.append((ruled, max(RULE_CONFIDENCE, learned)))
            else:
                out.append((self.classes_[best], float(p[best])))
        return out


_default: PointClassifier | None = None


def default_classifier() -> PointClassifier:
    """A classifier trained on all the reference buildings (trained once per process)."""
    global _default
    if _default is None:
        data = load_training()
        _default = PointClassifier().fit([p.name for p in data], [p.label for p in data])
    return _default


@dataclass(frozen=True, slots=True)
class Classification:
    brick_class: str
    quantity: str | None
    unit: str | None
    confidence: float


def classify(points: Iterable[tuple[str, str, str]],
             classifier: PointClassifier | None = None) -> list[Classification]:
    """(name, description, units) triples -> class, quantity, unit and the model's confidence.

    A unit the point itself reports wins over the class's default unit."""
    rows = list(points)
    if not rows:
        return []
    model = classifier or default_classifier()
    decided = model.decide([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows])
    out: list[Classification] = []
    for row, (label, confidence) in zip(rows, decided):
        known = CLASSES[label]
        out.append(Classification(known.brick_class, known.quantity, row[2] or known.unit, confidence))
    return out


@dataclass(frozen=True)
class Evaluation:
    macro_f1: float
    classes: list[str]
    per_class_f1: dict[str, float]
    per_building_accuracy: dict[str, float]
    points: int


def leave_one_building_out(data: Sequence[LabelledPoint] | None = None, **params: Any) -> Evaluation:
    """Macro-F1 over buildings left out of training, over classes present in >= 2 buildings."""
    from sklearn.metrics import f1_score

    data = list(data if data is not None else load_training())
    buildings = sorted({p.building for p in data})
    by_class: dict[str, set[str]] = {}
    for p in data:
        by_class.setdefault(p.label, set()).add(p.building)
    shared = sorted(c for c, b in by_class.items() if len(b) >= 2)
    truth: list[str] = []
    guess: list[str] = []
    accuracy: dict[str, float] = {}
    for held in buildings:
        train = [p for p in data if p.building != held]
        test = [p for p in data if p.building == held]
        model = PointClassifier(**params).fit([p.name for p in train], [p.label for p in train])
        predicted = model.predict([p.name for p in test])
        accuracy[held] = sum(a == b.label for a, b in zip(predicted, test)) / max(1, len(test))
        truth.extend(p.label for p in test)
        guess.extend(predicted)
    scores = f1_score(truth, guess, labels=shared, average=None, zero_division=0)
    per_class = {c: float(s) for c, s in zip(shared, scores)}
    return Evaluation(float(sum(per_class.values()) / len(per_class)), shared, per_class, accuracy, len(truth))


def _has(words: set[str], *options: str) -> bool:
    return any(all(w in words for w in option.split()) for option in options)


def rule_class(name: str, description: str = "", quantity: str | None = None) -> str | None:
    """The class the expanded words spell out, by a few rules a controls engineer would apply;
    None when they say too little. ``quantity`` (when the model already knows it) breaks ties."""
    w = set(names.words(name)) | set(names.words(description))
    if quantity:
        w.add(quantity)
    if _has(w, "alarm", "smoke", "leak", "loss", "fail", "failure", "trip"):
        return "Alarm"
    setpoint = _has(w, "setpoint", "flow request", "common")
    limit = _has(w, "high", "low", "max", "min")
    command = _has(w, "command", "output", "request", "demand")
    status = _has(w, "status")
    if _has(w, "start stop", "start", "stop"):
        return "Start_Stop_Status" if status else "Start_Stop_Command"
    if _has(w, "co2"):
        return "CO2_Setpoint" if setpoint else "Alarm" if limit else "CO2_Sensor"
    if _has(w, "occupancy"):
        return "Occupancy_Command" if command else "Occupancy_Sensor"
    if _has(w, "humidity"):
        return "Relative_Humidity_Sensor"
    if _has(w, "voc"):
        return "TVOC_Sensor"
    if _has(w, "pm25"):
        return "PM2.5_Sensor"
    if _has(w, "illuminance"):
        return "Illuminance_Sensor"
    if _has(w, "enthalpy"):
        return "Enthalpy_Sensor"
    if _has(w, "vibration"):
        return "Vibration_Sensor"
    if _has(w, "adjust"):
        return "Temperature_Adjust_Sensor"
    if _has(w, "fan") and (status or command) and not _has(w, "speed", "drive", "frequency"):
        return "Start_Stop_Status" if status else "Start_Stop_Command"
    if _has(w, "energy", "volume"):
        return "Volume_Sensor" if _has(w, "volume") else "Energy_Sensor"
    if _has(w, "power"):
        return "Thermal_Power_Sensor" if _has(w, "heating", "heat meter", "thermal") else "Electric_Power_Sensor"
    if _has(w, "current"):
        return "Current_Sensor"
    if _has(w, "voltage"):
        return "Voltage_Sensor"
    if _has(w, "frequency"):
        return "Frequency_Sensor"
    if _has(w, "damper"):
        if command:
            return "Damper_Position_Command"
        return "Damper_Position_Sensor"
    if _has(w, "position"):
        return "Damper_Position_Command" if command else "Damper_Position_Sensor"
    if _has(w, "valve"):
        return "Valve_Command"
    if _has(w, "pressure"):
        if setpoint:
            return "Static_Pressure_Setpoint"
        if _has(w, "differential", "filter", "pump"):
            return "Differential_Pressure_Sensor"
        return "Static_Pressure_Sensor" if _has(w, "static", "supply air", "duct") else "Pressure_Sensor"
    if _has(w, "flow") and not _has(w, "temperature"):   # a "flow temperature" is a supply temperature
        if _has(w, "water"):
            return "Water_Flow_Sensor"
        if _has(w, "max", "min") or (_has(w, "heating", "cooling") and not command):
            return "Air_Flow_Setpoint_Limit"
        if setpoint:
            return "Air_Flow_Setpoint_Limit" if _has(w, "min", "max") else "Supply_Air_Flow_Setpoint"
        if _has(w, "return", "exhaust", "bypass", "outside", "input"):
            return "Air_Flow_Sensor"
        return "Supply_Air_Flow_Sensor" if _has(w, "supply", "vav", "air flow") else "Air_Flow_Sensor"
    if _has(w, "temperature"):
        if _has(w, "adjust"):
            return "Temperature_Adjust_Sensor"
        if _has(w, "high", "low") and not setpoint:   # a zone's high/low limits are its setpoints
            if _has(w, "zone"):
                return "Cooling_Temperature_Setpoint" if _has(w, "high") else "Heating_Temperature_Setpoint"
            return "Alarm"
        if setpoint:
            if _has(w, "cooling"):
                return "Cooling_Temperature_Setpoint"
            if _has(w, "heating"):
                return "Heating_Temperature_Setpoint"
            return "Supply_Air_Temperature_Setpoint" if _has(w, "supply air") else \
                "Target_Zone_Air_Temperature_Setpoint"
        for stream, cls in (("outside", "Outside_Air_Temperature_Sensor"),
                            ("mixed", "Mixed_Air_Temperature_Sensor"),
                            ("exhaust", "Exhaust_Air_Temperature_Sensor")):
            if _has(w, stream):
                return cls
        if _has(w, "chilled water", "chilled", "chiller"):
            return "Entering_Chilled_Water_Temperature_Sensor" if _has(w, "return", "entering") else \
                "Leaving_Chilled_Water_Temperature_Sensor"
        if _has(w, "condenser water", "condenser", "cooling tower"):
            return "Leaving_Condenser_Water_Temperature_Sensor"
        if _has(w, "hot water", "heating water", "boiler", "water"):
            return "Entering_Hot_Water_Temperature_Sensor" if _has(w, "return", "entering") else \
                "Leaving_Hot_Water_Temperature_Sensor"
        if _has(w, "return"):
            return "Return_Air_Temperature_Sensor"
        if _has(w, "supply"):
            return "Supply_Air_Temperature_Sensor"
        if _has(w, "zone", "room", "office", "thermostat"):
            return "Zone_Air_Temperature_Sensor"
        return "Temperature_Sensor"
    if setpoint and _has(w, "zone", "room") and not _has(w, "cooling", "heating"):
        return "Target_Zone_Air_Temperature_Setpoint"
    if setpoint and _has(w, "cooling"):
        return "Cooling_Temperature_Setpoint"
    if setpoint and _has(w, "heating"):
        return "Heating_Temperature_Setpoint"
    if _has(w, "heating"):
        return "Heating_Command"
    if _has(w, "cooling"):
        return "Cooling_Command"
    if _has(w, "run"):
        return "Run_Status"
    if _has(w, "enable"):
        return "Enable_Command"
    return None
