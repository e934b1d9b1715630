"""Building-wide physical signals ("drivers") as pure functions of simulated time.

Every sensor of the simulated building follows one driver, scaled and offset per sensor
(``roles``). Drivers are stateless: the value at any time is computed directly, so the
simulator can produce readings for any stretch of simulated time, in any order, without
stepping through it. First-order responses (a room's CO2 or temperature following its
occupancy with a time constant) are the exponentially weighted past of their input,
integrated with Gauss-Laguerre quadrature over a handful of lagged evaluations.
"""
from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

# Nodes and weights of the 6-point Gauss-Laguerre rule: int_0^inf e^-x f(x) dx ~ sum w f(x).
_LAG_NODES, _LAG_WEIGHTS = np.polynomial.laguerre.laggauss(6)

CO2_TAU_S = 20 * 60.0        # room air change: CO2 settles ~1 h after a change in occupancy
THERMAL_TAU_S = 60 * 60.0    # a zone's temperature follows gains and setpoint changes slowly
AIRFLOW_TAU_S = 30 * 60.0    # VAV and fan demand follow occupancy (through the zone temperature)
OUTDOOR_TAU_S = 3 * 3600.0   # the building fabric lags the weather by hours

OUTDOOR_MEAN_C = 15.0        # a mild season: heating in the morning, cooling in the afternoon
OUTDOOR_SWING_C = 5.0        # half the daily range
KW_PER_TON_FACTOR = 3.517    # kW of cooling per refrigeration ton

DRIVER_NAMES = (
    "one",            # 1: constants (status, steady values)
    "occ",            # occupancy fraction of the building, 0..1, instantaneous
    "occ_co2",        # occupancy through the CO2 time constant
    "occ_air",        # occupancy through the airflow time constant
    "occ_thermal",    # occupancy through the thermal time constant
    "occupied",       # occupied mode (setpoints, minimum outdoor air), smoothed, 0..1
    "diurnal",        # 0..1, low before dawn, highest mid-afternoon (generic shapes)
    "outdoor_c",      # outdoor air temperature
    "zone_c",         # a typical zone's temperature
    "zone_rh",        # a typical zone's relative humidity, %
    "return_c",       # AHU return air temperature
    "supply_c",       # AHU supply air temperature (tracks its setpoint)
    "damper",         # AHU outdoor-air damper (economiser), 0..1
    "mixed_c",        # AHU mixed air: damper-weighted outdoor and return air
    "fan",            # supply fan speed, 0..1
    "fan_current",    # fan motor current per rated current: 0.15 + 0.85 speed^3
    "fan_vibration",  # fan vibration per 4.5 mm/s warning limit
    "filter_dp",      # filter pressure drop, Pa (rises with speed squared)
    "cooling",        # building cooling load, fraction of one chiller's capacity
    "heating",        # building heating load fraction
    "chiller_kw",     # chiller electrical power per kW of capacity
    "chw_supply_c",   # chilled water supply temperature
    "chw_return_c",   # chilled water return temperature
    "chw_flow",       # chilled water flow per L/s at full load
    "machine_vibration",  # compressor / pump / tower fan vibration per 4.5 mm/s warning limit
    "pump_current",   # pump motor current per rated current
    "cw_supply_c",    # condenser water from the cooling tower
    "hw_flow_c",      # heating water flow temperature (weather compensated)
    "hw_return_c",    # heating water return temperature
    "meter_load",     # electricity meter load per rated load, daily load shape
    "heat_load",      # heat meter load per rated load
    "vav_flow",       # VAV supply airflow per nominal airflow
    "vav_damper",     # VAV damper position, %
)
DRIVER_INDEX = {name: i for i, name in enumerate(DRIVER_NAMES)}
CHILLER_CAPACITY_SHARE = 650.0  # kW of cooling per chiller the load is expressed against


def local_seconds(t: np.ndarray) -> np.ndarray:
    """Epoch seconds shifted to local time (the machine's zone, standard time)."""
    return np.asarray(t, dtype=np.float64) - time.timezone


def occupancy_fraction(t: np.ndarray) -> np.ndarray:
    """Share of a typical office's occupants present at each (local) time: arrivals 7-9,
    lunch dip 12-13:30, departures 17-19, weekends nearly empty."""
    local = local_seconds(t)
    hours = (local % 86400.0) / 3600.0
    weekday = (np.floor(local / 86400.0).astype(np.int64) + 3) % 7   # 1970-01-01 was a Thursday (3)
    rise = np.clip((hours - 7.0) / 2.0, 0.0, 1.0)
    fall = np.clip((19.0 - hours) / 2.0, 0.0, 1.0)
    fraction = np.minimum(rise, fall)
    fraction = np.where((hours >= 12.0) & (hours < 13.5), fraction * 0.75, fraction)
    return np.where(weekday >= 5, fraction * 0.1, fraction)


def occupied_mode(t: np.ndarray) -> np.ndarray:
    """1 while the building is scheduled occupied (weekdays 6-20 h), else 0."""
    local = local_seconds(t)
    hours = (local % 86400.0) / 3600.0
    weekday = (np.floor(local / 86400.0).astype(np.int64) + 3) % 7
    return ((hours >= 6.0) & (hours < 20.0) & (weekday < 5)).astype(np.float64)


def diurnal(t: np.ndarray) -> np.ndarray:
    """0..1, low before dawn, highest mid-afternoon."""
    hours = (local_seconds(t) % 86400.0) / 3600.0
    return 0.5 + 0.35 * np.sin(2.0 * math.pi * (hours - 9.0) / 24.0)


def outdoor_temperature(t: np.ndarray) -> np.ndarray:
    """A daily cycle peaking at 15 h, on slow weather swings of a few degrees over days."""
    t = np.asarray(t, dtype=np.float64)
    hours = (local_seconds(t) % 86400.0) / 3600.0
    days = t / 86400.0
    weather = 2.5 * np.sin(2.0 * math.pi * days / 5.3) + 1.5 * np.sin(2.0 * math.pi * days / 2.1 + 1.0)
    return OUTDOOR_MEAN_C + weather + OUTDOOR_SWING_C * np.sin(2.0 * math.pi * (hours - 9.0) / 24.0)


def lagged(signal: Callable[[np.ndarray], np.ndarray], t: np.ndarray, tau_s: float) -> np.ndarray:
    """First-order response of ``signal`` with time constant ``tau_s`` at times ``t``:
    int_0^inf e^(-s/tau)/tau signal(t - s) ds (the steady state of dx/dt = (u - x)/tau)."""
    t = np.asarray(t, dtype=np.float64)
    out = np.zeros_like(t)
    for node, weight in zip(_LAG_NODES.tolist(), _LAG_WEIGHTS.tolist()):
        out += weight * signal(t - node * tau_s)
    return out


def compute_drivers(t: np.ndarray) -> np.ndarray:
    """Every driver at simulated times ``t``: shape (len(DRIVER_NAMES), len(t))."""
    t = np.asarray(t, dtype=np.float64)
    d = np.empty((len(DRIVER_NAMES), len(t)))

    def put(name: str, values: np.ndarray) -> np.ndarray:
        d[DRIVER_INDEX[name]] = values
        return values

    put("one", np.ones_like(t))
    occ = put("occ", occupancy_fraction(t))
    put("occ_co2", lagged(occupancy_fraction, t, CO2_TAU_S))
    occ_air = put("occ_air", lagged(occupancy_fraction, t, AIRFLOW_TAU_S))
    occ_thermal = put("occ_thermal", lagged(occupancy_fraction, t, THERMAL_TAU_S))
    occupied = put("occupied", lagged(occupied_mode, t, AIRFLOW_TAU_S))
    put("diurnal", diurnal(t))
    outdoor = put("outdoor_c", outdoor_temperature(t))
    fabric = lagged(outdoor_temperature, t, OUTDOOR_TAU_S)
    # Zones: the setpoint (22 C occupied, floating towards 20.5 C at night) plus internal
    # gains from people and equipment and a little of the weather through the fabric.
    zone = put("zone_c", 20.6 + 1.0 * occupied + 0.6 * occ_thermal + 0.08 * (fabric - OUTDOOR_MEAN_C))
    put("zone_rh", 42.0 + 6.0 * occ_thermal - 0.4 * (fabric - OUTDOOR_MEAN_C))
    cooling = put("cooling", np.clip(0.22 + 0.42 * occ_thermal + 0.02 * (fabric - OUTDOOR_MEAN_C), 0.2, 0.85))
    heating = put("heating", np.clip(0.15 + 0.04 * (16.0 - fabric) + 0.15 * occupied * (1.0 - occ_thermal),
                                     0.05, 0.8))
    # AHU: return air is the zones' air warmed by the ceiling void; the economiser opens the
    # outdoor-air damper for free cooling when it is mild outside, keeps the minimum outdoor
    # air while occupied, and closes to leakage at night.
    ret = put("return_c", zone + 0.6 + 0.3 * occ_thermal)
    free = np.clip((outdoor - 10.0) / 6.0, 0.0, 1.0) * np.clip((21.0 - outdoor) / 3.0, 0.0, 1.0)
    damper = put("damper", 0.1 + occupied * (0.1 + 0.55 * free))
    put("mixed_c", damper * outdoor + (1.0 - damper) * ret)
    put("supply_c", 15.5 - 2.5 * occupied + 0.3 * (cooling - 0.4))
    fan = put("fan", 0.45 + 0.45 * occ_air + 0.1 * cooling)
    put("fan_current", 0.15 + 0.85 * fan ** 3)
    put("fan_vibration", (1.2 + 0.9 * fan ** 2) / 4.5)
    put("filter_dp", 60.0 + 90.0 * fan ** 2)
    # Chilled water: variable flow, supply reset a little with load; power = load x kW/ton,
    # kW/ton (about 0.6, COP 5.8) worse at part load.
    flow = 12.0 + 20.0 * cooling
    put("chw_flow", flow / 32.0)
    supply = put("chw_supply_c", 6.7 + 0.3 * (cooling - 0.4))
    load_kw = CHILLER_CAPACITY_SHARE * cooling
    put("chw_return_c", supply + load_kw / (4.19 * flow))
    kw_per_ton = 0.58 + 0.15 * (1.0 - cooling) ** 2
    put("chiller_kw", load_kw * kw_per_ton / KW_PER_TON_FACTOR / CHILLER_CAPACITY_SHARE)
    put("machine_vibration", (1.4 + 0.6 * cooling) / 4.5)
    put("pump_current", 0.45 + 0.25 * cooling)
    put("cw_supply_c", 24.0 + 0.25 * (outdoor - OUTDOOR_MEAN_C) + 3.0 * cooling)
    hw_flow = put("hw_flow_c", 72.0 - 0.6 * (fabric - OUTDOOR_MEAN_C))
    put("hw_return_c", hw_flow - 8.0 - 10.0 * heating)
    put("meter_load", 0.25 + 0.75 * np.clip(0.6 * occ + 0.4 * cooling, 0.0, 1.0))
    put("heat_load", 0.1 + 0.85 * heating)
    vav = put("vav_flow", 0.4 + 0.45 * occ_air + 0.1 * cooling)
    put("vav_damper", 15.0 + 75.0 * (vav - 0.4) / 0.55)
    return d
