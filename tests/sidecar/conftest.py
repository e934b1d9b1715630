"""Fixtures for sidecar tests: a real ``python -m sidecar serve`` subprocess and clients."""
from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

import pytest
import zmq

TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if TESTS not in sys.path:  # `tests` itself is shadowed by a site-packages package: import `support`
    sys.path.insert(0, TESTS)

from support.protocol_client import CommandClient, EventListener
from support.sidecar_process import SidecarHandle, running_sidecar

QUIET_SIM = "[simulator]\ndemo_faults = false\n"


@pytest.fixture
def sidecar_factory() -> Callable[..., AbstractContextManager[SidecarHandle]]:
    """``with sidecar_factory(config_text=...) as handle:`` for tests that need their own settings."""
    return running_sidecar


Monitoring = Callable[[str | None, dict[str, Any]],
                      AbstractContextManager[tuple[SidecarHandle, CommandClient, EventListener]]]


@pytest.fixture
def monitoring(zmq_context: zmq.Context[Any]) -> Monitoring:
    """``with monitoring(config_text, building) as (handle, client, events):`` a sidecar with its
    own settings, configured with ``building`` and started, its events listened to from before."""
    @contextlib.contextmanager
    def run(config_text: str | None, building: dict[str, Any]
            ) -> Iterator[tuple[SidecarHandle, CommandClient, EventListener]]:
        with running_sidecar(config_text) as handle:
            client = CommandClient(handle.command_endpoint, handle.token, zmq_context)
            events = EventListener(handle.event_endpoint, context=zmq_context)
            try:
                events.settle(client)
                client.call("configure", building)
                client.call("start")
                yield handle, client, events
            finally:
                events.close()
                client.close()
    return run


@pytest.fixture
def sidecar() -> Iterator[SidecarHandle]:
    """A fresh sidecar with default settings (demo faults off)."""
    with running_sidecar(QUIET_SIM) as handle:
        yield handle


@pytest.fixture
def zmq_context() -> Iterator[zmq.Context[Any]]:
    context: zmq.Context[Any] = zmq.Context()
    yield context
    context.destroy(linger=0)


@pytest.fixture
def client(sidecar: SidecarHandle, zmq_context: zmq.Context[Any]) -> Iterator[CommandClient]:
    command = CommandClient(sidecar.command_endpoint, sidecar.token, zmq_context)
    yield command
    command.close()


@pytest.fixture
def events(sidecar: SidecarHandle, client: CommandClient, zmq_context: zmq.Context[Any]) -> Iterator[EventListener]:
    listener = EventListener(sidecar.event_endpoint, context=zmq_context)
    listener.settle(client)
    yield listener
    listener.close()
