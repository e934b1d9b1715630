# -*- coding: utf-8 -*-
"""Live sync inside Revit: an ExternalEvent drains ``live.LiveSync`` on Revit's main thread
and applies each batch in ONE transaction (colours in the chosen view, health tags).

The running session is kept in the AppDomain (``session_store``) because pyRevit gives each
button click its own script scope: the next click of Live Sync must find it to stop it.
The bundle runs in pyRevit's persistent engine so the handler's code outlives the click.
"""
from __future__ import absolute_import

from Autodesk.Revit import DB, UI

from revitpyiot import live
from revitpyiot import overlay
from revitpyiot import revit_compat as rc
from revitpyiot import session_store
from revitpyiot import tags

SESSION_KEY = "RevitPyIoT.LiveSync"
TXN_LIVE = u"RevitPyIoT: live health update"


class LiveSyncHandler(UI.IExternalEventHandler):
    """Runs queued live changes when Revit raises the ExternalEvent (main thread)."""

    def __init__(self, session):
        self.session = session

    def Execute(self, uiapp):
        try:
            self.session.apply_pending()
        except Exception as error:  # never let an exception escape into Revit's idle loop
            self.session.last_error = u"{0}".format(error)

    def GetName(self):
        return "RevitPyIoT live sync"


class RevitLiveSession(object):
    """One live-sync session for one document and view."""

    def __init__(self, uiapp, doc, view, client, settings, logger=None):
        self.uiapp = uiapp
        self.doc = doc
        self.view_id = view.Id if view is not None else None
        self.settings = settings
        self.last_error = None
        self.transactions = 0
        self.tag_result = tags.TagResult()
        self.overlay_results = []
        self.handler = LiveSyncHandler(self)
        # Created here, in API context (a button click): the only place Revit allows it.
        self.external_event = UI.ExternalEvent.Create(self.handler)
        self.sync = live.LiveSync(client, self._apply_batch, request_apply=self._raise,
                                  max_batch_seconds=settings.live_batch_seconds,
                                  max_batch_items=settings.live_batch_items, logger=logger)
        self._closing_handler = self._on_document_closing
        uiapp.Application.DocumentClosing += self._closing_handler

    def _raise(self):
        self.external_event.Raise()

    def start(self):
        self.sync.start()
        session_store.put(SESSION_KEY, self)

    def stop(self):
        """Stop receiving, release the event and the document handler."""
        self.sync.stop()
        try:
            self.uiapp.Application.DocumentClosing -= self._closing_handler
        except Exception:
            pass
        if self.external_event is not None:
            self.external_event.Dispose()
            self.external_event = None
        if session_store.get(SESSION_KEY) is self:
            session_store.put(SESSION_KEY, None)
        try:
            self.sync.client.close()
        except Exception:
            pass

    @property
    def running(self):
        return self.sync.running

    def _on_document_closing(self, sender, args):
        if args.Document is not None and args.Document.Equals(self.doc):
            self.stop()

    def apply_pending(self):
        """ExternalEvent body: one batch, one transaction."""
        if not self.sync.running:
            return
        if not self.doc.IsValidObject:
            self.stop()
            return
        self.sync.drain()

    def _apply_batch(self, batch):
        view = self.doc.GetElement(self.view_id) if self.view_id is not None else None
        if not len(batch):
            return
        txn = DB.Transaction(self.doc, TXN_LIVE)
        txn.Start()
        try:
            if self.settings.live_write_tags:
                records = list(batch.health)
                keys = set(r["unique_id"] for r in records)
                # An alert change (or drop) alone updates the element's "last alert" tag too.
                for alert in list(batch.alerts) + list(batch.dropped_alerts):
                    record = self.sync.health.get(alert.get("unique_id"))
                    if record is not None and record["unique_id"] not in keys:
                        records.append(record)
                        keys.add(record["unique_id"])
                dropped = set(a["alert_id"] for a in batch.dropped_alerts)
                all_alerts = [a for a in self.sync.alerts.values() if a["alert_id"] not in dropped]
                all_alerts.extend(batch.alerts)
                if records:
                    tags.write_tags(self.doc, records, all_alerts, self.tag_result)
            if self.settings.live_colour_view and view is not None and batch.health:
                self.overlay_results.append(overlay.colour_view(self.doc, view, batch.health, self.settings))
                del self.overlay_results[:-5]
            txn.Commit()
        except Exception:
            if txn.HasStarted() and not txn.HasEnded():
                txn.RollBack()
            raise
        self.transactions += 1


def current_session():
    return session_store.get(SESSION_KEY)
