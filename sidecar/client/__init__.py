"""The CPython side's client of the sidecar: one launcher, one request client.

``launcher``: runs ``python -m sidecar serve`` as a child process (the tray, the demo, the
benchmarks and the tests start it through here). ``requests``: the command endpoint's
client (pyzmq DEALER, token, time-out, lazy-pirate reconnect, typed errors). Nothing in
the sidecar's service imports this package: it is how others talk to the service.
"""
from sidecar.client.launcher import LaunchError, SidecarLauncher, say_hello, serve_arguments
from sidecar.client.requests import RequestClient, SidecarError, SidecarTimeout

__all__ = ["LaunchError", "RequestClient", "SidecarError", "SidecarLauncher", "SidecarTimeout", "say_hello",
           "serve_arguments"]
