"""Cloud credentials: where they come from and how they never leave.

A secret is resolved from an environment variable named in the config (the config file never
holds the secret itself) or, failing that, from the user's profile secrets file
(``<data dir>/cloud_secrets.toml``, user-only permissions, one table per connector). Every
text that could carry a secret -- log lines, ``status()['last_error']``, exception messages --
passes through :func:`redact`, which masks the values this process has loaded plus anything
that *looks* like a connection-string key, SAS signature or PEM private key.
"""
from __future__ import annotations

import logging
import os
import re
import stat
import threading
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REDACTED = "***"
PROFILE_SECRETS_FILE = "cloud_secrets.toml"

log = logging.getLogger("sidecar.cloud.secrets")

# Values this process has resolved as secrets (exact strings, and their sub-parts that are
# secrets themselves, e.g. the key inside a connection string). Redaction masks them wherever
# they appear, even in third-party exception text.
_known: set[str] = set()
_known_lock = threading.Lock()

_PATTERNS = [
    # SharedAccessKey=..., SharedAccessSignature=..., sig=..., password=..., token=...
    re.compile(r"(?i)\b(SharedAccessKey|SharedAccessSignature|sig|password|passphrase|token|"
               r"secret|api[_-]?key)(\s*[=:]\s*)([^;&\s,'\"}]+)"),
    re.compile(r"(?i)(SharedAccessSignature\s+)(\S+)"),
]
_PEM_KEY = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.DOTALL)


class SecretError(Exception):
    """A secret the configuration names could not be found (the message never holds a value)."""


def remember_secret(value: str) -> None:
    """Register ``value`` so :func:`redact` masks it everywhere from now on."""
    if not value or len(value) < 4:
        return
    parts = {value}
    # a connection string's key is a secret on its own (it shows up in SAS computations)
    for item in value.split(";"):
        name, _, val = item.partition("=")
        if name.strip().lower() in ("sharedaccesskey", "sharedaccesssignature") and len(val) >= 4:
            parts.add(val.strip())
    with _known_lock:
        _known.update(parts)


def redact(text: Any) -> str:
    """``text`` as a string with every known or recognisable secret masked."""
    out = str(text)
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in out:
            out = out.replace(secret, REDACTED)
    out = _PEM_KEY.sub("-----BEGIN PRIVATE KEY-----" + REDACTED + "-----END PRIVATE KEY-----", out)
    out = _PATTERNS[0].sub(lambda m: m.group(1) + m.group(2) + REDACTED, out)
    out = _PATTERNS[1].sub(lambda m: m.group(1) + REDACTED, out)
    return out


def redact_error(exc: BaseException) -> str:
    """A one-line description of ``exc`` fit for status and logs."""
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return redact(text)[:500]


class RedactingFilter(logging.Filter):
    """Rewrites a record's message through :func:`redact` (args are rendered first, so a
    secret passed as a ``%s`` argument is masked too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a malformed record is the logging module's business, not ours
            return True
        cleaned = redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            # tracebacks render later from exc_info; fold a redacted rendering into the message
            cleaned += "\n" + redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
            record.exc_text = None
        record.msg, record.args = cleaned, None
        return True


_FILTERED_LOGGERS = ("sidecar.cloud", "azure.iot.device", "paho", "awscrt", "awsiot")
_filter = RedactingFilter()


def install_log_redaction() -> None:
    """Attach the redacting filter to the loggers cloud code and the SDKs log through, and to
    every handler of the root logger (records from child loggers skip parent loggers' filters
    but not the handlers')."""
    names = list(_FILTERED_LOGGERS)
    for name in list(logging.root.manager.loggerDict):
        if any(name == p or name.startswith(p + ".") for p in _FILTERED_LOGGERS):
            names.append(name)
    for name in names:
        logger = logging.getLogger(name)
        if _filter not in logger.filters:
            logger.addFilter(_filter)
    for handler in logging.root.handlers:
        if _filter not in handler.filters:
            handler.addFilter(_filter)


def profile_secrets(data_dir: Path, file: str | None = None) -> dict[str, Any]:
    """The user's profile secrets file (``{}`` when absent). Warns when others can read it."""
    path = Path(file).expanduser() if file else Path(data_dir) / PROFILE_SECRETS_FILE
    if not path.exists():
        return {}
    if os.name == "posix" and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("secrets file %s is readable by other users: chmod 600 it", path)
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        # the parser's message can quote the offending line: report only where it is
        raise SecretError(f"cannot read secrets file {path}: {type(exc).__name__}") from None
    return data


def resolve_secret(settings: Mapping[str, Any], name: str, section: str, data_dir: Path,
                   environ: Mapping[str, str] | None = None, required: bool = True) -> str | None:
    """The secret ``name`` (e.g. ``connection_string``) for connector ``section``.

    Looks at the env var named by ``settings[name + '_env']`` first, then the profile file's
    ``[section] name`` entry. A literal ``settings[name]`` is refused: secrets stay out of the
    config file."""
    environ = os.environ if environ is None else environ
    if settings.get(name):
        raise SecretError(f"[cloud.{section}] {name} must not be written in the config file: "
                          f"set {name}_env to the name of an environment variable instead")
    env_name = settings.get(f"{name}_env")
    if env_name and environ.get(str(env_name)):
        value = str(environ[str(env_name)]).strip()
        remember_secret(value)
        return value
    table = profile_secrets(data_dir, settings.get("secrets_file")).get(section, {})
    if isinstance(table, dict) and table.get(name):
        value = str(table[name]).strip()
        remember_secret(value)
        return value
    if required:
        where = f"environment variable {env_name}" if env_name else f"{name}_env"
        raise SecretError(f"[cloud.{section}] {name} not found: set {where} or add it to the "
                          f"[{section}] table of {PROFILE_SECRETS_FILE} in the data folder")
    return None
