# -*- coding: utf-8 -*-
"""Live sync, the Revit-agnostic core: receive ``alert``/``health`` events on a background
thread, coalesce them, and hand them to ``apply_batch`` in bounded batches on the thread
that calls ``drain()`` (in Revit: the main thread, through an ExternalEvent; see
``live_revit``; in the headless demo: any loop).

Nothing shown may silently go stale: a ``seq`` gap or a reconnect (reported by the client's
``on_gap``) and the start itself trigger a ``snapshot`` request, made on a worker thread so
neither the subscriber nor Revit's main thread waits on the network. A snapshot is
authoritative for alerts: an alert applied before it was asked for that it no longer lists
(it returned to normal while events were lost, or the sidecar restarted) is dropped.
"""
from __future__ import absolute_import

import threading
import time
from collections import OrderedDict

from revitpyiot import alert_states
from revitpyiot import protocol as P


class LiveBatch(object):
    """What one ``apply_batch`` call receives."""

    def __init__(self, health, alerts, snapshot, seq, dropped_alerts=None):
        self.health = health            # [HealthRecord], newest per unique_id
        self.alerts = alerts            # [Alert], newest per alert_id
        self.snapshot = snapshot        # True when a snapshot is part of this batch
        self.seq = seq                  # number of this batch, from 1
        # [Alert] (as last applied) that a snapshot no longer lists: forget them, refresh their elements
        self.dropped_alerts = dropped_alerts or []

    def __len__(self):
        return len(self.health) + len(self.alerts) + len(self.dropped_alerts)


class LiveSync(object):
    """Queue, coalesce and batch the sidecar's live events.

    ``apply_batch(batch)`` runs once per ``drain()``; ``request_apply()`` is called (from
    any thread) whenever there is something to drain. The batch size adapts so that one
    ``apply_batch`` stays near ``max_batch_seconds``.
    """

    def __init__(self, client, apply_batch, request_apply=None, max_batch_seconds=0.25,
                 max_batch_items=500, clock=None, logger=None):
        self.client = client
        self.apply_batch = apply_batch
        self.request_apply = request_apply or (lambda: None)
        self.max_batch_seconds = float(max_batch_seconds)
        self.max_batch_items = max(1, int(max_batch_items))
        self.batch_items = self.max_batch_items
        self.clock = clock or time.time
        self.logger = logger
        self._lock = threading.Lock()
        self._pending_health = OrderedDict()
        self._pending_alerts = OrderedDict()
        self._pending_snapshot = False
        self._pending_dropped = OrderedDict()
        self._applied_ts = {}           # unique_id / alert_id -> updated_ts last applied
        self._sent_ts = {}              # unique_id -> when the sidecar sent its newest health event
        self._alert_batch = {}          # alert_id -> number of the batch that applied it
        self._remembered = 0            # batches applied so far
        self._subscription = None
        self._snapshot_wanted = threading.Event()
        self._stopping = threading.Event()
        self._worker = None
        self._raised = False
        self.running = False
        self.health = {}                # unique_id -> latest HealthRecord applied
        self.alerts = {}                # alert_id -> latest Alert applied
        self.stats = {"events": 0, "batches": 0, "snapshots": 0, "gaps": 0, "reconnects": 0,
                      "errors": 0, "applied_items": 0, "dropped_alerts": 0}
        self.last_error = None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, snapshot=True):
        if self.running:
            return
        self._stopping.clear()
        self.running = True
        self._worker = threading.Thread(target=self._snapshot_loop, name="RevitPyIoT snapshot")
        self._worker.daemon = True
        self._worker.start()
        self._subscription = self.client.subscribe([P.TOPIC_ALERT, P.TOPIC_HEALTH], self._on_event,
                                                   on_gap=self._on_gap)
        if snapshot:
            self.request_snapshot("start")

    def stop(self, timeout_s=5.0, wait=True):
        """Stop the subscription and the worker; safe to call twice and from any thread.
        ``wait`` False: only tell the threads to end (they do within a poll interval), so
        Revit's UI thread never waits for them."""
        if not self.running:
            return
        self.running = False
        self._stopping.set()
        self._snapshot_wanted.set()
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            try:
                if wait:
                    subscription.stop()
                else:
                    subscription.stop(join=False)
            except Exception as error:  # a dead socket must not keep the document open
                self._log("subscription stop failed: {0}".format(error))
        worker, self._worker = self._worker, None
        if wait and worker is not None and worker is not threading.current_thread():
            worker.join(timeout_s)
        with self._lock:
            self._pending_health.clear()
            self._pending_alerts.clear()
            self._pending_dropped.clear()
            self._pending_snapshot = False

    # -- background side ---------------------------------------------------------------
    def _on_event(self, topic, event):
        body = event.get("body") or {}
        with self._lock:
            self.stats["events"] += 1
            if topic == P.TOPIC_HEALTH:
                sent = event.get("ts")
                for record in body.get("items") or []:
                    self._queue_health(record)
                    if sent and record.get("unique_id"):
                        self._sent_ts[record["unique_id"]] = sent
            elif topic == P.TOPIC_ALERT:
                self._queue_alert(body)
        self._signal()

    def _on_gap(self, topic, reason):
        with self._lock:
            self.stats["reconnects" if reason == "reconnect" else "gaps"] += 1
        self.request_snapshot(reason)

    def request_snapshot(self, reason="manual"):
        self._log("snapshot requested ({0})".format(reason))
        self._snapshot_wanted.set()

    def _snapshot_loop(self):
        while not self._stopping.is_set():
            self._snapshot_wanted.wait(1.0)
            if self._stopping.is_set():
                return
            if not self._snapshot_wanted.is_set():
                continue
            self._snapshot_wanted.clear()
            with self._lock:
                applied_before = self._remembered
            try:
                body = self.client.request(P.SNAPSHOT, {})
            except Exception as error:  # sidecar down: retry on the next gap/reconnect
                with self._lock:
                    self.stats["errors"] += 1
                self.last_error = "snapshot failed: {0}".format(error)
                self._log(self.last_error)
                if not self._stopping.wait(2.0):
                    self._snapshot_wanted.set()
                continue
            self.last_error = None       # reachable again: an earlier failure is over
            with self._lock:
                self.stats["snapshots"] += 1
                self._pending_snapshot = True
                for record in body.get("health") or []:
                    self._queue_health(record)
                listed = set()
                for alert in body.get("alerts") or []:
                    listed.add(alert.get("alert_id"))
                    self._queue_alert(alert)
                self._drop_unlisted(listed, applied_before)
            self._signal()

    def _drop_unlisted(self, listed, applied_before):
        """Queue the drop of applied alerts the snapshot no longer lists. Only those applied
        before the snapshot was asked for: a newer one may postdate the snapshot. (Lock held.)"""
        for alert_id, alert in list(self.alerts.items()):
            if alert_id in listed or alert_id in self._pending_alerts:
                continue
            if self._alert_batch.get(alert_id, 0) <= applied_before:
                self._pending_dropped[alert_id] = alert

    def _queue_health(self, record):
        key = record.get("unique_id")
        if not key:
            return
        ts = record.get("updated_ts") or 0.0
        queued = self._pending_health.get(key)
        if queued is not None and (queued.get("updated_ts") or 0.0) > ts:
            return  # an older record (e.g. from a snapshot taken earlier) never overwrites a newer one
        if self._applied_ts.get(("h", key), -1.0) >= ts:
            return  # already applied (a snapshot repeats what the events delivered)
        self._pending_health.pop(key, None)
        self._pending_health[key] = record

    def _queue_alert(self, alert):
        key = alert.get("alert_id")
        if not key:
            return
        ts = alert.get("updated_ts") or alert.get("raised_ts") or 0.0
        queued = self._pending_alerts.get(key)
        if queued is not None and (queued.get("updated_ts") or 0.0) > ts:
            return
        if self._applied_ts.get(("a", key), -1.0) >= ts:
            return
        self._pending_alerts.pop(key, None)
        self._pending_alerts[key] = alert
        self._pending_dropped.pop(key, None)   # alive after all

    def _signal(self):
        with self._lock:
            if self._raised or not (self._pending_health or self._pending_alerts or self._pending_snapshot
                                    or self._pending_dropped):
                return
            self._raised = True
        try:
            self.request_apply()
        except Exception as error:
            with self._lock:
                self._raised = False
                self.stats["errors"] += 1
            self.last_error = "could not request apply: {0}".format(error)
            self._log(self.last_error)

    # -- main-thread side --------------------------------------------------------------
    def sent_ts(self, unique_id):
        """When the sidecar sent the health event last applied for ``unique_id`` (None when it
        came from a snapshot); asked once per applied record (the overlay latency)."""
        with self._lock:
            return self._sent_ts.pop(unique_id, None)

    def pending(self):
        with self._lock:
            return len(self._pending_health) + len(self._pending_alerts)

    def take_batch(self):
        """Up to ``batch_items`` queued changes, oldest first (None when nothing is queued)."""
        with self._lock:
            self._raised = False
            if not (self._pending_health or self._pending_alerts or self._pending_snapshot
                    or self._pending_dropped):
                return None
            budget = self.batch_items
            alerts = []
            while self._pending_alerts and budget > 0:
                alerts.append(self._pending_alerts.popitem(last=False)[1])
                budget -= 1
            health = []
            while self._pending_health and budget > 0:
                health.append(self._pending_health.popitem(last=False)[1])
                budget -= 1
            dropped = list(self._pending_dropped.values())
            self._pending_dropped.clear()
            snapshot = self._pending_snapshot
            self._pending_snapshot = False
            self.stats["batches"] += 1
            return LiveBatch(health, alerts, snapshot, self.stats["batches"], dropped)

    def drain(self):
        """Apply one batch (call on the thread that may touch the model). Returns the batch
        applied or None. Asks for another run when more is queued."""
        batch = self.take_batch()
        if batch is None:
            return None
        started = self.clock()
        try:
            self.apply_batch(batch)
        except Exception as error:
            with self._lock:
                self.stats["errors"] += 1
            self.last_error = "applying a live batch failed: {0}".format(error)
            self._log(self.last_error)
            # The model may now lag behind: resynchronise from a fresh snapshot.
            self.request_snapshot("apply failed")
        else:
            self._remember(batch)
        self._adapt(self.clock() - started, len(batch))
        if self.running:
            self._signal()
        return batch

    def _remember(self, batch):
        with self._lock:
            self._remembered += 1
            for record in batch.health:
                self.health[record["unique_id"]] = record
                self._applied_ts[("h", record["unique_id"])] = record.get("updated_ts") or 0.0
            for alert in batch.alerts:
                key = alert["alert_id"]
                self._applied_ts[("a", key)] = alert.get("updated_ts") or 0.0
                if alert_states.is_finished(alert):
                    # Nothing left to show or do (normal, or cleared by an older sidecar).
                    self.alerts.pop(key, None)
                    self._alert_batch.pop(key, None)
                else:
                    self.alerts[key] = alert
                    self._alert_batch[key] = self._remembered
            for alert in batch.dropped_alerts:
                key = alert["alert_id"]
                if self._alert_batch.get(key) is not None and self.alerts.get(key) is alert:
                    del self.alerts[key]
                    del self._alert_batch[key]
                    self._applied_ts.pop(("a", key), None)
                    self.stats["dropped_alerts"] += 1
            self.stats["applied_items"] += len(batch)

    def _adapt(self, elapsed, size):
        """Keep one batch near the time cap: shrink fast when over, grow slowly when under."""
        if size < self.batch_items:
            return
        if elapsed > self.max_batch_seconds:
            self.batch_items = max(10, int(self.batch_items / 2))
        elif elapsed < self.max_batch_seconds / 4 and self.batch_items < self.max_batch_items:
            self.batch_items = min(self.max_batch_items, int(self.batch_items * 1.5) + 1)

    def active_alerts(self, now=None):
        """Alerts whose condition is present and that are not shelved, most severe first."""
        return self.alert_groups(now)[alert_states.GROUP_ACTIVE]

    def alert_groups(self, now=None):
        """{"active" | "returned" | "shelved": [Alert]} of the applied alerts (alert_states)."""
        with self._lock:
            alerts = list(self.alerts.values())
        return alert_states.grouped(alerts, now)

    def _log(self, message):
        if self.logger is not None:
            try:
                self.logger(message)
            except Exception:
                pass
