"""In-process event hub: other parts of the sidecar (historian, cloud connectors, dashboard)
subscribe to ``readings`` batches and ``alert``/``health``/``status`` events here instead of
touching the service.

``publish`` never blocks and never raises: each subscriber has its own bounded queue drained by
its own task, so a slow subscriber only loses its own oldest items (counted in ``dropped``) and
a failing one only logs.
"""
from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

TOPIC_READINGS = "readings"
Callback = Callable[[Any], "Awaitable[None] | None"]


class Subscription:
    def __init__(self, hub: EventHub, topic: str, callback: Callback, maxsize: int, name: str):
        self.hub = hub
        self.topic = topic
        self.callback = callback
        self.name = name
        self.queue: asyncio.Queue[Any] = asyncio.Queue(maxsize)
        self.dropped = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    def offer(self, item: Any) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._drain(), name=f"hub:{self.name}")
        while True:
            try:
                self.queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()  # drop the oldest: fresh data matters more
                self.dropped += 1
                if self.dropped in (1, 10, 100) or self.dropped % 1000 == 0:
                    log.warning("hub subscriber %s is slow: %d %s items dropped", self.name, self.dropped,
                                self.topic)

    async def _drain(self) -> None:
        while True:
            item = await self.queue.get()
            try:
                result = self.callback(item)
                if inspect.isawaitable(result):
                    await result
            except asyncio.CancelledError:
                raise
            except Exception:
                self.failures += 1
                log.exception("hub subscriber %s failed on a %s item", self.name, self.topic)

    def close(self) -> None:
        self.hub._remove(self)
        if self._task is not None:
            self._task.cancel()
            self._task = None


class InlineSubscription(Subscription):
    def offer(self, item: Any) -> None:
        try:
            self.callback(item)
        except Exception:
            self.failures += 1
            log.exception("hub subscriber %s failed on a %s item", self.name, self.topic)


class EventHub:
    def __init__(self) -> None:
        self._subscribers: dict[str, list[Subscription]] = {}

    def subscribe(self, topic: str, callback: Callback, maxsize: int = 1000, name: str | None = None,
                  inline: bool = False) -> Subscription:
        """Call ``callback(item)`` (plain or async) for every item published on ``topic``.
        Items: a ``ReadingBatch`` for ``readings`` (its arrays are shared: never modify them);
        the event body for the others.

        ``inline=True`` calls a plain callback synchronously inside ``publish`` and never drops:
        for a subscriber that must see every item and only does O(1)-per-batch work (e.g.
        appending the batch to a write buffer that its own task drains). Its exceptions are
        logged and swallowed like the others'."""
        label = name or str(getattr(callback, "__qualname__", topic))
        subscription = (InlineSubscription if inline else Subscription)(self, topic, callback, maxsize, label)
        self._subscribers.setdefault(topic, []).append(subscription)
        return subscription

    def publish(self, topic: str, item: Any) -> None:
        for subscription in self._subscribers.get(topic, ()):
            subscription.offer(item)

    def has_subscribers(self, topic: str) -> bool:
        return bool(self._subscribers.get(topic))

    def _remove(self, subscription: Subscription) -> None:
        subscribers = self._subscribers.get(subscription.topic, [])
        if subscription in subscribers:
            subscribers.remove(subscription)

    def close(self) -> None:
        for subscribers in list(self._subscribers.values()):
            for subscription in list(subscribers):
                subscription.close()
