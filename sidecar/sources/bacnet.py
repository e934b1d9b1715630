"""``bacnet://device-instance/object-type:instance[?mode=cov|poll&property=present-value]`` —
BACnet/IP (bacpypes3).

The sidecar runs one small BACnet application (its own device object, ``[bacnet] address``,
``device_instance``) and one task per remote device. A device's address comes from
``[bacnet.devices.<instance>] address`` or, when absent, from a Who-Is for its instance.

``poll`` mode reads each object's property (presentValue) with ReadProperty every
``interval_s``. ``cov`` mode subscribes with SubscribeCOV for ``cov_lifetime_s`` (renewed by
bacpypes3 before it lapses) and takes every notification as a reading; it also reads the
objects every ``interval_s``, which both checks the device is alive and covers a lost
notification. Any failure of a device (timeout, reject, abort, error) drops its subscriptions,
marks it ``reconnecting`` and retries with exponential back-off; the other devices go on.

bacpypes3's error/reject/abort classes derive from ``BaseException``: they are caught by their
own base class ``ErrorRejectAbortNack`` (never by a bare ``BaseException``, which would also
swallow cancellation).
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from sidecar.model import BuildingModel
from sidecar.sources.base import RECONNECTING, RUNNING, STARTING, Sink, Source, register_source
from sidecar.sources.support import (
    Backoff,
    BadValue,
    RateLimitedLog,
    ReadingBuffer,
    Settings,
    SourceConfigError,
    as_value,
    idle_on_config_error,
    roll_up,
)

log = logging.getLogger(__name__)

MODES = ("poll", "cov")


@dataclass(frozen=True, slots=True)
class BacnetPoint:
    sensor: int
    sensor_id: str
    device: int
    object_type: str
    instance: int
    prop: str
    mode: str

    @property
    def object_id(self) -> str:
        return f"{self.object_type},{self.instance}"


def parse_uri(uri: str) -> tuple[int, str, int, dict[str, str]]:
    parts = urlsplit(uri)
    if parts.scheme.lower() != "bacnet" or not parts.netloc.isdigit():
        raise SourceConfigError(f"{uri!r}: expected bacnet://device-instance/object-type:instance")
    device = int(parts.netloc)
    if not 0 <= device < 4194303:
        raise SourceConfigError(f"{uri!r}: device instance {device} out of 0..4194302")
    obj = parts.path.strip("/")
    object_type, sep, instance = obj.rpartition(":")
    if not sep or not object_type or not instance.isdigit():
        raise SourceConfigError(f"{uri!r}: the path must be object-type:instance (e.g. analog-input:1)")
    query = dict(parse_qsl(parts.query))
    unknown = set(query) - {"mode", "property"}
    if unknown:
        raise SourceConfigError(f"{uri!r}: unknown query key(s) {', '.join(sorted(unknown))}")
    return device, object_type, int(instance), query


@dataclass(slots=True)
class DeviceLink:
    instance: int
    address: str | None
    points: list[BacnetPoint]
    interval_s: float
    timeout_s: float
    cov_lifetime_s: int
    cov_confirmed: bool
    backoff: Backoff
    state: str = STARTING
    reads: int = 0
    notifications: int = 0
    subscriptions: int = 0
    failures: int = 0
    resolved: str | None = field(default=None)


@register_source
class BacnetSource(Source):
    scheme = "bacnet"

    def __init__(self, model: BuildingModel, sensors: np.ndarray, sink: Sink, settings: Any):
        super().__init__(model, sensors, sink, settings)
        self.problems = RateLimitedLog(log)
        self.config_error: str | None = None
        self.devices: list[DeviceLink] = []
        self.buffer = ReadingBuffer(sink, max_readings=500)
        self.bad_values = 0
        root = Settings(settings if isinstance(settings, dict) else {}, "bacnet")
        self.root = root
        try:
            self._plan(root)
            self.local_address = root.text("address", "host") or "host"
            self.local_instance = root.integer("device_instance", 4194300 - 1, 0, 4194302)
            self.local_name = root.text("device_name", "RevitPyIoT sidecar") or "RevitPyIoT sidecar"
            self.vendor_identifier = root.integer("vendor_identifier", 999, 0, 65535)
        except SourceConfigError as error:
            self.config_error = str(error)

    def _plan(self, root: Settings) -> None:
        per_device: dict[int, list[BacnetPoint]] = {}
        devices = root.tables("devices")
        for index in self.sensors.tolist():
            sensor = self.model.sensors[index]
            try:
                device, object_type, instance, query = parse_uri(sensor.source)
                here = Settings(devices.get(str(device)), f"bacnet.devices.{device}", parent=root)
                mode = query.get("mode") or here.choice("mode", MODES, "poll")
                if mode not in MODES:
                    raise SourceConfigError(f"{sensor.source}: mode must be poll or cov, got {mode!r}")
            except SourceConfigError as error:
                log.warning("bacnet: sensor %s ignored: %s", sensor.sensor_id, error)
                continue
            per_device.setdefault(device, []).append(BacnetPoint(
                index, sensor.sensor_id, device, object_type, instance,
                query.get("property") or "present-value", mode))
        for device, points in per_device.items():
            here = Settings(devices.get(str(device)), f"bacnet.devices.{device}", parent=root)
            self.devices.append(DeviceLink(
                instance=device, address=here.text("address") if str(device) in devices else None,
                points=points, interval_s=here.number("interval_s", 5.0, positive=True),
                timeout_s=here.number("timeout_s", 3.0, positive=True),
                cov_lifetime_s=here.integer("cov_lifetime_s", 300, 5, 86400),
                cov_confirmed=here.flag("cov_confirmed", False),
                backoff=Backoff(here.number("reconnect_min_s", 0.5, positive=True),
                                here.number("reconnect_max_s", 30.0, positive=True))))

    # -- the local application ------------------------------------------------------------------
    def _application(self) -> Any:
        from bacpypes3.app import Application
        from bacpypes3.local.device import DeviceObject
        from bacpypes3.local.networkport import NetworkPortObject

        device = DeviceObject(objectIdentifier=("device", self.local_instance), objectName=self.local_name,
                              vendorIdentifier=self.vendor_identifier)
        port = NetworkPortObject(self.local_address, objectIdentifier=("network-port", 1),
                                 objectName="NetworkPort-1", networkNumberQuality="unknown")
        return Application.from_object_list([device, port])

    def _update_state(self) -> None:
        if self.config_error is None:
            self.state = roll_up(d.state for d in self.devices)

    def _set(self, link: DeviceLink, state: str) -> None:
        if link.state != state:
            log.info("bacnet device %d: %s -> %s", link.instance, link.state, state)
            link.state = state
            self._update_state()

    async def run(self) -> None:
        await idle_on_config_error(self)
        app = self._application()   # an OSError here (address in use) is a source failure: the runner retries
        tasks = [asyncio.create_task(self._serve(app, link), name=f"bacnet:{link.instance}")
                 for link in self.devices]
        flusher = asyncio.create_task(self.buffer.flush_every(0.05), name="bacnet-flush")
        self._update_state()
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in (*tasks, flusher):
                task.cancel()
            await asyncio.gather(*tasks, flusher, return_exceptions=True)
            self.buffer.flush()
            app.close()

    # -- one device ---------------------------------------------------------------------------
    async def _resolve(self, app: Any, link: DeviceLink) -> Any:
        from bacpypes3.pdu import Address

        if link.address:
            return Address(link.address)
        i_ams = await asyncio.wait_for(app.who_is(link.instance, link.instance), link.timeout_s)
        if not i_ams:
            raise ConnectionError(f"no I-Am from device {link.instance}")
        return i_ams[0].pduSource

    async def _serve(self, app: Any, link: DeviceLink) -> None:
        from bacpypes3.apdu import ErrorRejectAbortNack
        from bacpypes3.primitivedata import ObjectIdentifier

        while True:
            try:
                address = await self._resolve(app, link)
                link.resolved = str(address)
                async with contextlib.AsyncExitStack() as stack:
                    subscriptions = []
                    for point in link.points:
                        if point.mode == "cov":
                            # Unconfirmed notifications: the first one can overtake the
                            # subscription's acknowledgement, and a confirmed one the client
                            # cannot place yet would be refused (the device may then drop it).
                            # bacpypes3 matches notifications to the subscription by an
                            # ObjectIdentifier: a plain string would never match.
                            scm = app.change_of_value(address, ObjectIdentifier(point.object_id), None,
                                                      link.cov_confirmed,
                                                      link.cov_lifetime_s)
                            await stack.enter_async_context(scm)
                            link.subscriptions += 1
                            subscriptions.append((point, scm))
                    listeners = [asyncio.create_task(self._listen(link, point, scm)) for point, scm in subscriptions]
                    for task in listeners:
                        stack.callback(task.cancel)
                    await self._poll(app, address, link, listeners, subscriptions)
            except ErrorRejectAbortNack as error:
                self.problems.warning(f"device:{link.instance}", "bacnet device %d: %s", link.instance, error)
            except (TimeoutError, OSError, ConnectionError, RuntimeError, ValueError) as error:
                self.problems.warning(f"device:{link.instance}", "bacnet device %d: %s: %s", link.instance,
                                      type(error).__name__, error)
            link.failures += 1
            self._set(link, RECONNECTING)
            await link.backoff.sleep()

    async def _poll(self, app: Any, address: Any, link: DeviceLink, listeners: list[asyncio.Task[None]],
                    subscriptions: list[tuple[BacnetPoint, Any]]) -> None:
        """Read every point each interval (the liveness check for COV points); return by raising."""
        while True:
            for task in listeners:
                if task.done():
                    task.result()   # re-raise what stopped a listener
            for _, scm in subscriptions:
                refresh = scm.refresh_subscription_task
                if refresh is not None and refresh.done() and not refresh.cancelled() and refresh.exception():
                    raise ConnectionError(f"COV renewal failed: {refresh.exception()}")
            for point in link.points:
                value = await asyncio.wait_for(app.read_property(address, point.object_id, point.prop),
                                               link.timeout_s)
                link.reads += 1
                self._reading(link, point, value)
            self._set(link, RUNNING)
            link.backoff.reset()
            await asyncio.sleep(link.interval_s)

    async def _listen(self, link: DeviceLink, point: BacnetPoint, scm: Any) -> None:
        wanted = point.prop.replace("-", "").lower()
        while True:
            prop, value = await scm.get_value()
            if str(prop).replace("-", "").lower() == wanted:
                link.notifications += 1
                self._reading(link, point, value)

    def _reading(self, link: DeviceLink, point: BacnetPoint, value: Any) -> None:
        try:
            number = as_value(_plain(value))
        except BadValue as error:
            self.bad_values += 1
            self.problems.warning(f"value:{point.sensor_id}", "bacnet device %d %s %s: %s", link.instance,
                                  point.object_id, point.prop, error)
            return
        self.buffer.add(point.sensor, time.time(), number)


def _plain(value: Any) -> Any:
    """A Python number from a bacpypes3 primitive (Real, Unsigned, Enumerated, Boolean...)."""
    if isinstance(value, (bool, int, float)):
        return value
    for kind in (float, int):
        try:
            return kind(value)
        except (TypeError, ValueError):
            continue
    raise BadValue(f"not numeric: {type(value).__name__} {value!r}")
