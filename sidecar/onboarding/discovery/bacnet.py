"""BACnet/IP discovery with bacpypes3.

1. Who-Is over an instance range: broadcast (the local network, or a BBMD's if the local
   application registers as a foreign device: ``bbmd``), or directed at given addresses, which
   also reaches devices on routed networks without a BBMD. Every I-Am gives a device and address.
2. Each device's ``object-list``. A device that cannot send the whole array (no segmentation, or
   the list exceeds its APDU) is asked for its length (index 0) and then element by element.
3. ``object-name``, ``description``, ``units`` and ``present-value`` of every point object, with
   ReadPropertyMultiple in batches of ``batch`` objects; an answer too long for a device that
   cannot segment is asked for again in halves, and a device that rejects RPM is read property
   by property with ReadProperty from then on. A property an object does not
   have (``units`` of a binary input, a missing ``description``) is left empty.

Devices are read ``parallel`` at a time; every point found is appended to ``found`` at once, so a
run cancelled (Ctrl-C) keeps what it has.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sidecar.onboarding.discovery import DiscoveredPoint, ucum

log = logging.getLogger(__name__)

POINT_TYPES = frozenset({
    "analog-input", "analog-output", "analog-value", "binary-input", "binary-output", "binary-value",
    "multi-state-input", "multi-state-output", "multi-state-value", "accumulator", "pulse-converter",
    "integer-value", "positive-integer-value", "large-analog-value", "loop",
})
PROPERTIES = ("object-name", "description", "units", "present-value")


@dataclass
class BacnetDiscovery:
    """Settings of one discovery run."""

    address: str = "127.0.0.1/8:47808"   # the local application's address (host/prefix:port)
    device_instance: int = 4194000        # the local application's device instance
    low: int = 0
    high: int = 4194303
    targets: Sequence[str] = ()           # directed Who-Is addresses; none: broadcast
    bbmd: str | None = None               # register as a foreign device with this BBMD (host:port)
    who_is_s: float = 3.0                 # how long to collect I-Ams
    timeout_s: float = 5.0                # per request
    batch: int = 50                       # objects per ReadPropertyMultiple
    parallel: int = 8                     # devices read at once
    devices: dict[int, str] = field(default_factory=dict)  # instance -> address, filled by the run
    stats: dict[str, int] = field(default_factory=lambda: {"devices": 0, "objects": 0, "rpm": 0, "rp": 0,
                                                           "failed_devices": 0})


def _type_name(object_type: Any) -> str:
    return str(object_type)   # bacpypes3 enumerations print as "analog-input"


def _text(value: Any) -> str:
    if value is None or _is_error(value):
        return ""
    return str(value)


def _is_error(value: Any) -> bool:
    return type(value).__name__ in ("ErrorType", "Error", "PropertyAccessError") or isinstance(value, BaseException)


def _value(value: Any) -> float | int | str | bool | None:
    """A plain value: numbers as numbers, enumerations (``BinaryPV``) by name."""
    from bacpypes3.primitivedata import Enumerated

    if value is None or _is_error(value):
        return None
    if isinstance(value, Enumerated):
        return str(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return float(value) if isinstance(value, float) else int(value)
    with contextlib.suppress(TypeError, ValueError):
        return float(value)
    return str(value)


async def discover_bacnet(settings: BacnetDiscovery, found: list[DiscoveredPoint],
                          progress: Callable[[str], None] | None = None) -> list[DiscoveredPoint]:
    """Fill ``found`` with the points of every device that answers; returns ``found``."""
    from bacpypes3.app import Application
    from bacpypes3.local.device import DeviceObject
    from bacpypes3.local.networkport import NetworkPortObject

    device = DeviceObject(objectIdentifier=("device", settings.device_instance), objectName="revitpyiot-discover",
                          vendorIdentifier=999)
    port_kwargs: dict[str, Any] = {}
    if settings.bbmd:
        port_kwargs = {"bacnetIPMode": "foreign", "fdBBMDAddress": settings.bbmd, "fdSubscriptionLifetime": 300}
    port = NetworkPortObject(settings.address, objectIdentifier=("network-port", 1), objectName="NetworkPort-1",
                             networkNumberQuality="unknown", **port_kwargs)
    app = Application.from_object_list([device, port])
    try:
        if settings.bbmd:
            await asyncio.sleep(0.5)   # the registration with the BBMD
        i_ams = await _who_is(app, settings)
        for i_am in i_ams:
            settings.devices[int(i_am.iAmDeviceIdentifier[1])] = str(i_am.pduSource)
        settings.stats["devices"] = len(settings.devices)
        if progress:
            progress(f"{len(settings.devices)} devices answered")
        gate = asyncio.Semaphore(max(1, settings.parallel))

        async def one(instance: int, address: str) -> None:
            async with gate:
                try:
                    await _read_device(app, settings, instance, address, found, progress)
                except asyncio.CancelledError:
                    raise
                except (TimeoutError, OSError, ValueError, TypeError, _bacnet_error()) as error:
                    settings.stats["failed_devices"] += 1
                    log.warning("device %d at %s: %s", instance, address, error)

        await asyncio.gather(*(one(i, a) for i, a in sorted(settings.devices.items())))
    finally:
        app.close()
    return found


def _bacnet_error() -> type[BaseException]:
    from bacpypes3.apdu import ErrorRejectAbortNack

    return ErrorRejectAbortNack  # type: ignore[no-any-return]


async def _who_is(app: Any, settings: BacnetDiscovery) -> list[Any]:
    from bacpypes3.pdu import Address

    if not settings.targets:
        return list(await app.who_is(settings.low, settings.high, timeout=settings.who_is_s))
    answers = await asyncio.gather(*(app.who_is(settings.low, settings.high, address=Address(target),
                                                timeout=settings.who_is_s) for target in settings.targets))
    unique: dict[int, Any] = {}
    for i_ams in answers:
        for i_am in i_ams:
            unique.setdefault(int(i_am.iAmDeviceIdentifier[1]), i_am)
    return list(unique.values())


async def _object_list(app: Any, settings: BacnetDiscovery, instance: int, address: Any) -> list[Any]:
    device_id = f"device,{instance}"
    try:
        return list(await asyncio.wait_for(app.read_property(address, device_id, "object-list"), settings.timeout_s))
    except _bacnet_error() as error:  # segmentation not supported, APDU too long...
        log.info("device %d: whole object-list refused (%s); reading it element by element", instance, error)
    count = int(await asyncio.wait_for(app.read_property(address, device_id, "object-list", 0), settings.timeout_s))
    out = []
    for index in range(1, count + 1):
        out.append(await asyncio.wait_for(app.read_property(address, device_id, "object-list", index),
                                          settings.timeout_s))
    return out


async def _read_device(app: Any, settings: BacnetDiscovery, instance: int, address_text: str,
                       found: list[DiscoveredPoint], progress: Callable[[str], None] | None) -> None:
    from bacpypes3.pdu import Address

    address = Address(address_text)
    objects = [o for o in await _object_list(app, settings, instance, address) if _type_name(o[0]) in POINT_TYPES]
    use_rpm = True
    for start in range(0, len(objects), max(1, settings.batch)):
        chunk = objects[start:start + settings.batch]
        values: dict[tuple[str, int], dict[str, Any]] = {}
        if use_rpm:
            try:
                values = await _read_multiple_split(app, settings, address, chunk)
            except _bacnet_error() as error:
                log.info("device %d: ReadPropertyMultiple refused (%s); using ReadProperty", instance, error)
                use_rpm = False
        if not use_rpm:
            values = await _read_each(app, settings, address, chunk)
        for object_type, object_instance in chunk:
            kind = _type_name(object_type)
            props = values.get((kind, int(object_instance)), {})
            found.append(DiscoveredPoint(
                name=_text(props.get("object-name")) or f"{kind}:{int(object_instance)}",
                description=_text(props.get("description")), units=ucum(_text(props.get("units"))),
                object_type=kind, present_value=_value(props.get("present-value")),
                source=f"bacnet://{instance}/{kind}:{int(object_instance)}", device=str(instance)))
            settings.stats["objects"] += 1
        if progress:
            progress(f"{settings.stats['objects']} objects from {len(settings.devices)} devices")


async def _read_multiple_split(app: Any, settings: BacnetDiscovery, address: Any,
                               chunk: list[Any]) -> dict[tuple[str, int], dict[str, Any]]:
    """RPM for ``chunk``; an answer too long for a device that cannot segment it is asked for
    again in halves (down to one object, after which the error stands)."""
    try:
        values = await _read_multiple(app, settings, address, chunk)
        settings.stats["rpm"] += 1
        return values
    except _bacnet_error() as error:
        if len(chunk) < 2 or "segmentation" not in str(error):
            raise
    half = len(chunk) // 2
    values = await _read_multiple_split(app, settings, address, chunk[:half])
    values.update(await _read_multiple_split(app, settings, address, chunk[half:]))
    return values


async def _read_multiple(app: Any, settings: BacnetDiscovery, address: Any,
                         chunk: list[Any]) -> dict[tuple[str, int], dict[str, Any]]:
    from bacpypes3.basetypes import PropertyIdentifier
    from bacpypes3.primitivedata import ObjectIdentifier

    # Identifiers as objects, not text: bacpypes3 would parse every "analog-input,7" again.
    properties = [PropertyIdentifier(p) for p in PROPERTIES]
    request: list[Any] = []
    for object_id in chunk:
        request.extend([object_id if isinstance(object_id, ObjectIdentifier) else ObjectIdentifier(object_id),
                        list(properties)])
    answer = await asyncio.wait_for(app.read_property_multiple(address, request), settings.timeout_s)
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for (object_type, object_instance), prop, _index, value in answer:
        out.setdefault((_type_name(object_type), int(object_instance)), {})[str(prop)] = value
    return out


async def _read_each(app: Any, settings: BacnetDiscovery, address: Any,
                     chunk: list[Any]) -> dict[tuple[str, int], dict[str, Any]]:
    out: dict[tuple[str, int], dict[str, Any]] = {}
    for object_type, object_instance in chunk:
        kind = _type_name(object_type)
        props = out.setdefault((kind, int(object_instance)), {})
        for prop in PROPERTIES:
            try:
                props[prop] = await asyncio.wait_for(app.read_property(address, f"{kind},{int(object_instance)}",
                                                                       prop), settings.timeout_s)
                settings.stats["rp"] += 1
            except _bacnet_error():
                props[prop] = None
    return out
