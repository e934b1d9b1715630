"""The access token every request carries, and keeping secrets out of logs.

The token file lives in the user's data folder. On POSIX it is created with mode 0600. On
Windows the file inherits the ACL of ``%LOCALAPPDATA%\\RevitPyIoT``, which is already readable
by the user only (and SYSTEM/Administrators), so no extra ACL work is needed there.
"""
from __future__ import annotations

import hmac
import os
import re
import secrets
from pathlib import Path
from typing import Any

TOKEN_BYTES = 32


def ensure_token(path: Path) -> str:
    """The token in ``path``; a new random one is written (user-only) when the file is missing
    or empty."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        existing = path.read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        existing = ""
    if existing:
        _restrict(path)
        return existing
    token = secrets.token_urlsafe(TOKEN_BYTES)
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    # O_EXCL + 0o600: the secret is never readable by others, not even for a moment.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, token.encode("ascii"))
    finally:
        os.close(fd)
    os.replace(temporary, path)
    _restrict(path)
    return token


def _restrict(path: Path) -> None:
    if os.name != "nt":
        os.chmod(path, 0o600)


def token_matches(given: Any, expected: str) -> bool:
    """Constant-time comparison (the length of ``expected`` is the only thing it leaks)."""
    if not isinstance(given, str):
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8"))


_SECRET_KEYS = re.compile(r"(token|secret|password|passwd|key|sas|credential|connection_string)", re.IGNORECASE)
_SECRET_IN_TEXT = re.compile(
    r"((?:token|secret|password|passwd|sharedaccesskey|apikey|api_key)\s*[=:]\s*)([^\s;,&]+)", re.IGNORECASE)
_URL_PASSWORD = re.compile(r"(://[^/:@\s]+:)([^@\s]+)(@)")
REDACTED = "***"


def redact(value: Any) -> Any:
    """A copy of ``value`` fit for a log: map entries whose key looks secret are masked, and
    ``key=value`` secrets inside strings (connection strings, URLs) are masked too."""
    if isinstance(value, dict):
        return {k: (REDACTED if isinstance(k, str) and _SECRET_KEYS.search(k) else redact(v))
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [redact(v) for v in value]
    if isinstance(value, str):
        masked = _SECRET_IN_TEXT.sub(lambda m: m.group(1) + REDACTED, value)
        return _URL_PASSWORD.sub(lambda m: m.group(1) + REDACTED + m.group(3), masked)
    return value
