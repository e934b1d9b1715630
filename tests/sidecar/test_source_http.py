"""HttpSource against a real aiohttp server on loopback: JSON paths and timestamps, headers from
environment variables (never logged), an endpoint failing and recovering, and a slow endpoint
that must not stall another."""
from __future__ import annotations

import asyncio
import logging
from typing import Any

import pytest
from aiohttp import web
from source_peers import make_source, running
from support.waiting import eventually

from sidecar.sources.base import RECONNECTING, RUNNING
from sidecar.sources.http import HttpSource

SECRET = "Bearer s3cr3t-token-value"


async def serve(state: dict[str, Any]) -> tuple[web.AppRunner, int]:
    async def zone(request: web.Request) -> web.Response:
        if request.headers.get("Authorization") != SECRET:
            return web.json_response({"error": "unauthorized"}, status=401)
        if state.get("fail"):
            return web.json_response({"error": "boom"}, status=500)
        return web.json_response({"data": {"temp": state["temp"], "co2": [400, state["co2"]]},
                                  "time": "2026-01-05T08:00:00Z"})

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(2)
        return web.json_response({"value": 1})

    async def meter(request: web.Request) -> web.Response:
        return web.json_response({"value": state["meter"], "missing": None})

    app = web.Application()
    app.router.add_get("/zone", zone)
    app.router.add_get("/slow", slow)
    app.router.add_get("/meter", meter)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    return runner, port


async def test_paths_headers_failures_and_isolation(monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv("REVITPYIOT_TEST_AUTH", SECRET)
    state: dict[str, Any] = {"temp": 21.5, "co2": 650, "meter": 12.5}
    runner, port = await serve(state)
    base = f"http://127.0.0.1:{port}"
    try:
        source, got = make_source("http", {
            "zone.temp": f"{base}/zone#data.temp",
            "zone.co2": f"{base}/zone#data.co2[1]",
            "slow": f"{base}/slow",
            "meter": f"{base}/meter",
            "gap": f"{base}/meter#missing",
        }, {"interval_s": 0.1, "timeout_s": 0.5, "reconnect_min_s": 0.1, "reconnect_max_s": 0.3,
            "endpoints": {f"{base}/zone": {"headers": {"Authorization": "REVITPYIOT_TEST_AUTH"}, "ts_path": "time"}},
            "sensors": {"zone.co2": {"ts_path": "time"}}})
        assert isinstance(source, HttpSource)
        with caplog.at_level(logging.DEBUG):
            async with running(source):
                await eventually(lambda: len(got.values("meter")) >= 5 and got.values("zone.co2"),
                                 what="readings while /slow times out")
                zone = next(e for e in source.endpoints if e.url.endswith("/zone"))
                slow = next(e for e in source.endpoints if e.url.endswith("/slow"))
                await eventually(lambda: slow.state == RECONNECTING, what="slow endpoint timed out")
                meter_before = len(got.values("meter"))
                await eventually(lambda: len(got.values("meter")) >= meter_before + 5, what="meter goes on")
                assert zone.state == RUNNING and slow.failures >= 1
                assert got.values("zone.temp")[0] == 21.5 and got.values("zone.co2")[0] == 650.0
                co2_ts = [t for s, t, _ in got.readings if s == "zone.co2"]
                assert co2_ts[0] == 1767600000.0
                assert got.values("gap") == [] and source.bad_values >= 1

                state["fail"] = True
                await eventually(lambda: zone.state == RECONNECTING, what="zone reconnecting on HTTP 500")
                state["fail"] = False
                state["temp"] = 30.0
                await eventually(lambda: zone.state == RUNNING and got.last("zone.temp") == 30.0,
                                 what="zone back")
        assert SECRET not in caplog.text and "s3cr3t" not in caplog.text
        assert "HTTP 500" in caplog.text
    finally:
        await runner.cleanup()


async def test_missing_header_variable_is_a_named_failure(caplog: pytest.LogCaptureFixture) -> None:
    state: dict[str, Any] = {"temp": 1.0, "co2": 1, "meter": 1.0}
    runner, port = await serve(state)
    try:
        source, got = make_source("http", {"t": f"http://127.0.0.1:{port}/zone#data.temp"},
                                  {"interval_s": 0.1, "headers": {"Authorization": "REVITPYIOT_UNSET_VARIABLE"},
                                   "reconnect_min_s": 0.1})
        async with running(source) as runner_:
            await eventually(lambda: runner_.state == RECONNECTING, what="reconnecting")
        assert "REVITPYIOT_UNSET_VARIABLE is not set" in caplog.text and got.readings == []
    finally:
        await runner.cleanup()
