"""BacnetSource against a real bacpypes3 device application on loopback (device on 127.0.0.2,
the sidecar's client on 127.0.0.3, different ports): ReadProperty polling, COV subscriptions,
and the device going away and coming back."""
from __future__ import annotations

import asyncio
import socket
from typing import Any

from bacpypes3.app import Application
from bacpypes3.local.analog import AnalogInputObject, AnalogValueObject
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from source_peers import free_port, make_source, running
from support.waiting import eventually

from sidecar.sources.bacnet import BacnetSource, parse_uri
from sidecar.sources.base import RECONNECTING, RUNNING

DEVICE = 1201


def device_app(port: int, av: Any, ai: Any) -> Application:
    device = DeviceObject(objectIdentifier=("device", DEVICE), objectName="test-device", vendorIdentifier=999)
    network = NetworkPortObject(f"127.0.0.2/8:{port}", objectIdentifier=("network-port", 1),
                                objectName="NetworkPort-1", networkNumberQuality="unknown")
    return Application.from_object_list([device, network, av, ai])


def objects() -> tuple[Any, Any]:
    av = AnalogValueObject(objectIdentifier=("analog-value", 1), objectName="zone-temp", presentValue=21.5,
                           statusFlags=[0, 0, 0, 0], covIncrement=0.1)
    ai = AnalogInputObject(objectIdentifier=("analog-input", 2), objectName="fan-vib", presentValue=2.25,
                           statusFlags=[0, 0, 0, 0], covIncrement=0.1)
    return av, ai


def test_uri_form() -> None:
    assert parse_uri("bacnet://1201/analog-input:2") == (1201, "analog-input", 2, {})
    assert parse_uri("bacnet://7/analog-value:1?mode=cov")[3] == {"mode": "cov"}


def udp_ports() -> tuple[int, int]:
    """Free UDP ports for the device (on 127.0.0.2) and the source's own BACnet client (127.0.0.3)."""
    return free_port(socket.SOCK_DGRAM, "127.0.0.2"), free_port(socket.SOCK_DGRAM, "127.0.0.3")


async def test_poll_cov_and_device_restart() -> None:
    device_port, client_port = udp_ports()
    av, ai = objects()
    app = device_app(device_port, av, ai)
    try:
        source, got = make_source("bacnet", {
            "zone.temp": f"bacnet://{DEVICE}/analog-value:1?mode=cov",
            "fan.vib": f"bacnet://{DEVICE}/analog-input:2",
        }, {"address": f"127.0.0.3/8:{client_port}", "device_instance": 599001, "interval_s": 0.3,
            "timeout_s": 1.0, "reconnect_min_s": 0.2, "reconnect_max_s": 0.5,
            "devices": {str(DEVICE): {"address": f"127.0.0.2:{device_port}", "cov_lifetime_s": 5}}})
        assert isinstance(source, BacnetSource)
        async with running(source):
            await eventually(lambda: source.state == RUNNING and got.values("fan.vib") and got.values("zone.temp"),
                             what="first readings")
            assert got.values("fan.vib")[0] == 2.25 and got.values("zone.temp")[0] == 21.5
            link = source.devices[0]
            assert link.subscriptions == 1
            av.presentValue = 27.0      # a COV notification, well before the next poll could see it
            await eventually(lambda: link.notifications >= 2 and got.last("zone.temp") == 27.0, timeout_s=5,
                             what="COV notification")
            ai.presentValue = 4.5
            await eventually(lambda: got.last("fan.vib") == 4.5, what="polled change")

            app.close()
            await eventually(lambda: source.state == RECONNECTING, what="reconnecting after device stop")
            av2, ai2 = objects()
            av2.presentValue = 19.0
            app = device_app(device_port, av2, ai2)
            await eventually(lambda: source.state == RUNNING and got.last("zone.temp") == 19.0, timeout_s=15,
                             what="running again after device restart")
            assert link.subscriptions == 2   # resubscribed after the restart
            av2.presentValue = 18.0
            await eventually(lambda: got.last("zone.temp") == 18.0, what="COV after restart")
    finally:
        app.close()
        await asyncio.sleep(0)


async def test_unknown_object_reports_reconnecting_not_a_crash() -> None:
    device_port, client_port = udp_ports()
    app = device_app(device_port, *objects())
    try:
        source, got = make_source("bacnet", {"ghost": f"bacnet://{DEVICE}/analog-input:99"},
                                  {"address": f"127.0.0.3/8:{client_port}", "interval_s": 0.2, "timeout_s": 1.0,
                                   "reconnect_min_s": 0.1, "reconnect_max_s": 0.2,
                                   "devices": {str(DEVICE): {"address": f"127.0.0.2:{device_port}"}}})
        assert isinstance(source, BacnetSource)
        async with running(source) as runner:
            await eventually(lambda: source.devices[0].failures >= 2, what="repeated failures")
            assert runner.state == RECONNECTING and runner.failures == 0   # handled inside the source
        assert got.readings == []
    finally:
        app.close()
