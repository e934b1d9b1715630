from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import pytest

from sidecar.dashboard import LiveFeed, start_dashboard

from .support import DemoBackend

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    def __init__(self, backend: DemoBackend, live: LiveFeed, url: str) -> None:
        self.backend, self.live, self.url = backend, live, url


@pytest.fixture
async def served() -> AsyncIterator[Served]:
    backend = DemoBackend()
    live = LiveFeed(backend)
    backend.live = live
    runner, url = await start_dashboard(backend, "127.0.0.1", 0, token=None, live=live)
    try:
        yield Served(backend, live, url)
    finally:
        await runner.cleanup()


@pytest.fixture
async def browser():
    import os

    from playwright.async_api import async_playwright

    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing: apt-get install -y chromium"
    async with async_playwright() as pw:
        b = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            await b.close()
