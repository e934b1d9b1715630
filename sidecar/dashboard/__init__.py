"""RevitPyIoT's live dashboard: aiohttp pages, REST endpoints and WebSocket pushes.

Wiring (see docs/dashboard.md): build a backend (``SidecarMirror`` from the command
handler and a building getter, or any ``DashboardBackend``), a ``LiveFeed`` subscribed
to the event hub, then ``await start_dashboard(backend, host, port, token=..., live=live)``.
"""
from sidecar.dashboard.app import create_app, live_feed, plotly_js_path, start_dashboard
from sidecar.dashboard.backend import CommandHandler, DashboardBackend, EventSink
from sidecar.dashboard.live import LiveFeed
from sidecar.dashboard.mirror import SidecarMirror
from sidecar.dashboard.resample import envelope

__all__ = [
           "CommandHandler",
           "DashboardBackend",
           "EventSink",
           "LiveFeed",
           "SidecarMirror",
           "create_app",
           "envelope",
           "live_feed",
           "plotly_js_path",
           "start_dashboard",
]
