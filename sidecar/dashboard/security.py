"""Who may use the dashboard.

- Bound to loopback (the default): no login. Requests must name a loopback host
  (``Host`` header), so a web page that re-binds its DNS name to 127.0.0.1 cannot
  read the dashboard, and state-changing requests must come from the page itself
  (``Origin`` check plus a JSON body, which a cross-site form cannot send).
- Bound elsewhere: the sidecar's access token is required, as a header
  (``Authorization: Bearer <token>`` or ``X-RevitPyIoT-Token``) or as the session
  cookie the login page sets (an HMAC of the token, never the token itself).
- WebSocket upgrades are refused when their ``Origin`` is neither the page's own
  origin nor in the configured allow-list.
"""
from __future__ import annotations

import hashlib
import hmac
import ipaddress
from collections.abc import Iterable

from aiohttp import web

SESSION_COOKIE = "revitpyiot_session"
TOKEN_HEADER = "X-RevitPyIoT-Token"
LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str:
    """The name part of a ``Host`` header (``[::1]:8765`` → ``::1``)."""
    host_header = host_header.strip()
    if host_header.startswith("["):
        return host_header[1:host_header.find("]")] if "]" in host_header else host_header
    return host_header.rsplit(":", 1)[0] if host_header.count(":") == 1 else host_header


def session_value(token: str) -> str:
    return hmac.new(token.encode("utf-8"), b"revitpyiot-dashboard-session-v1", hashlib.sha256).hexdigest()


class AccessPolicy:
    def __init__(self, *, token: str | None, bind_host: str, allowed_origins: Iterable[str] | None = None):
        self.require_token = not is_loopback(bind_host)
        if self.require_token and not token:
            raise ValueError(f"refusing to serve the dashboard on {bind_host!r} (not loopback) "
                             "without an access token")
        self.token = token or ""
        self._session = session_value(self.token) if self.token else ""
        self.allowed_origins = {o.rstrip("/").lower() for o in (allowed_origins or ())}

    def authenticated(self, request: web.Request) -> bool:
        if not self.require_token:
            return True
        offered = request.headers.get(TOKEN_HEADER, "")
        auth = request.headers.get("Authorization", "")
        if auth.lower().startswith("bearer "):
            offered = auth[7:].strip()
        if offered:
            return self.token_matches(offered)
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), self._session.encode())

    def token_matches(self, offered: str) -> bool:
        return hmac.compare_digest(offered.encode("utf-8"), self.token.encode("utf-8"))

    def host_allowed(self, request: web.Request) -> bool:
        """Loopback mode only answers loopback host names (DNS-rebinding guard)."""
        return self.require_token or is_loopback(host_name(request.host))

    def origin_allowed(self, request: web.Request, *, required: bool) -> bool:
        origin = request.headers.get("Origin")
        if origin is None:
            # Browsers always send Origin on WebSocket upgrades and cross-site POSTs; its
            # absence means a non-browser client, which the token (when required) covers.
            return not required
        origin = origin.rstrip("/").lower()
        own = f"{request.scheme}://{request.host}".lower()
        return origin == own or origin in self.allowed_origins
