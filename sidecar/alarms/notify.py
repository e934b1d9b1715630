"""Notifications: alert events to webhooks (aiohttp POST, JSON) and e-mail (SMTP).

The notifier subscribes to the hub's ``alert`` topic inline: routing an event is O(1) (a
``put_nowait`` into each matching channel's bounded queue), so the pipeline never waits for a
network. Each channel drains its queue with its own task; a failed delivery is retried with
exponential back-off (``retries``, ``backoff_s``), a full queue drops its oldest item (counted).

Routing per channel: ``min_severity`` and ``events`` (the alert's ``change``: raised,
reactivated, escalated, released, unshelved by default). Shelved alerts are never notified; an
``unshelved``/``released`` event only when the alert is still unacknowledged and active.
Secrets never sit in the TOML file: webhook header values come from environment variables
(``headers_env``), the SMTP password from ``password_env``.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import smtplib
import ssl
import time
from email.message import EmailMessage
from typing import Any

from sidecar.alarms.settings import SEVERITY_LEVEL, ChannelSettings
from sidecar.security import redact

log = logging.getLogger(__name__)
QUIET_UNLESS_ACTIVE = ("unshelved", "released")


class DeliveryError(Exception):
    """A delivery failed; ``retry`` says whether trying again can help."""

    def __init__(self, message: str, retry: bool = True):
        super().__init__(message)
        self.retry = retry


class Channel:
    def __init__(self, settings: ChannelSettings):
        self.settings = settings
        self.queue: asyncio.Queue[dict[str, Any]] | None = None
        self.sent = self.failed = self.dropped = self.retried = 0
        self.last_error: str | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def name(self) -> str:
        return self.settings.name

    def wants(self, alert: dict[str, Any], now: float) -> bool:
        s = self.settings
        change = alert.get("change", "raised")
        if change not in s.events or SEVERITY_LEVEL.get(alert.get("severity", ""), 0) < SEVERITY_LEVEL[s.min_severity]:
            return False
        if alert.get("shelved_until", 0) > now:
            return False
        return change not in QUIET_UNLESS_ACTIVE or alert.get("isa_state") == "unack_active"

    def offer(self, alert: dict[str, Any]) -> None:
        if self.queue is None:
            self.queue = asyncio.Queue(self.settings.queue_size)
            self._task = asyncio.get_running_loop().create_task(self._drain(), name=f"notify:{self.name}")
        while True:
            try:
                self.queue.put_nowait(alert)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()
                self.dropped += 1

    async def _drain(self) -> None:
        assert self.queue is not None
        while True:
            alert = await self.queue.get()
            await self._deliver_with_retries(alert)

    async def _deliver_with_retries(self, alert: dict[str, Any]) -> None:
        s = self.settings
        for attempt in range(s.retries + 1):
            try:
                await asyncio.wait_for(self.deliver(alert), s.timeout_s)
                self.sent += 1
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:  # noqa: BLE001 - any delivery failure is counted, never fatal
                retry = getattr(error, "retry", True)
                self.last_error = redact(f"{type(error).__name__}: {error}")
                if not retry or attempt == s.retries:
                    break
                self.retried += 1
                await asyncio.sleep(s.backoff_s * (2 ** attempt))
        self.failed += 1
        log.warning("notification %s: giving up on alert %s: %s", self.name, alert.get("alert_id"), self.last_error)

    async def deliver(self, alert: dict[str, Any]) -> None:
        raise NotImplementedError

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {"type": self.settings.type, "queued": self.queue.qsize() if self.queue else 0,
                                "sent": self.sent, "failed": self.failed, "retried": self.retried,
                                "dropped": self.dropped}
        if self.last_error:
            body["last_error"] = self.last_error
        return body

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None


def payload(alert: dict[str, Any]) -> dict[str, Any]:
    return {"source": "revitpyiot", "event": alert.get("change", "raised"), "sent_ts": time.time(), "alert": alert}


class WebhookChannel(Channel):
    def __init__(self, settings: ChannelSettings):
        super().__init__(settings)
        self._session: Any = None

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", **self.settings.headers}
        for header, variable in self.settings.headers_env.items():
            value = os.environ.get(variable)
            if value is None:
                raise DeliveryError(f"environment variable {variable} (header {header}) is not set", retry=False)
            headers[header] = value
        return headers

    async def deliver(self, alert: dict[str, Any]) -> None:
        import aiohttp
        if self._session is None:
            self._session = aiohttp.ClientSession()
        async with self._session.post(self.settings.url, data=json.dumps(payload(alert)),
                                      headers=self.headers()) as reply:
            if reply.status >= 300:
                # Client errors (but 408/429) will not get better by retrying.
                retry = reply.status >= 500 or reply.status in (408, 429)
                raise DeliveryError(f"HTTP {reply.status} from the webhook", retry=retry)

    async def close(self) -> None:
        await super().close()
        if self._session is not None:
            await self._session.close()
            self._session = None


class EmailChannel(Channel):
    def message(self, alert: dict[str, Any]) -> EmailMessage:
        s = self.settings
        mail = EmailMessage()
        mail["From"] = s.sender
        mail["To"] = ", ".join(s.to)
        severity = str(alert.get("severity", "")).upper()
        mail["Subject"] = f"[RevitPyIoT] {severity} {alert.get('change', 'raised')}: {alert.get('message', '')}"[:200]
        lines = [str(alert.get("message", "")), ""]
        for key in ("severity", "state", "isa_state", "kind", "unique_id", "sensor_id", "value", "threshold",
                    "recommended_action", "alert_id", "building_id"):
            if key in alert:
                lines.append(f"{key}: {alert[key]}")
        lines.append(f"raised: {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime(alert.get('raised_ts', 0)))}")
        mail.set_content("\n".join(lines))
        return mail

    def _send(self, mail: EmailMessage) -> None:
        s = self.settings
        password = os.environ.get(s.password_env) if s.password_env else None
        if s.password_env and password is None:
            raise DeliveryError(f"environment variable {s.password_env} (SMTP password) is not set", retry=False)
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if s.tls == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_s, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_s)
        with smtp:
            if s.tls == "starttls":
                smtp.starttls(context=context)
            if s.username:
                smtp.login(s.username, password or "")
            smtp.send_message(mail)

    async def deliver(self, alert: dict[str, Any]) -> None:
        # smtplib blocks: run it in the default executor, never on the event loop.
        await asyncio.get_running_loop().run_in_executor(None, self._send, self.message(alert))


class Notifier:
    def __init__(self, channels: list[ChannelSettings]):
        self.channels: list[Channel] = [WebhookChannel(c) if c.type == "webhook" else EmailChannel(c)
                                        for c in channels]

    def on_alert(self, alert: dict[str, Any]) -> None:
        """Hub callback (inline): route one alert event to the channels that want it."""
        now = time.time()
        for channel in self.channels:
            if channel.wants(alert, now):
                channel.offer(alert)

    def status(self) -> dict[str, Any]:
        return {c.name: c.status() for c in self.channels}

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.channels), return_exceptions=True)
