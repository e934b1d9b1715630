"""``PipelinePort``: what the parts beside the pipeline may ask of it.

The maintenance engine and the plug-ins get the service's pipeline through this small typed
interface instead of reaching into its attributes. Data flows one way: sources -> pipeline ->
alarms / health / analytics -> bus and plug-ins; what comes back (a failure probability, a
condition to raise) enters through these methods and leaves as ordinary ``alert`` and
``health`` events.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from shared_schemas import protocol
from sidecar.alarms.record import Alert, Describer
from sidecar.model import BuildingModel


class PipelinePort(Protocol):
    @property
    def model(self) -> BuildingModel:
        """The building model the pipeline runs on now (a ``configure`` replaces it)."""
        ...

    def recent_readings(self, sensor_index: int, after_ts: float) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the sensor's recent readings (timestamps, values) newer than ``after_ts``,
        oldest first, from its ring buffer."""
        ...

    def seen_at(self, sensor_indices: Sequence[int]) -> np.ndarray:
        """When each sensor's latest reading arrived (epoch seconds; -inf: never)."""
        ...

    def open_alerts(self, unique_ids: Iterable[str] | None = None) -> list[Alert]:
        """Alerts whose condition is present (of these elements or sensors)."""
        ...

    def set_condition(self, kind: str, active: bool, *, unique_id: str | None = None, value: float = math.nan,
                      ts: float | None = None, threshold: float = math.nan,
                      severity: str = protocol.SEVERITY_WARNING, label: str | None = None) -> Alert | None:
        """Raise (``active``) or clear an equipment-level (``unique_id``) or building-level
        (``unique_id`` None, text ``label``) condition of ``kind`` and publish the change;
        returns the alert while it stands (None once back to normal)."""
        ...

    def describe_kind(self, kind: str, describer: Describer) -> None:
        """Let ``describer`` write the texts of alerts of ``kind`` (see ``AlertEngine``)."""
        ...

    def feed_scores(self, sensor_ids: list[str], ts: np.ndarray | list[float],
                    scores: np.ndarray | list[float]) -> None:
        """Anomaly scores (0..1) of readings, for the ``anomaly`` rule."""
        ...

    def feed_failure(self, unique_id: str, probability: float, ts: float | None = None,
                     ttf_hours: float | None = None, drivers: list[str] | None = None,
                     anomaly_score: float | None = None) -> None:
        """An equipment's failure probability and the evidence its health record shows."""
        ...
