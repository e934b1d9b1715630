"""Who may use the dashboard: loopback without login, token elsewhere, WebSocket origins checked."""
from __future__ import annotations

import aiohttp
import pytest

from sidecar.dashboard import LiveFeed, create_app, start_dashboard

from .support import DemoBackend

TOKEN = "s3cret-token-for-tests"


def test_non_loopback_bind_without_token_is_refused():
    backend = DemoBackend()
    for host in ("0.0.0.0", "192.168.1.20", "::", "dashboard.example.org"):
        with pytest.raises(ValueError, match="without an access token"):
            create_app(backend, token=None, bind_host=host)
        with pytest.raises(ValueError):
            create_app(backend, token="", bind_host=host)
    for host in ("127.0.0.1", "::1", "localhost", "127.0.0.2"):
        create_app(backend, token=None, bind_host=host)  # loopback: login-free


async def test_websocket_with_a_foreign_origin_is_rejected():
    backend = DemoBackend()
    runner, url = await start_dashboard(backend, "127.0.0.1", 0, token=None, live=LiveFeed(backend))
    ws_url = url.replace("http", "ws") + "ws"
    try:
        async with aiohttp.ClientSession() as session:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await session.ws_connect(ws_url, headers={"Origin": "https://evil.example"})
            assert refused.value.status == 403
            own = url.rstrip("/")
            async with session.ws_connect(ws_url, headers={"Origin": own}) as ws:
                first = await ws.receive_json(timeout=10)
                assert first["type"] == "snapshot" and first["reason"] == "connect"
            # a cross-site page may not send commands either
            reply = await session.post(url + "api/command/stop", json={}, headers={"Origin": "https://evil.example"})
            assert reply.status == 403
            reply = await session.post(url + "api/command/stop", data="{}", headers={"Origin": own})
            assert reply.status == 415  # not JSON: a plain cross-site form cannot do this
            assert backend.requests == []
            # DNS rebinding: loopback mode only answers loopback host names
            reply = await session.get(url + "api/status", headers={"Host": "attacker.example:80"})
            assert reply.status == 403
    finally:
        await runner.cleanup()


async def test_allow_listed_origin_is_accepted():
    backend = DemoBackend()
    runner, url = await start_dashboard(backend, "127.0.0.1", 0, token=None,
                                        allowed_origins=["https://ops.example.org"])
    try:
        async with aiohttp.ClientSession() as session, \
                session.ws_connect(url.replace("http", "ws") + "ws", headers={"Origin": "https://ops.example.org"}) as ws:
            assert (await ws.receive_json(timeout=10))["type"] == "snapshot"
    finally:
        await runner.cleanup()


async def test_token_required_when_bound_elsewhere():
    """Bound beyond loopback (the wildcard address), every route but the login page needs the token."""
    backend = DemoBackend()
    runner, url = await start_dashboard(backend, "0.0.0.0", 0, token=TOKEN)
    base = url.replace("0.0.0.0", "127.0.0.1")
    try:
        async with aiohttp.ClientSession() as session:
            for path in ("api/building", "api/status", "api/snapshot", "api/history?sensor_id=x"):
                assert (await session.get(base + path)).status == 401, path
            page = await session.get(base, allow_redirects=False)
            assert page.status == 302 and page.headers["Location"] == "/login"
            assert (await session.get(base + "login")).status == 200
            wrong = await session.get(base + "api/status", headers={"Authorization": "Bearer nope"})
            assert wrong.status == 401
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect(base.replace("http", "ws") + "ws")
            assert (await session.post(base + "api/command/stop", json={})).status == 401
            assert backend.requests == []

            ok = await session.get(base + "api/status", headers={"Authorization": f"Bearer {TOKEN}"})
            assert ok.status == 200 and (await ok.json())["status"]["state"] == "monitoring"
            ok = await session.get(base + "api/building", headers={"X-RevitPyIoT-Token": TOKEN})
            assert ok.status == 200
            async with session.ws_connect(base.replace("http", "ws") + "ws",
                                          headers={"Authorization": f"Bearer {TOKEN}"}) as ws:
                assert (await ws.receive_json(timeout=10))["type"] == "snapshot"

        # the login page sets a session cookie (an HMAC of the token, never the token itself)
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as browser:  # IP host
            failed = await browser.post(base + "login", data={"token": "wrong"}, allow_redirects=False)
            assert failed.headers["Location"] == "/login?failed=1"
            signed = await browser.post(base + "login", data={"token": TOKEN}, allow_redirects=False)
            assert signed.status == 302
            cookie = signed.cookies["revitpyiot_session"]
            assert TOKEN not in cookie.value and cookie["httponly"]
            assert (await browser.get(base + "api/building")).status == 200
            assert (await browser.get(base)).status == 200
    finally:
        await runner.cleanup()


async def test_bad_requests_get_precise_errors():
    backend = DemoBackend()
    runner, url = await start_dashboard(backend, "127.0.0.1", 0)
    try:
        async with aiohttp.ClientSession() as session:
            reply = await session.get(url + "api/history")
            assert reply.status == 400 and (await reply.json())["error"]["details"] == "sensor_id"
            reply = await session.get(url + "api/history?sensor_id=ahu-01.supply_air_temp&start=abc")
            assert reply.status == 400
            reply = await session.get(url + "api/history?sensor_id=nope&start=1&end=2")
            assert reply.status == 400 and (await reply.json())["error"]["code"] == "bad_request"
            reply = await session.post(url + "api/command/configure", json={})
            assert reply.status == 404 and (await reply.json())["error"]["code"] == "unknown_type"
            reply = await session.post(url + "api/command/ack", json={"alert_id": "missing"})
            assert reply.status == 400 and "missing" in (await reply.json())["error"]["message"]
            reply = await session.post(url + "api/command/ack", data="[1", headers={"Content-Type": "application/json"})
            assert reply.status == 400
            plotly = await session.get(url + "vendor/plotly.min.js")
            assert plotly.status == 200 and len(await plotly.read()) > 1_000_000
    finally:
        await runner.cleanup()
