# -*- coding: utf-8 -*-
"""Health tags written rarely and politely while live sync runs.

Every ``tag_interval_min`` minutes (default 15; 0 turns the schedule off), in the live-sync
handler on Revit's main thread: ONE named transaction ("RevitPyIoT: scheduled health tags")
that binds the tag parameters if they are missing and sets only the values that changed. In
a workshared model nothing is borrowed: only elements the user already owns are written; the
others are skipped and listed once in the output window.
"""
from __future__ import absolute_import

import time

from revitpyiot import tags

TXN_SCHEDULED = u"RevitPyIoT: scheduled health tags"


def interval_s(settings):
    minutes = float(settings.tag_interval_min or 0)
    if settings.live_write_tags:
        minutes = min(minutes, 1.0) if minutes > 0 else 1.0   # the "live" choice: at most once a minute
    return minutes * 60.0 if minutes > 0 else None


class TagSchedule(object):
    def __init__(self, doc, settings, data_dir, clock=None, categories=None):
        self.doc = doc
        self.settings = settings
        self.data_dir = data_dir
        self.clock = clock or time.time
        self.interval_s = interval_s(settings)
        self.next_ts = self.clock() + self.interval_s if self.interval_s else None
        self.categories = categories if categories is not None else \
            list(settings.equipment_categories) + list(settings.sensor_categories)
        self.transactions = 0
        self.writes = []           # TagResult of every write
        self._listed = set()       # skipped keys already shown to the user

    def due(self):
        return self.next_ts is not None and self.clock() >= self.next_ts

    def write(self, health_by_key, alerts_by_id, notifier=None):
        """One scheduled write (call on the main thread). Returns its TagResult."""
        self.next_ts = self.clock() + self.interval_s if self.interval_s else None
        result = tags.TagResult()
        alerts = list(alerts_by_id.values())
        records, bound = tags.records_to_write(self.doc, list(health_by_key.values()), alerts, result,
                                               borrow=False)
        if records:
            self._write(records, alerts, bound, result)
        fresh = [(key, reason) for key, _, reason in result.skipped if key not in self._listed]
        if fresh and notifier is not None:
            self._listed.update(key for key, _ in fresh)
            notifier.info(u"Scheduled health tags: {0} written, {1} skipped (never borrowed): {2}".format(
                len(result.written), len(result.skipped),
                u"; ".join(u"{0} ({1})".format(key, reason) for key, reason in fresh[:20])))
        self.writes.append(result)
        return result

    def _write(self, records, alerts, bound, result):
        DB = _db()
        txn = DB.Transaction(self.doc, TXN_SCHEDULED)
        txn.Start()
        try:
            if not bound:
                tags.ensure_parameters(self.doc, self.categories, self.data_dir, result)
            tags.write_tags(self.doc, records, alerts, result, only_changed=True, borrow=False)
            txn.Commit()
        except Exception:
            if txn.HasStarted() and not txn.HasEnded():
                txn.RollBack()
            raise
        self.transactions += 1


def _db():
    from Autodesk.Revit import DB
    return DB
