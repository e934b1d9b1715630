"""Notifications against real local servers: an aiohttp webhook receiver and an aiosmtpd SMTP server."""
from __future__ import annotations

import asyncio
import email
import email.policy
import json
import socket
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller

from sidecar.alarms.notify import Notifier
from sidecar.alarms.settings import SettingsError, parse_notifications


def _alert(change: str = "raised", severity: str = "critical", **extra: Any) -> dict[str, Any]:
    alert = {"alert_id": "A1", "building_id": "b", "unique_id": "u1", "element_id": 1, "sensor_id": "s1",
             "kind": "limit_high", "severity": severity, "state": "active", "isa_state": "unack_active",
             "change": change, "message": "AHU-1 vibration 9.1 mm/s > 7.1 mm/s (critical)", "value": 9.1,
             "threshold": 7.1, "raised_ts": 1.7e9, "updated_ts": 1.7e9, "escalated": False}
    alert.update(extra)
    return alert


async def _until(predicate: Any, timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not reached"
        await asyncio.sleep(0.01)


@pytest.fixture
async def webhook() -> Any:
    """A real HTTP server capturing POSTs; ``fail_next`` answers with those statuses first."""
    captured: list[tuple[dict[str, str], dict[str, Any]]] = []
    fail_next: list[int] = []

    async def receive(request: web.Request) -> web.Response:
        if fail_next:
            return web.Response(status=fail_next.pop(0))
        captured.append((dict(request.headers), await request.json()))
        return web.Response(status=204)

    app = web.Application()
    app.router.add_post("/hook", receive)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/hook", captured, fail_next
    await runner.cleanup()


async def test_webhook_routing_retries_and_secret_headers(webhook: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    url, captured, fail_next = webhook
    monkeypatch.setenv("RPIOT_TEST_HOOK_TOKEN", "Bearer s3cret")
    channels = parse_notifications({"ops": {"type": "webhook", "url": url, "min_severity": "critical",
                                            "headers": {"X-Site": "harbour"},
                                            "headers_env": {"Authorization": "RPIOT_TEST_HOOK_TOKEN"},
                                            "retries": 3, "backoff_s": 0.01}})
    notifier = Notifier(channels)
    fail_next.extend([503, 500])                                   # two failures, then delivered
    notifier.on_alert(_alert())
    notifier.on_alert(_alert(severity="warning"))                  # below min_severity
    notifier.on_alert(_alert(change="acknowledged"))               # not a routed event
    notifier.on_alert(_alert(shelved_until=4.0e9))                 # shelved: never notified
    notifier.on_alert(_alert(change="unshelved", isa_state="ack_active"))   # nobody needs to act
    notifier.on_alert(_alert(change="escalated", alert_id="A2"))
    await _until(lambda: len(captured) == 2)
    await asyncio.sleep(0.1)
    assert len(captured) == 2
    headers, body = captured[0]
    assert headers["Authorization"] == "Bearer s3cret" and headers["X-Site"] == "harbour"
    assert body["event"] == "raised" and body["alert"]["alert_id"] == "A1" and body["source"] == "revitpyiot"
    assert captured[1][1]["event"] == "escalated"
    status = notifier.status()["ops"]
    assert status["sent"] == 2 and status["retried"] == 2 and status["failed"] == 0
    await notifier.close()


async def test_webhook_gives_up_on_client_errors_and_missing_secrets(webhook: Any) -> None:
    url, captured, fail_next = webhook
    notifier = Notifier(parse_notifications({
        "bad": {"type": "webhook", "url": url, "retries": 5, "backoff_s": 0.01},
        "nosecret": {"type": "webhook", "url": url, "headers_env": {"Authorization": "RPIOT_TEST_UNSET_VAR"}}}))
    fail_next.append(404)
    notifier.on_alert(_alert())
    await _until(lambda: notifier.status()["bad"]["failed"] == 1 and notifier.status()["nosecret"]["failed"] == 1)
    status = notifier.status()
    assert status["bad"]["retried"] == 0 and "HTTP 404" in status["bad"]["last_error"]
    assert "RPIOT_TEST_UNSET_VAR" in status["nosecret"]["last_error"]
    assert captured == []
    await notifier.close()


class _Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted for delivery"


async def test_email_through_a_real_smtp_server() -> None:
    inbox = _Inbox()
    with socket.socket() as probe:      # a free port (aiosmtpd's readiness check cannot use port 0)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        notifier = Notifier(parse_notifications({"facility": {
            "type": "email", "host": "127.0.0.1", "port": port, "from": "sidecar@example.test",
            "to": ["desk@example.test", "oncall@example.test"], "min_severity": "warning"}}))
        notifier.on_alert(_alert(recommended_action="Inspect the bearings."))
        notifier.on_alert(_alert(severity="info"))                   # below warning: not sent
        await _until(lambda: notifier.status()["facility"]["sent"] == 1)
        await asyncio.sleep(0.1)
        assert len(inbox.messages) == 1
        sender, recipients, content = inbox.messages[0]
        assert sender == "sidecar@example.test" and recipients == ["desk@example.test", "oncall@example.test"]
        mail = email.message_from_bytes(content, policy=email.policy.default)
        assert str(mail["Subject"]).strip().startswith("[RevitPyIoT] CRITICAL raised: AHU-1 vibration 9.1")
        text = mail.get_content()
        assert "recommended_action: Inspect the bearings." in text and "threshold: 7.1" in text
        await notifier.close()
    finally:
        controller.stop()


def test_notification_settings_are_checked() -> None:
    with pytest.raises(SettingsError, match="notifications.x.type"):
        parse_notifications({"x": {"type": "pager"}})
    with pytest.raises(SettingsError, match="url"):
        parse_notifications({"x": {"type": "webhook", "url": "ftp://nope"}})
    with pytest.raises(SettingsError, match="host, from and to"):
        parse_notifications({"x": {"type": "email", "host": "h"}})
    with pytest.raises(SettingsError, match="unknown key"):
        parse_notifications({"x": {"type": "webhook", "url": "http://h", "secret": "no"}})
    assert parse_notifications({"x": {"type": "webhook", "url": "http://h", "enabled": False}}) == []
    json.dumps(parse_notifications({"x": {"type": "webhook", "url": "http://h"}})[0].events)
