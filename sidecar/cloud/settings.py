"""``[cloud.<kind>]`` settings, parsed with the rest of the file (no cloud SDK is imported here).

Secrets never live in these dataclasses: ``secret_refs`` keeps only the keys that say where a
secret is (``*_env``, ``secrets_file``) or a secret wrongly written in the file, which the
connector refuses when it starts (``secrets.resolve_secret``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sidecar.settings import SettingsError, Table

from .outbox import OutboxLimits

# what the cloud may ask for by default; `configure` and `ingest` stay local unless allowed
DEFAULT_ALLOWED_COMMANDS = ("start", "stop", "status", "snapshot", "ack", "set_limits", "shelve", "history")
SECRET_KEYS = ("connection_string", "private_key", "private_key_passphrase")
AZURE_AUTH = ("connection_string", "x509")
AWS_DEFAULT_TOPICS = {
    "topic_telemetry": "building/{building_id}/sensors/data",
    "topic_alerts": "building/{building_id}/alerts",
    "topic_health": "building/{building_id}/health",
    "topic_commands": "building/{building_id}/controls/commands",
    "topic_results": "building/{building_id}/controls/results",
}


@dataclass(frozen=True, slots=True)
class CommonSettings:
    """Settings every ``[cloud.<kind>]`` section shares (documented in docs/cloud.md)."""
    enabled: bool = True
    building_id: str | None = None
    max_readings_per_message: int = 500
    inflight_window: int = 32
    publish_timeout_s: float = 10.0
    backoff_initial_s: float = 0.5
    backoff_max_s: float = 60.0
    max_pending_items: int = 200_000
    send_health: bool = False
    allowed_commands: tuple[str, ...] = DEFAULT_ALLOWED_COMMANDS
    status_interval_s: float = 30.0
    min_message_interval_s: float = 0.0
    limits: OutboxLimits = field(default_factory=OutboxLimits)

    @classmethod
    def parse(cls, s: Mapping[str, Any] | Table, min_message_interval_s: float = 0.0) -> CommonSettings:
        t = s if isinstance(s, Table) else Table(s, "cloud")
        try:
            limits = OutboxLimits(
                max_rows=int(t.number("outbox_max_rows", 100_000, 10, 1e9)),
                max_bytes=int(t.number("outbox_max_mb", 256, 0.004, 1e6) * 1024 * 1024),
                rollup_chunk_rows=int(t.number("rollup_chunk_rows", 500, 2, 1e6)),
                rollup_bucket_s=t.number("rollup_bucket_s", 60, 0.001, 86400))
        except ValueError as exc:
            raise SettingsError(f"{t.where}: {exc}") from None
        interval_ms = t.number("min_message_interval_ms", None, 0, 60_000)
        return cls(
            enabled=t.flag("enabled", True),
            building_id=t.text("building_id"),
            max_readings_per_message=int(t.number("max_readings_per_message", 500, 1, 100_000)),
            inflight_window=int(t.number("inflight_window", 32, 1, 10_000)),
            publish_timeout_s=t.number("publish_timeout_s", 10.0, 0.1, 600),
            backoff_initial_s=t.number("backoff_initial_s", 0.5, 0.01, 3600),
            backoff_max_s=t.number("backoff_max_s", 60.0, 0.01, 86400),
            max_pending_items=int(t.number("max_pending_items", 200_000, 10, 1e8)),
            send_health=t.flag("send_health", False),
            allowed_commands=t.strings("allowed_commands", DEFAULT_ALLOWED_COMMANDS),
            status_interval_s=t.number("status_interval_s", 30.0, 0.05, 86400),
            min_message_interval_s=min_message_interval_s if interval_ms is None else interval_ms / 1000,
            limits=limits)


@dataclass(frozen=True, slots=True)
class ConnectorSettings:
    """One ``[cloud.<kind>]`` section: the shared part, the platform's own keys, and where its
    secrets are."""
    kind: str
    common: CommonSettings = field(default_factory=CommonSettings)
    connect_timeout_s: float = 30.0
    keep_alive_s: int = 60
    certificate_file: str = ""
    private_key_file: str = ""
    secret_refs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AzureSettings(ConnectorSettings):
    auth: str = "connection_string"
    report_twin: bool = True
    server_verification_cert_file: str = ""
    hostname: str = ""
    device_id: str = ""


@dataclass(frozen=True, slots=True)
class AwsSettings(ConnectorSettings):
    port: int = 8883
    topics: Mapping[str, str] = field(default_factory=lambda: dict(AWS_DEFAULT_TOPICS))
    shadow: bool = True
    shadow_name: str = ""
    endpoint: str = ""
    thing_name: str = ""
    client_id: str = ""
    ca_file: str = ""


def _secret_refs(t: Table, names: tuple[str, ...]) -> dict[str, Any]:
    keys = ["secrets_file", *names, *(f"{n}_env" for n in names)]
    refs = {}
    for key in keys:
        value = t.get(key, str, None)
        if value is not None:
            refs[key] = value
    return refs


def _azure(t: Table) -> AzureSettings:
    common = CommonSettings.parse(t)
    settings = AzureSettings(
        kind="azure", common=common,
        auth=t.choice("auth", AZURE_AUTH, "connection_string"),
        connect_timeout_s=t.number("connect_timeout_s", 30.0, 0.5, 600),
        keep_alive_s=int(t.number("keep_alive_s", 60, 5, 1740)),
        report_twin=t.flag("report_twin", True),
        server_verification_cert_file=t.text("server_verification_cert_file", ""),
        hostname=t.text("hostname", ""), device_id=t.text("device_id", ""),
        certificate_file=t.text("certificate_file", ""), private_key_file=t.text("private_key_file", ""),
        secret_refs=_secret_refs(t, ("connection_string", "private_key_passphrase")))
    if common.enabled and settings.auth == "x509":
        for key in ("hostname", "device_id", "certificate_file", "private_key_file"):
            if not t.text(key, ""):
                raise SettingsError(f"[{t.where}] auth = 'x509' needs {key}")
    return settings


def _aws(t: Table) -> AwsSettings:
    # IoT Core allows 100 publishes/s per connection: 10 ms apart unless set
    common = CommonSettings.parse(t, min_message_interval_s=0.010)
    topics = {key: t.text(key, default) for key, default in AWS_DEFAULT_TOPICS.items()}
    for key, template in topics.items():
        if "#" in template or "+" in template:
            raise t.fail(key, f"must be a plain topic, got {template!r}")
    thing = t.text("thing_name", "")
    settings = AwsSettings(
        kind="aws", common=common, topics=topics,
        port=t.port("port", 8883),
        keep_alive_s=int(t.number("keep_alive_s", 60, 5, 1200)),
        connect_timeout_s=t.number("connect_timeout_s", 30.0, 0.5, 600),
        shadow=t.flag("shadow", True), shadow_name=t.text("shadow_name", ""),
        endpoint=t.text("endpoint", ""), thing_name=thing, client_id=t.text("client_id", "") or thing,
        ca_file=t.text("ca_file", ""),
        certificate_file=t.text("certificate_file", ""), private_key_file=t.text("private_key_file", ""),
        secret_refs=_secret_refs(t, ("private_key",)))
    if common.enabled:
        for key in ("endpoint", "thing_name", "certificate_file"):
            if not t.text(key, ""):
                raise SettingsError(f"[{t.where}] {key} is required")
        if not settings.private_key_file and "private_key_env" not in settings.secret_refs:
            raise SettingsError(f"[{t.where}] private_key_file or private_key_env is required")
    return settings


PARSERS = {"azure": _azure, "aws": _aws}


def parse_connector(kind: str, section: Mapping[str, Any] | Table, where: str | None = None,
                    warn: list[str] | None = None) -> ConnectorSettings:
    """One ``[cloud.<kind>]`` table; unknown keys go to ``warn`` (ignored when None)."""
    parser = PARSERS.get(kind)
    if parser is None:
        raise SettingsError(f"[cloud.{kind}]: unknown cloud connector {kind!r}: expected one of "
                            f"{', '.join(sorted(PARSERS))}")
    table = section if isinstance(section, Table) else Table(section, where or f"cloud.{kind}")
    settings = parser(table)
    if warn is not None:
        warn.extend(f"{name}: unknown setting (ignored)" for name in table.unknown_all())
    return settings


def parse_cloud(section: Any, warn: list[str] | None = None) -> dict[str, ConnectorSettings]:
    """``[cloud.<kind>]`` tables by kind."""
    table = Table(section, "cloud")
    return {str(kind): parse_connector(str(kind), Table(raw, f"cloud.{kind}"), warn=warn)
            for kind, raw in table.raw.items()}
