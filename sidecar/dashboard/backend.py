"""What the dashboard needs from the sidecar, as one small interface.

The dashboard never imports the service: the lead wires any object with these
methods in (``SidecarMirror`` in ``mirror.py`` builds one from the command handler
and the event stream). Everything returns plain JSON-able data, the same records
PROTOCOL.md defines.
"""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

JSON = dict[str, Any]
CommandHandler = Callable[[str, JSON], Awaitable[JSON]]


@runtime_checkable
class DashboardBackend(Protocol):
    def building(self) -> JSON | None:
        """The BuildingConfig being monitored (levels, spaces, elements in metres), or None."""

    def snapshot(self) -> JSON:
        """``{"health": [HealthRecord], "alerts": [Alert]}``: current and recent alerts."""

    def status(self) -> JSON:
        """The ``status`` reply body (state, sources, readings_per_s, optional alarm metrics...)."""

    def latest(self) -> dict[str, tuple[float, float]]:
        """The latest accepted reading per sensor: ``{sensor_id: (ts, value)}``."""

    async def history(self, sensor_id: str, start_ts: float, end_ts: float, max_points: int) -> JSON:
        """``{"ts", "value", "min", "max"}`` lists; at most ``max_points`` long, min/max envelopes
        carrying what each downsampled bucket covered (equal to value where not downsampled)."""

    async def request(self, type: str, body: JSON) -> JSON:
        """The command handler: PROTOCOL.md request types (``ack``, ``start``, ``stop``...) and the
        additive ones (``shelve``...). Raises an exception carrying ``.code``/``.message`` on error."""


class EventSink(Protocol):
    """The event methods of the plug-in contract (called on the event loop thread, never block)."""

    def on_readings(self, batch: Any) -> None:
        """``[(sensor_id, ts, value), ...]`` or the pipeline's columnar ``ReadingBatch``."""

    def on_alert(self, alert: JSON) -> None: ...

    def on_health(self, items: list[JSON]) -> None: ...

    def on_status(self, status: JSON) -> None: ...
