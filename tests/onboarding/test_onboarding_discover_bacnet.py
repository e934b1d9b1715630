"""BACnet/IP discovery against real bacpypes3 devices on loopback (devices on 127.0.1.x, the
discovering client on 127.0.0.3, each on its own port; Who-Is is directed at each device)."""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bacpypes3.app import Application
from bacpypes3.local.analog import AnalogInputObject, AnalogValueObject
from bacpypes3.local.binary import BinaryInputObject
from bacpypes3.local.device import DeviceObject
from bacpypes3.local.networkport import NetworkPortObject
from source_peers import free_port

from sidecar.onboarding.discovery import read_point_list
from sidecar.onboarding.discovery.bacnet import BacnetDiscovery, discover_bacnet

ROOT = Path(__file__).resolve().parents[2]


class NoRpmApplication(Application):  # type: ignore[misc]
    """A device without ReadPropertyMultiple: bacpypes3 rejects the request (unrecognized-service)."""

    do_ReadPropertyMultipleRequest = None


def device(instance: int, host: str, objects: list[Any], rpm: bool = True) -> tuple[Application, str]:
    port = free_port(socket.SOCK_DGRAM, host)
    dev = DeviceObject(objectIdentifier=("device", instance), objectName=f"dev-{instance}", vendorIdentifier=999)
    net = NetworkPortObject(f"{host}/8:{port}", objectIdentifier=("network-port", 1), objectName="NetworkPort-1",
                            networkNumberQuality="unknown")
    cls = Application if rpm else NoRpmApplication
    return cls.from_object_list([dev, net, *objects]), f"{host}:{port}"


def ahu_objects(prefix: str, count: int = 3) -> list[Any]:
    objects: list[Any] = [
        AnalogInputObject(objectIdentifier=("analog-input", 1), objectName=f"{prefix}_SAT", presentValue=14.5,
                          units="degreesCelsius", description="Supply air temperature", statusFlags=[0, 0, 0, 0]),
        AnalogValueObject(objectIdentifier=("analog-value", 7), objectName=f"{prefix}_SAT_SP", presentValue=13.0,
                          units="degreesCelsius", statusFlags=[0, 0, 0, 0]),
        BinaryInputObject(objectIdentifier=("binary-input", 2), objectName=f"{prefix}_SF_STS", presentValue="active",
                          description="Supply fan status", statusFlags=[0, 0, 0, 0]),
    ]
    for i in range(count - 3):
        objects.append(AnalogInputObject(objectIdentifier=("analog-input", 100 + i), objectName=f"{prefix}_AI_{i}",
                                         presentValue=float(i), units="percent", statusFlags=[0, 0, 0, 0]))
    return objects


@contextlib.contextmanager
def devices(specs: list[tuple[int, str, list[Any], bool]]) -> Iterator[list[str]]:
    apps: list[Application] = []
    addresses: list[str] = []
    try:
        for instance, host, objects, rpm in specs:
            app, address = device(instance, host, objects, rpm)
            apps.append(app)
            addresses.append(address)
        yield addresses
    finally:
        for app in apps:
            app.close()


async def test_discovers_devices_objects_and_properties() -> None:
    with devices([(3101, "127.0.1.1", ahu_objects("AHU1"), True),
                  (3102, "127.0.1.2", ahu_objects("AHU2"), False)]) as addresses:
        client = free_port(socket.SOCK_DGRAM, "127.0.0.3")
        settings = BacnetDiscovery(address=f"127.0.0.3/8:{client}", targets=[*addresses, "127.0.1.9:47999"],
                                   who_is_s=1.0, timeout_s=2.0, batch=2, low=3100, high=3199)
        seen: list[str] = []
        found = await discover_bacnet(settings, [], seen.append)
    assert settings.devices == {3101: addresses[0], 3102: addresses[1]}
    by_source = {p.source: p for p in found}
    assert len(found) == 6 and len(by_source) == 6     # device and network-port objects are not points
    sat = by_source["bacnet://3101/analog-input:1"]
    assert (sat.name, sat.description, sat.units, sat.object_type, sat.present_value, sat.device) == (
        "AHU1_SAT", "Supply air temperature", "Cel", "analog-input", 14.5, "3101")
    assert by_source["bacnet://3102/analog-value:7"].name == "AHU2_SAT_SP"      # read with ReadProperty
    assert by_source["bacnet://3102/analog-input:1"].units == "Cel"
    fan = by_source["bacnet://3101/binary-input:2"]
    assert fan.units == "" and fan.present_value == "active" and fan.description == "Supply fan status"
    assert by_source["bacnet://3101/analog-value:7"].description == ""
    # 3102: 3 objects x 4 properties by ReadProperty, less the two they do not have
    assert settings.stats["rpm"] >= 2 and settings.stats["rp"] == 10
    assert seen and "6 objects" in seen[-1]


async def test_cli_writes_csv_and_json_and_ctrl_c_keeps_what_was_found(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))

    def command(addresses: list[str], output: Path) -> list[str]:
        client = free_port(socket.SOCK_DGRAM, "127.0.0.3")
        targets = [arg for address in addresses for arg in ("--target", address)]
        return [sys.executable, "-m", "sidecar", "discover", "bacnet", "--address", f"127.0.0.3/8:{client}",
                "--who-is-s", "1", "--parallel", "1", "--output", str(output), *targets]

    # devices without ReadPropertyMultiple: 4 requests per object, a run long enough to interrupt
    slow = [(3300 + i, f"127.0.3.{i + 1}", ahu_objects(f"AHU{i}", 150), False) for i in range(4)]
    with devices(slow) as addresses:
        out = tmp_path / "points"
        process = await asyncio.create_subprocess_exec(*command(addresses, out), env=env,
                                                       stderr=asyncio.subprocess.PIPE,
                                                       stdout=asyncio.subprocess.DEVNULL)
        assert process.stderr is not None
        seen = b""
        while b"objects from" not in seen:     # the progress line: some objects are in
            chunk = await asyncio.wait_for(process.stderr.read(200), 60)
            assert chunk, seen
            seen += chunk
        process.send_signal(signal.SIGINT)
        rest = await asyncio.wait_for(process.stderr.read(), 30)
        assert await process.wait() == 130, (seen + rest).decode()
    partial = read_point_list(out.with_suffix(".json"))
    assert 0 < len(partial) < 600
    document = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert document["interrupted"] is True and document["protocol"] == "bacnet"
    assert read_point_list(out.with_suffix(".csv"))[0].source == partial[0].source

    fast = [(3200 + i, f"127.0.2.{i + 1}", ahu_objects(f"AHU{i}", 40), True) for i in range(6)]
    with devices(fast) as addresses:
        full = tmp_path / "all.json"
        done = await asyncio.create_subprocess_exec(*command(addresses, full), "--quiet", env=env)
        assert await asyncio.wait_for(done.wait(), 90) == 0
    points = read_point_list(full)
    assert len(points) == 240 and len({p.source for p in points}) == 240
    assert json.loads(full.read_text(encoding="utf-8"))["interrupted"] is False


async def test_device_without_segmentation_object_list_by_index_and_rpm_in_halves() -> None:
    port = free_port(socket.SOCK_DGRAM, "127.0.4.1")
    dev = DeviceObject(objectIdentifier=("device", 4401), objectName="small", vendorIdentifier=999,
                       segmentationSupported="noSegmentation", maxApduLengthAccepted=50)
    net = NetworkPortObject(f"127.0.4.1/8:{port}", objectIdentifier=("network-port", 1), objectName="NetworkPort-1",
                            networkNumberQuality="unknown")
    app = Application.from_object_list([dev, net, *ahu_objects("AHU9", 320)])   # > 1476 bytes of object-list
    try:
        await asyncio.sleep(0.2)
        client = free_port(socket.SOCK_DGRAM, "127.0.0.3")
        settings = BacnetDiscovery(address=f"127.0.0.3/8:{client}", targets=[f"127.0.4.1:{port}"], who_is_s=1.0,
                                   timeout_s=3.0)
        found = await discover_bacnet(settings, [])
    finally:
        app.close()
    assert len(found) == 320 and len({p.source for p in found}) == 320
    assert {p.name for p in found} >= {"AHU9_SAT", "AHU9_AI_316"}
    assert settings.stats["rp"] == 0 and settings.stats["rpm"] > 320 // 50   # smaller batches, still RPM
    assert next(p for p in found if p.name == "AHU9_SAT").units == "Cel"
