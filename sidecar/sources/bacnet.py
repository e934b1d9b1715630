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
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from sidecar.sources.base import register_source
from sidecar.sources.linked import Link, LinkedSource
from sidecar.sources.settings import BACNET_MODES, BacnetSettings
from sidecar.sources.support import BadValue, SourceConfigError, as_value

log = logging.getLogger(__name__)



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


@dataclass(eq=False)
class DeviceLink(Link):
    instance: int = 0
    address: str | None = None
    points: list[BacnetPoint] = field(default_factory=list)
    interval_s: float = 5.0
    timeout_s: float = 3.0
    cov_lifetime_s: int = 300
    cov_confirmed: bool = False
    reads: int = 0
    notifications: int = 0
    subscriptions: int = 0
    resolved: str | None = None


@register_source
class BacnetSource(LinkedSource[BacnetSettings, DeviceLink]):
    scheme = "bacnet"
    buffer_readings = 500
    bad_values = 0      # per instance once counted

    @property
    def devices(self) -> list[DeviceLink]:
        return list(self.links.values())

    def plan(self, settings: BacnetSettings) -> None:
        per_device: dict[int, list[BacnetPoint]] = {}
        for index, sensor in self.own_sensors():
            try:
                device, object_type, instance, query = parse_uri(sensor.source)
                mode = query.get("mode") or settings.devices.get(str(device), settings.default).mode
                if mode not in BACNET_MODES:
                    raise SourceConfigError(f"{sensor.source}: mode must be poll or cov, got {mode!r}")
            except SourceConfigError as error:
                log.warning("bacnet: sensor %s ignored: %s", sensor.sensor_id, error)
                continue
            per_device.setdefault(device, []).append(BacnetPoint(
                index, sensor.sensor_id, device, object_type, instance,
                query.get("property") or "present-value", mode))
        for device, points in per_device.items():
            here = settings.devices.get(str(device), settings.default)
            self.links[str(device)] = DeviceLink(
                f"device {device}", Link.backoff_from(here.reconnect), instance=device,
                address=here.address or None, points=points, interval_s=here.interval_s, timeout_s=here.timeout_s,
                cov_lifetime_s=here.cov_lifetime_s, cov_confirmed=here.cov_confirmed)

    # -- the local application ------------------------------------------------------------------
    @contextlib.asynccontextmanager
    async def _application(self) -> AsyncIterator[Any]:
        """The sidecar's own BACnet device, shared by every device link; an OSError here (address
        in use) is a source failure: the runner retries."""
        from bacpypes3.app import Application
        from bacpypes3.local.device import DeviceObject
        from bacpypes3.local.networkport import NetworkPortObject

        s = self.settings
        device = DeviceObject(objectIdentifier=("device", s.device_instance), objectName=s.device_name,
                              vendorIdentifier=s.vendor_identifier)
        port = NetworkPortObject(s.address, objectIdentifier=("network-port", 1),
                                 objectName="NetworkPort-1", networkNumberQuality="unknown")
        app = Application.from_object_list([device, port])
        try:
            yield app
        finally:
            app.close()

    def session(self) -> contextlib.AbstractAsyncContextManager[Any]:
        return self._application()

    def link_errors(self) -> tuple[type[BaseException], ...]:
        # bacpypes3's error/reject/abort classes derive from BaseException: caught by their own base
        from bacpypes3.apdu import ErrorRejectAbortNack

        return (ErrorRejectAbortNack, RuntimeError, ValueError, *super().link_errors())

    # -- one device ---------------------------------------------------------------------------
    async def _resolve(self, app: Any, link: DeviceLink) -> Any:
        from bacpypes3.pdu import Address

        if link.address:
            return Address(link.address)
        i_ams = await asyncio.wait_for(app.who_is(link.instance, link.instance), link.timeout_s)
        if not i_ams:
            raise ConnectionError(f"no I-Am from device {link.instance}")
        return i_ams[0].pduSource

    async def serve(self, link: DeviceLink, app: Any) -> None:
        from bacpypes3.primitivedata import ObjectIdentifier

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
            self.connected(link)
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
