"""The dashboard's aiohttp application: pages, REST endpoints and the live WebSocket."""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import re
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

from shared_schemas import protocol
from sidecar.dashboard.backend import DashboardBackend
from sidecar.dashboard.live import ClientChannel, LiveFeed, encode_json
from sidecar.dashboard.resample import DEFAULT_MAX_POINTS, normalise_history
from sidecar.dashboard.security import SESSION_COOKIE, AccessPolicy, session_value
from sidecar.dashboard.units import UNIT_SYMBOLS

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "static"
LIVE_KEY = web.AppKey("live", LiveFeed)
BACKEND_KEY = web.AppKey("backend", object)
POLICY_KEY = web.AppKey("policy", AccessPolicy)

# Requests the page may send through the command handler; everything else is refused here.
PAGE_COMMANDS = ("ack", "shelve", "unshelve", "start", "stop")
MAX_HISTORY_POINTS = 10_000
# Replay (/api/at): how many sensors one request may ask for, how far back a value may be
# looked for, and how many history requests run at once.
MAX_REPLAY_SENSORS = 5000
MAX_REPLAY_WINDOW_S = 7 * 86400.0
REPLAY_CONCURRENCY = 16
# Bytes a client's socket may hold unsent before pushes go through its bounded queue instead.
DIRECT_WRITE_MAX_BUFFERED = 64 * 1024
ERROR_STATUS = {"bad_request": 400, "unauthorized": 401, "unknown_type": 404, "conflict": 409,
                "too_large": 413, "unsupported_version": 400}
OPEN_PATHS = ("/login", "/static/style.css", "/favicon.svg")
# A command body is a flat JSON object of a few scalars ({"alert_id": ..., "note": ...}): anything
# larger or deeper is refused before json.loads (100,000 nested "[" made its C scanner raise
# RecursionError, an HTTP 500).
MAX_COMMAND_BODY_BYTES = 16 * 1024
MAX_COMMAND_BODY_DEPTH = 4
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_JSON_BRACKET = re.compile(r"[\[\]{}]")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def plotly_js_path() -> Path:
    """The ``plotly.min.js`` bundled inside the installed ``plotly`` package (no CDN)."""
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    if not path.is_file():
        raise FileNotFoundError(f"plotly.min.js not found in the plotly package at {path}")
    return path


def create_app(backend: DashboardBackend, *, token: str | None, bind_host: str,
               allowed_origins: Iterable[str] | None = None, live: LiveFeed | None = None) -> web.Application:
    """The dashboard application. Raises ``ValueError`` for a non-loopback bind without a token."""
    policy = AccessPolicy(token=token, bind_host=bind_host, allowed_origins=allowed_origins)
    app = web.Application(middlewares=[_access_middleware], client_max_size=1024 * 1024)
    app[POLICY_KEY] = policy
    app[BACKEND_KEY] = backend
    app[LIVE_KEY] = live if live is not None else LiveFeed(backend)
    plotly_js = plotly_js_path()

    async def plotly_handler(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(plotly_js, headers={"Cache-Control": "max-age=86400"})

    app.router.add_get("/", _index)
    app.router.add_get("/login", _login_page)
    app.router.add_post("/login", _login)
    app.router.add_get("/vendor/plotly.min.js", plotly_handler)
    app.router.add_get("/api/building", _building)
    app.router.add_get("/api/snapshot", _snapshot)
    app.router.add_get("/api/status", _status)
    app.router.add_get("/api/latest", _latest)
    app.router.add_get("/api/history", _history)
    app.router.add_get("/api/at", _values_at)
    app.router.add_post("/api/command/{type}", _command)
    app.router.add_get("/ws", _websocket)
    app.router.add_static("/static/", STATIC_DIR, show_index=False)
    return app


def live_feed(app: web.Application) -> LiveFeed:
    """The event sink to subscribe to the sidecar's hub."""
    return app[LIVE_KEY]


async def start_dashboard(backend: DashboardBackend, host: str = "127.0.0.1", port: int = 8765,
                          token: str | None = None, *, allowed_origins: Iterable[str] | None = None,
                          live: LiveFeed | None = None) -> tuple[web.AppRunner, str]:
    """Serve the dashboard; returns the runner (``await runner.cleanup()`` stops it) and its URL."""
    app = create_app(backend, token=token, bind_host=host, allowed_origins=allowed_origins, live=live)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    addresses = runner.addresses  # the real port when port=0 asked for an ephemeral one
    bound_port = addresses[0][1] if addresses else port
    shown = f"[{host}]" if ":" in host else host
    return runner, f"http://{shown}:{bound_port}/"


# ----- middleware -----
@web.middleware
async def _access_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    policy = request.app[POLICY_KEY]
    if not policy.host_allowed(request):
        return _error(403, "unauthorized", "this dashboard only answers loopback host names")
    if request.method not in ("GET", "HEAD", "OPTIONS") and not policy.origin_allowed(request, required=False):
        return _error(403, "unauthorized", "cross-origin request refused")
    if request.path not in OPEN_PATHS and not policy.authenticated(request):
        if request.method == "GET" and request.path == "/":
            raise web.HTTPFound("/login")
        return _error(401, "unauthorized", "the access token is required")
    response = await handler(request)
    if not response.prepared:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
    return response


# ----- pages -----
async def _index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def _login_page(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "login.html", headers={"Cache-Control": "no-cache"})


async def _login(request: web.Request) -> web.StreamResponse:
    policy = request.app[POLICY_KEY]
    try:
        form = await request.post()
    except ValueError as exc:  # a malformed form or multipart body (UnicodeDecodeError included)
        return _error(400, "bad_request", f"the login form could not be read ({exc})")
    offered = str(form.get("token", "")).strip()
    if not policy.require_token:
        raise web.HTTPFound("/")
    if not offered or not policy.token_matches(offered):
        raise web.HTTPFound("/login?failed=1")
    response = web.HTTPFound("/")
    response.set_cookie(SESSION_COOKIE, session_value(policy.token), httponly=True, samesite="Strict",
                        secure=request.secure, path="/")
    raise response


# ----- REST -----
def _backend(request: web.Request) -> DashboardBackend:
    return request.app[BACKEND_KEY]  # type: ignore[return-value]


async def _building(request: web.Request) -> web.Response:
    return _json({"building": _backend(request).building(), "units": UNIT_SYMBOLS})


async def _snapshot(request: web.Request) -> web.Response:
    return _json(_backend(request).snapshot())


async def _status(request: web.Request) -> web.Response:
    return _json({"status": _backend(request).status(), "dashboard": request.app[LIVE_KEY].stats()})


async def _latest(request: web.Request) -> web.Response:
    latest = _backend(request).latest()
    return _json({"latest": {sid: [ts, value] for sid, (ts, value) in latest.items()}})


async def _history(request: web.Request) -> web.Response:
    query = request.query
    sensor_id = query.get("sensor_id", "")
    if not sensor_id:
        return _error(400, "bad_request", "sensor_id is required", "sensor_id")
    now = time.time()
    try:
        end = float(query.get("end", now))
        start = float(query.get("start", end - 86400.0))
        points = int(query.get("points", DEFAULT_MAX_POINTS))
    except ValueError as exc:
        return _error(400, "bad_request", f"bad number in query: {exc}")
    if not (math.isfinite(start) and math.isfinite(end)) or end <= start:
        return _error(400, "bad_request", "start must be before end", "start")
    points = max(10, min(points, MAX_HISTORY_POINTS))
    try:
        reply = await _backend(request).history(sensor_id, start, end, points)
        series = normalise_history(reply, points)
    except Exception as exc:  # noqa: BLE001 - reported to the page, never crashes the server
        return _command_error(exc)
    return _json({"sensor_id": sensor_id, "start": start, "end": end, **series})


async def _values_at(request: web.Request) -> web.Response:
    """Replay: the last value at or before ``t`` (within ``window`` seconds) of each sensor on
    ``level`` (a level's unique_id or name) and of each ``sensor_id`` asked, from the same
    ``history`` request the trends use. ``{"t", "window", "values": {sensor_id: [ts, value]}}``;
    a sensor with nothing in the window is left out."""
    query = request.query
    sensor_ids = list(dict.fromkeys(query.getall("sensor_id", []) + _sensors_on_level(request, query.get("level"))))
    if len(sensor_ids) > MAX_REPLAY_SENSORS:
        return _error(400, "bad_request", f"at most {MAX_REPLAY_SENSORS} sensors per request", "sensor_id")
    try:
        t = float(query["t"])
        window = float(query.get("window", 3600.0))
    except KeyError:
        return _error(400, "bad_request", "t is required", "t")
    except ValueError as exc:
        return _error(400, "bad_request", f"bad number in query: {exc}")
    if not (math.isfinite(t) and math.isfinite(window)) or not 0 < window <= MAX_REPLAY_WINDOW_S:
        return _error(400, "bad_request", f"t must be finite and 0 < window <= {MAX_REPLAY_WINDOW_S:g}", "window")
    backend = _backend(request)
    gate = asyncio.Semaphore(REPLAY_CONCURRENCY)

    async def last_value(sensor_id: str) -> tuple[str, list[float] | None]:
        async with gate:
            try:
                reply = await backend.history(sensor_id, t - window, t, 50)
                series = normalise_history(reply, 50)
            except Exception as exc:  # noqa: BLE001 - one unknown sensor must not blank the plan
                log.debug("replay: no history for %s: %s", sensor_id, exc)
                return sensor_id, None
        # A roll-up bucket is stamped with its start: only one that ended by t says what was known at t.
        width = protocol.HISTORY_BUCKET_S.get(str(reply.get("resolution")), 0.0)
        pairs = [(ts, value) for ts, value in zip(series["ts"], series["value"], strict=True) if ts + width <= t]
        return sensor_id, (list(pairs[-1]) if pairs else None)

    found = await asyncio.gather(*(last_value(sid) for sid in sensor_ids))
    return _json({"t": t, "window": window, "values": {sid: pair for sid, pair in found if pair is not None}})


def _sensors_on_level(request: web.Request, level: str | None) -> list[str]:
    building = _backend(request).building() if level else None
    if not building:
        return []
    names = {lv.get("unique_id"): lv.get("name") for lv in building.get("levels") or []}
    return [e["sensor"]["sensor_id"] for e in building.get("elements") or []
            if (e.get("sensor") or {}).get("sensor_id") and e.get("level") is not None
            and level in (e["level"], names.get(e["level"]))]


async def _command(request: web.Request) -> web.Response:
    kind = request.match_info["type"]
    if kind not in PAGE_COMMANDS:
        return _error(404, "unknown_type", f"the dashboard does not send {kind!r} requests")
    if request.content_type != "application/json":
        # a cross-site <form> cannot send JSON without a CORS preflight, which is never answered
        return _error(415, "bad_request", "send the body as application/json")
    if request.content_length is not None and request.content_length > MAX_COMMAND_BODY_BYTES:
        return _too_large()
    raw = await request.read()  # at most client_max_size (1 MiB) whatever the headers say: 413 beyond
    if len(raw) > MAX_COMMAND_BODY_BYTES:
        return _too_large()
    try:
        body = parse_command_body(raw)
    except BodyError as exc:
        return _error(400, "bad_request", str(exc))
    try:
        reply = await _backend(request).request(kind, body)
    except Exception as exc:  # noqa: BLE001
        return _command_error(exc)
    return _json({"ok": True, "body": reply})


class BodyError(ValueError):
    """A command body that is not a small, shallow JSON object."""


def parse_command_body(raw: bytes) -> dict[str, Any]:
    """The JSON object of a command body of at most ``MAX_COMMAND_BODY_BYTES``, nested at most
    ``MAX_COMMAND_BODY_DEPTH`` levels (checked on the text, outside strings, before decoding);
    ``NaN``/``Infinity`` and integers beyond Python's digit limit are refused too."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BodyError("the body is not UTF-8") from None
    depth = deepest = 0
    for bracket in _JSON_BRACKET.findall(_JSON_STRING.sub('""', text)):
        depth += 1 if bracket in "[{" else -1
        deepest = max(deepest, depth)
        if deepest > MAX_COMMAND_BODY_DEPTH:
            raise BodyError(f"the body nests deeper than {MAX_COMMAND_BODY_DEPTH} levels")
    try:
        body = json.loads(text, parse_constant=_refuse_constant)
    except ValueError as exc:  # JSONDecodeError, a non-finite constant, an integer too long
        raise BodyError(f"the body is not JSON ({exc})") from None
    if not isinstance(body, dict):
        raise BodyError("the body must be a JSON object")
    return body


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number the protocol carries")


def _too_large() -> web.Response:
    return _error(413, "too_large", f"a command body has at most {MAX_COMMAND_BODY_BYTES} bytes",
                  {"limit": MAX_COMMAND_BODY_BYTES})


# ----- WebSocket -----
async def _websocket(request: web.Request) -> web.StreamResponse:
    policy = request.app[POLICY_KEY]
    if not policy.origin_allowed(request, required=False):
        return _error(403, "unauthorized", "WebSocket origin refused")
    live = request.app[LIVE_KEY]
    # compress=False: per-client deflate of every push would cost more than everything else together
    ws = web.WebSocketResponse(heartbeat=30.0, max_msg_size=64 * 1024, compress=False)
    await ws.prepare(request)
    channel = live.add_client(peer=str(request.remote))
    channel.write_now = _direct_writer(request, ws)
    pump = asyncio.create_task(_pump(ws, live, channel))
    try:
        async for message in ws:
            if message.type == WSMsgType.TEXT and message.data.strip() == '{"type":"resync"}':
                channel.needs_snapshot = True
                channel.wake.set()
            elif message.type == WSMsgType.ERROR:
                break
    finally:
        live.remove_client(channel)
        pump.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pump
    return ws


async def _pump(ws: web.WebSocketResponse, live: LiveFeed, channel: ClientChannel) -> None:
    try:
        while not ws.closed:
            frame = await live.next_message(channel)
            channel.sending = True
            try:
                await ws.send_frame(frame, WSMsgType.TEXT)
            finally:
                channel.sending = False
    except (ConnectionError, RuntimeError) as exc:
        log.debug("dashboard client %s gone: %s", channel.peer, exc)
        await ws.close()


def _direct_writer(request: web.Request, ws: web.WebSocketResponse) -> Callable[[bytes], bool]:
    """Write a ready frame to this client's socket when nothing is waiting to go out: twenty
    clients then cost twenty socket writes per push, not twenty task switches and framings.
    A backed-up or closing connection says no, and the frame takes the queue (and its bounds)."""
    transport = request.transport

    def write_now(frame: bytes) -> bool:
        if transport is None or ws.closed or transport.is_closing():
            return False
        if transport.get_write_buffer_size() > DIRECT_WRITE_MAX_BUFFERED:
            return False
        transport.write(frame)
        return True

    return write_now


# ----- helpers -----
def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(text=encode_json(data), status=status, content_type="application/json",
                        headers={"Cache-Control": "no-store"})


def _error(status: int, code: str, message: str, details: Any = None) -> web.Response:
    return _json({"ok": False, "error": {"code": code, "message": message, "details": details}}, status)


def _command_error(exc: Exception) -> web.Response:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None) or str(exc) or type(exc).__name__
    if not isinstance(code, str):
        log.exception("dashboard request failed", exc_info=exc)
        return _error(500, "internal", message)
    return _error(ERROR_STATUS.get(code, 500), code, message, getattr(exc, "details", None))

