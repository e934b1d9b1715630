# -*- coding: utf-8 -*-
"""Health tags written rarely and politely while live sync runs.

Every ``tag_interval_min`` minutes (default 15; 0 turns the schedule off), in the live-sync
handler on Revit's main thread: ONE named transaction ("RevitPyIoT: scheduled health tags")
that binds the tag parameters if they are missing and sets only the values that changed. In
a workshared model nothing is borrowed: only elements the user already owns (an editable
workset) are written; the others are skipped and listed once in the output window, with the
owner's name where a colleague owns them.
"""
from __future__ import absolute_import

import time

from revitpyiot import tags

TXN_SCHEDULED = u"RevitPyIoT: scheduled health tags"
WRITE_SLICE = 200          # more changed elements than this: the write gets a handler call of its own


def interval_s(settings):
    minutes = float(settings.tag_interval_min or 0)
    if settings.live_write_tags:
        minutes = min(minutes, 1.0) if minutes > 0 else 1.0   # the "live" choice: at most once a minute
    return minutes * 60.0 if minutes > 0 else None


class TagSchedule(object):
    def __init__(self, doc, settings, data_dir, clock=None, categories=None, timer=None):
        self.doc = doc
        self.settings = settings
        self.data_dir = data_dir
        self.clock = clock or time.time      # the schedule's clock (building time)
        self.timer = timer or time.time      # wall time, for the handler's deadline
        self.interval_s = interval_s(settings)
        self.next_ts = self.clock() + self.interval_s if self.interval_s else None
        self.categories = categories if categories is not None else \
            list(settings.equipment_categories) + list(settings.sensor_categories)
        self.transactions = 0
        self.writes = []           # TagResult of every write
        self._listed = set()       # skipped keys already shown to the user
        self._pass = None          # a write in progress (read in slices, then written)

    def due(self):
        return self._pass is not None or (self.next_ts is not None and self.clock() >= self.next_ts)

    def needs_binding(self):
        """True when the schedule is on and the tag parameters are not in the model yet."""
        return self.interval_s is not None and not tags.parameters_bound(self.doc)

    def bind(self, result=None):
        """Bind the tag parameters (inside the caller's set-up transaction)."""
        return tags.ensure_parameters(self.doc, self.categories, self.data_dir, result)

    def step(self, health_by_key, alerts_by_id, deadline, notifier=None):
        """Main thread, a slice at a time: read which tags changed until ``deadline`` (no
        transaction), then write them in one transaction at the start of a later call.
        Returns True while the write is not finished."""
        if self._pass is None:
            self.next_ts = self.clock() + self.interval_s if self.interval_s else None
            self._pass = {"todo": list(health_by_key.values()), "pending": [], "bound": True,
                          "alerts": list(alerts_by_id.values()), "result": tags.TagResult(), "fresh": True}
        state = self._pass
        while state["todo"] and self.timer() < deadline:
            chunk, state["todo"] = state["todo"][:50], state["todo"][50:]
            pending, bound = tags.records_to_write(self.doc, chunk, state["alerts"], state["result"])
            state["pending"].extend(pending)
            state["bound"] = state["bound"] and bound
            state["fresh"] = False
        if state["todo"]:
            return True
        if state["pending"] and not state["fresh"] and len(state["pending"]) > WRITE_SLICE:
            # a big write gets a handler call of its own
            state["fresh"] = True
            return True
        self._pass = None
        result = state["result"]
        if state["pending"]:
            self._write(state["pending"], state["bound"], result)
        self._report(result, notifier)
        self.writes.append(result)
        return False

    def write(self, health_by_key, alerts_by_id, notifier=None):
        """One whole scheduled write at once (tests, the benchmark's reference)."""
        self._pass = None
        while self.step(health_by_key, alerts_by_id, self.timer() + 3600.0, notifier):
            pass
        return self.writes[-1]

    def _report(self, result, notifier):
        fresh = [(key, reason) for key, _, reason in result.skipped if key not in self._listed]
        if fresh and notifier is not None:
            self._listed.update(key for key, _ in fresh)
            notifier.info(u"Scheduled health tags: {0} written, {1} skipped (never taken from a colleague): "
                          u"{2}".format(len(result.written), len(result.skipped),
                                        u"; ".join(u"{0} ({1})".format(key, reason) for key, reason in fresh[:20])))

    def _write(self, pending, bound, result):
        DB = _db()
        txn = DB.Transaction(self.doc, TXN_SCHEDULED)
        txn.Start()
        try:
            if not bound:    # the values were read as missing, so they are all in ``pending``
                self.bind(result)
            tags.write_prepared(self.doc, pending, result, TXN_SCHEDULED)
            txn.Commit()
        except Exception:
            if txn.HasStarted() and not txn.HasEnded():
                txn.RollBack()
            raise
        self.transactions += 1


def _db():
    from Autodesk.Revit import DB
    return DB
