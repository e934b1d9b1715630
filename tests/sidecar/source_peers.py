"""Real protocol peers on loopback for the source tests: a Mosquitto broker per caller, free
ports, a sink that collects readings, buildings bound to given source URIs, and running a
source under the real SourceRunner."""
from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from support.buildings import sensor_element

from sidecar.client.launcher import stop_process
from sidecar.model import BuildingModel, build_model
from sidecar.sources.base import Source, SourceRunner, source_type

MOSQUITTO = "/usr/sbin/mosquitto"


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, kind) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def wait_port(port: int, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.02)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s")


class Mosquitto:
    """``/usr/sbin/mosquitto -c <conf>`` on a free loopback port; ``stop``/``start`` keep the port."""

    def __init__(self, persistent: bool = False) -> None:
        if not os.path.exists(MOSQUITTO) and shutil.which("mosquitto") is None:
            raise AssertionError("Mosquitto is not installed: install the Debian package 'mosquitto' "
                                 "(apt-get install mosquitto), or run `python installer/dev.py test` as root")
        self.binary = MOSQUITTO if os.path.exists(MOSQUITTO) else str(shutil.which("mosquitto"))
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="revitpyiot-mosquitto-"))
        self.dir.chmod(0o755)   # as root, mosquitto drops to user `mosquitto`
        self.conf = self.dir / "mosquitto.conf"
        # persistent: sessions and their queued QoS >= 1 messages are saved to disk when the broker
        # stops and restored when it starts (a broker restart then loses nothing it acknowledged)
        store = self.dir / "store"
        persistence = (f"persistence true\npersistence_location {store}/\nautosave_interval 1\n"
                       "max_queued_messages 1000000\n" if persistent else "persistence false\nmax_queued_messages 0\n")
        if persistent:
            store.mkdir()
            store.chmod(0o777)
        self.conf.write_text(f"listener {self.port} 127.0.0.1\nallow_anonymous true\nlog_dest stderr\n"
                             f"log_type error\nlog_type warning\n{persistence}", encoding="utf-8")
        self.conf.chmod(0o644)
        self.process: subprocess.Popen[bytes] | None = None
        self.log = self.dir / "mosquitto.log"

    def start(self) -> None:
        with open(self.log, "ab") as log_file:
            self.process = subprocess.Popen([self.binary, "-c", str(self.conf)], stdout=log_file,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        try:
            wait_port(self.port)
        except AssertionError:
            self.stop()
            raise AssertionError(f"mosquitto did not start: {self.log.read_text(errors='replace')}") from None

    def stop(self) -> None:
        stop_process(self.process)
        self.process = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@contextlib.contextmanager
def running_mosquitto(persistent: bool = False) -> Iterator[Mosquitto]:
    broker = Mosquitto(persistent)
    broker.start()
    try:
        yield broker
    finally:
        broker.close()


class Collector:
    """A source sink that keeps every reading, by sensor id."""

    def __init__(self, model: BuildingModel):
        self.model = model
        self.calls = 0
        self.readings: list[tuple[str, float, float]] = []

    def __call__(self, sensor: np.ndarray, ts: np.ndarray, value: np.ndarray) -> None:
        assert sensor.dtype == np.int32 and ts.dtype == np.float64 and value.dtype == np.float64
        assert len(sensor) == len(ts) == len(value)
        self.calls += 1
        for i, t, v in zip(sensor.tolist(), ts.tolist(), value.tolist()):
            self.readings.append((self.model.sensors[i].sensor_id, t, v))

    def values(self, sensor_id: str) -> list[float]:
        return [v for s, _, v in self.readings if s == sensor_id]

    def last(self, sensor_id: str) -> float | None:
        values = self.values(sensor_id)
        return values[-1] if values else None


def building(sources: dict[str, str], quantity: str = "temperature", unit: str = "Cel") -> dict[str, Any]:
    elements = [sensor_element(f"uid-{i:04d}-{sensor_id}", 5000 + i, sensor_id,
                               {"sensor_id": sensor_id, "quantity": quantity, "unit": unit, "source": uri})
                for i, (sensor_id, uri) in enumerate(sources.items())]
    return {"building_id": "sources-test", "model": {"title": "Sources"}, "exported_ts": 1767603600.0,
            "levels": [], "spaces": [], "elements": elements}


def make_source(scheme: str, sources: dict[str, str], settings: Any) -> tuple[Source, Collector]:
    model = build_model(building(sources))
    collector = Collector(model)
    indices = np.array([model.sensor_index[s] for s in sources], dtype=np.int32)
    cls = source_type(scheme)
    assert cls is not None, scheme
    return cls(model, indices, collector, settings), collector


@contextlib.asynccontextmanager
async def running(source: Source) -> AsyncIterator[SourceRunner]:
    runner = SourceRunner(source, min_backoff_s=0.2, max_backoff_s=1.0)
    runner.start()
    try:
        yield runner
    finally:
        await runner.stop()
