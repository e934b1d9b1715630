"""The error a request handler raises to send an error reply (PROTOCOL.md error codes)."""
from __future__ import annotations

from typing import Any


class RequestError(Exception):
    def __init__(self, code: str, message: str, details: Any = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details

    def to_wire(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}
