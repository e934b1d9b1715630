"""RevitPyIoT sidecar: the CPython asyncio service the Revit extension talks to over ZeroMQ."""
from shared_schemas.protocol import __version__

__all__ = ["__version__"]
