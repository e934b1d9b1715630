# -*- coding: utf-8 -*-
"""Live sync inside Revit: an ExternalEvent drains ``live.LiveSync`` on Revit's main thread
and shows each batch in the transient overlay (``live_overlay``): NO transaction per batch,
nothing in the undo history, no element borrowed, no view or template changed.

Each handler call has a time budget (``live_handler_budget_ms``): one batch (whose size
adapts to the budget), then heat-map work and the scheduled tag write if time is left; what
is left waits for the next raise. Health tags are written only on the slow schedule
(``tags_schedule``), one named transaction per write.

The running session is kept in the AppDomain (``session_store``) because pyRevit gives each
button click its own script scope: the next click of Live Sync must find it to stop it.
The bundle runs in pyRevit's persistent engine so the handler's code outlives the click.
"""
from __future__ import absolute_import

import threading
import time

from Autodesk.Revit import UI

from revitpyiot import heat_feed
from revitpyiot import live
from revitpyiot import live_overlay
from revitpyiot import notify
from revitpyiot import revit_compat as rc
from revitpyiot import session_store
from revitpyiot import tags_schedule

SESSION_KEY = "RevitPyIoT.LiveSync"


class LiveSyncHandler(UI.IExternalEventHandler):
    """Runs queued live work when Revit raises the ExternalEvent (main thread)."""

    def __init__(self, session):
        self.session = session

    def Execute(self, uiapp):
        try:
            self.session.apply_pending()
        except Exception as error:  # never let an exception escape into Revit's idle loop
            self.session.failed(u"{0}".format(error))

    def GetName(self):
        return "RevitPyIoT live sync"


class RevitLiveSession(object):
    """One live-sync session for one document and view."""

    def __init__(self, uiapp, doc, view, client, settings, data_dir, notifier=None, logger=None,
                 clock=None, time_scale=1.0):
        self.uiapp = uiapp
        self.doc = doc
        self.view_id = view.Id if view is not None else None
        self.settings = settings
        self.clock = clock or time.time
        # The schedules (tags, heat refresh) in building time: ``time_scale`` > 1 only when a
        # benchmark runs an accelerated simulated hour.
        started = self.clock()
        self.schedule_clock = lambda: started + (self.clock() - started) * float(time_scale)
        self.notifier = notifier or notify.Notifier(None, None)
        self.last_error = None
        self.budget_s = max(0.01, settings.live_handler_budget_ms / 1000.0)
        self.handler_ms = []             # duration of every handler call (the UI thread held)
        self.latencies_ms = []           # health event sent by the sidecar -> shown in the overlay
        self.overlay = None
        if view is not None and settings.live_colour_view and live_overlay.refusal_reason(view) is None:
            self.overlay = live_overlay.LiveOverlay(doc, view, settings, data_dir)
        self.heat = None
        if self.overlay is not None and settings.heatmap_quantity in live_overlay.HEAT_QUANTITIES:
            self.heat = heat_feed.HeatFeed(doc, client, settings.heatmap_quantity, view,
                                           request_apply=self._raise, clock=self.clock,
                                           refresh_s=settings.heatmap_refresh_s / float(time_scale))
        self.tags = tags_schedule.TagSchedule(doc, settings, data_dir, clock=self.schedule_clock, timer=self.clock)
        self.handler = LiveSyncHandler(self)
        # Created here, in API context (a button click): the only place Revit allows it.
        self.external_event = UI.ExternalEvent.Create(self.handler)
        self.sync = live.LiveSync(client, self._apply_batch, request_apply=self._raise,
                                  max_batch_seconds=self.budget_s * 0.6,
                                  max_batch_items=settings.live_batch_items, logger=logger)
        # Start small: the batch grows while a handler call stays well inside its budget.
        self.sync.batch_items = min(self.sync.batch_items, 100)
        self._closing_handler = self._on_document_closing
        uiapp.Application.DocumentClosing += self._closing_handler
        self._ticker = None
        self._stopping = threading.Event()
        self.replaying = False           # Replay draws in the overlay: live batches are kept, not drawn
        self.setup_transactions = 0

    # -- lifecycle ---------------------------------------------------------------------
    def _raise(self):
        event = self.external_event
        if event is not None:
            event.Raise()

    def start(self):
        """On the click: the one-time set-up in at most ONE named transaction (a missing AVF
        display style, the tag parameters when the tag schedule is on), then the background."""
        quantity = self.heat.quantity if self.heat is not None else None
        needs_style = self.overlay is not None and self.overlay.needs_setup(quantity)
        if needs_style or self.tags.needs_binding():
            with rc.transaction(self.doc, live_overlay.TXN_SETUP):
                if self.overlay is not None:
                    self.overlay.setup(quantity)
                if self.tags.needs_binding():
                    self.tags.bind()
            self.setup_transactions += 1
        elif self.overlay is not None:
            self.overlay.setup(quantity)
        self.sync.start()
        if self.heat is not None:
            self.heat.start()
        self._ticker = threading.Thread(target=self._tick, name="RevitPyIoT live ticker")
        self._ticker.daemon = True
        self._ticker.start()
        session_store.put(SESSION_KEY, self)

    def stop(self, clear=True):
        """Stop receiving, release the event and the document handler, and take the overlay
        away (it would show stale health as live) unless the caller clears it in steps
        (``clear_overlay_later``). Main thread (a click, DocumentClosing)."""
        self._stopping.set()
        self.sync.stop(wait=False)       # the threads end on their own: the UI thread never waits
        if self.heat is not None:
            self.heat.stop()
        if clear and self.overlay is not None and self.doc.IsValidObject:
            try:
                self.overlay.clear()
            except Exception:      # the view may be gone: nothing left to clear
                pass
        try:
            self.uiapp.Application.DocumentClosing -= self._closing_handler
        except Exception:
            pass
        if self.external_event is not None:
            self.external_event.Dispose()
            self.external_event = None
        if session_store.get(SESSION_KEY) is self:
            session_store.put(SESSION_KEY, None)
        # Closing waits for the subscription thread (up to a poll interval): not on the UI thread.
        closer = threading.Thread(target=self._close_client, name="RevitPyIoT close")
        closer.daemon = True
        closer.start()

    def _close_client(self):
        try:
            self.sync.client.close()
        except Exception:
            pass

    @property
    def running(self):
        return self.sync.running

    @property
    def transactions(self):
        """Transactions this session opened on the document (set-up and tag writes)."""
        return self.setup_transactions + self.tags.transactions

    def _tick(self):
        """Wake the main thread when scheduled work (tag write, heat refresh) is due."""
        while not self._stopping.wait(1.0):
            if self.tags.due() or (self.heat is not None and self.heat.pending()) or \
                    (self.sync.last_error and self.last_error is None):
                self._raise()      # also to show a failure that happened off the main thread

    def _on_document_closing(self, sender, args):
        if args.Document is not None and args.Document.Equals(self.doc):
            self.stop()

    # -- main thread -------------------------------------------------------------------
    def apply_pending(self):
        """ExternalEvent body: as much queued work as fits in the time budget."""
        if not self.sync.running:
            return
        if not self.doc.IsValidObject:
            self.stop()
            return
        started = self.clock()
        try:
            applied = self.sync.drain()
            more = self.sync.pending() > 0
            if self.heat is not None and not self.replaying and self.clock() - started < self.budget_s:
                more = self.heat.apply(self.overlay, started + self.budget_s) or more
            if self.tags.due() and self.clock() - started < self.budget_s / 2:
                more = self.tags.step(self.sync.health, self.sync.alerts, started + self.budget_s,
                                      self.notifier) or more
            if self.sync.last_error:
                self.failed(self.sync.last_error)
            elif self.last_error is not None and applied is not None:
                self.recovered()
            if more:
                self._raise()
        finally:
            self.handler_ms.append((self.clock() - started) * 1000.0)
            del self.handler_ms[:-1000]

    def _apply_batch(self, batch):
        if self.overlay is None or not batch.health or self.replaying:
            return
        self.overlay.show_records(batch.health)
        shown = self.clock()
        for record in batch.health:
            sent = self.sync.sent_ts(record["unique_id"])
            if sent:
                self.latencies_ms.append(max(0.0, (shown - sent) * 1000.0))
        del self.latencies_ms[:-5000]

    # -- visible failures ----------------------------------------------------------------
    def failed(self, message):
        first = self.last_error is None
        self.last_error = message
        if first:
            self.notifier.error(u"Live sync: " + message)

    def recovered(self):
        self.last_error = None
        self.notifier.recovered(u"Live sync works again.")

    def max_handler_ms(self):
        return max(self.handler_ms) if self.handler_ms else 0.0


def clear_overlay_later(overlay, per_call=300):
    """Remove a stopped session's overlay a few hundred markers per idle call (a click's API
    context is needed to create the event)."""
    from revitpyiot import main_thread
    queue = main_thread.MainThreadQueue()

    def clear_some():
        if overlay.doc.IsValidObject and overlay.clear(per_call) > 0:
            queue.post(clear_some)
    queue.post(clear_some)
    return queue


def current_session():
    return session_store.get(SESSION_KEY)
