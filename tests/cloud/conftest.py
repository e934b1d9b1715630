"""Fixtures for the cloud-connector tests: a PKI, Mosquitto brokers playing IoT Hub / IoT Core,
an observer client on each broker's plain listener, and a recording command handler."""
from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from cloud_helpers import Observer, RecordingHandler
from cloud_peers import (
    Mosquitto,
    Pki,
    cleanup,
    free_loopback_address,
    free_port,
    make_pki,
    world_readable_dir,
)


@pytest.fixture(scope="session")
def pki() -> Iterator[Pki]:
    directory = world_readable_dir("rpiot-cloud-pki-")
    yield make_pki(directory)
    cleanup(directory)


@pytest.fixture
def broker_dir() -> Iterator[Path]:
    directory = world_readable_dir("rpiot-cloud-broker-")
    yield directory
    cleanup(directory)


@pytest.fixture
def azure_broker(pki: Pki, broker_dir: Path) -> Iterator[Mosquitto]:
    broker = Mosquitto(pki, broker_dir, free_loopback_address())
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def aws_broker(pki: Pki, broker_dir: Path) -> Iterator[Mosquitto]:
    host = free_loopback_address()
    broker = Mosquitto(pki, broker_dir, host, tls_port=None, mtls_port=free_port(host))
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def handler() -> RecordingHandler:
    return RecordingHandler()


@pytest.fixture
async def observer_factory() -> AsyncIterator[Callable[[Mosquitto], Any]]:
    made: list[Observer] = []

    async def make(broker: Mosquitto) -> Observer:
        observer = Observer(broker.host, broker.plain_port)
        await observer.connect()
        made.append(observer)
        return observer

    yield make
    for observer in made:
        await observer.close()
