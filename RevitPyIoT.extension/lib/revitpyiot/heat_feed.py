# -*- coding: utf-8 -*-
"""Values for the room heat map: which sensors measure the chosen quantity in which room or
space (read from the model a few elements per main-thread call), and their latest readings
(asked from the sidecar's ``history`` on a worker thread, every ``refresh_s``).

``values_at(ts)`` gives the same for a past time (Replay).
"""
from __future__ import absolute_import

import threading
import time

from revitpyiot import protocol as P
from revitpyiot import revit_compat as rc
from revitpyiot import extract

LOOKBACK_S = 900.0          # a reading older than this does not colour a room


class HeatFeed(object):
    def __init__(self, doc, client, quantity, view=None, request_apply=None, clock=None, refresh_s=60.0,
                 step=40, sensor_categories=None):
        self.doc = doc
        self.client = client
        self.quantity = quantity
        self.view = view
        self.request_apply = request_apply or (lambda: None)
        self.clock = clock or time.time
        self.refresh_s = float(refresh_s)
        self.step = max(1, int(step))
        self.sensor_categories = sensor_categories
        self.rooms = {}            # space key -> [sensor_id]
        self._todo = None          # element ids still to look at (layout), None before start
        self._lock = threading.Lock()
        self._pending = {}         # space key -> value, waiting for the main thread
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._worker = None
        self.errors = 0
        self.last_error = None

    # -- layout (main thread, a few elements per call) ------------------------------------
    def collect(self):
        """Main thread: the elements to place (placed later, a few per call)."""
        DB = rc._db()
        ids = []
        for element in DB.FilteredElementCollector(self.doc).WhereElementIsNotElementType():
            if element.LookupParameter(P.PARAM_SENSOR_ID) is not None:
                ids.append(element.Id)
        self._todo = ids

    def start(self):
        """Collect, then fetch the latest values on a worker thread every ``refresh_s``."""
        self.collect()
        self._worker = threading.Thread(target=self._run, name="RevitPyIoT heat map")
        self._worker.daemon = True
        self._worker.start()

    def stop(self):
        self._stop.set()
        self._wake.set()

    @property
    def laid_out(self):
        return self._todo is not None and not self._todo

    def _layout_step(self, deadline):
        while self._todo and self.clock() < deadline:
            for element_id in self._todo[:self.step]:
                self._place(self.doc.GetElement(element_id))
            del self._todo[:self.step]
        if not self._todo:
            self._wake.set()        # the worker may fetch values now

    def _place(self, element):
        if element is None:
            return
        param = element.LookupParameter(P.PARAM_QUANTITY)
        quantity = rc.text(param.AsString() if param is not None else u"").lower()
        if quantity != self.quantity:
            return
        sensor_id = rc.text(element.LookupParameter(P.PARAM_SENSOR_ID).AsString())
        point = extract.element_point(element)
        if not sensor_id or point is None:
            return
        spatial = self.doc.GetSpaceAtPoint(point) or self.doc.GetRoomAtPoint(point)
        if spatial is None:
            return
        self.rooms.setdefault(spatial.UniqueId, []).append(sensor_id)

    # -- values (worker thread) ------------------------------------------------------------
    def values_at(self, end_ts):
        """{space key: mean of its sensors' latest readings at ``end_ts``} from ``history``."""
        result = {}
        for key, sensors in list(self.rooms.items()):
            readings = []
            for sensor_id in sensors:
                reply = self.client.request(P.HISTORY, {"sensor_id": sensor_id, "start_ts": end_ts - LOOKBACK_S,
                                                        "end_ts": end_ts, "resolution": "raw"})
                values = reply.get("value") or []
                if values:
                    readings.append(float(values[-1]))
            if readings:
                result[key] = sum(readings) / len(readings)
        return result

    def _run(self):
        while not self._stop.is_set():
            if not self.laid_out:
                self._wake.wait(1.0)
                self._wake.clear()
                continue
            try:
                values = self.values_at(self.clock())
            except Exception as error:     # sidecar down or busy: try again next round
                self.errors += 1
                self.last_error = u"heat map values: {0}".format(error)
                values = {}
            if values:
                with self._lock:
                    self._pending.update(values)
                self.request_apply()
            # Nothing yet (no stored readings): ask again soon rather than in a full period.
            self._wake.wait(self.refresh_s if values else min(5.0, self.refresh_s))
            self._wake.clear()

    # -- main thread -----------------------------------------------------------------------
    def pending(self):
        with self._lock:
            return bool(self._pending) or bool(self._todo)

    def apply(self, overlay, deadline):
        """Lay out or show what fits before ``deadline``; True when work is left."""
        if self._todo:
            self._layout_step(deadline)
            return bool(self._todo)
        with self._lock:
            keys = list(self._pending)[:30]
            values = dict((key, self._pending.pop(key)) for key in keys)
        if values and overlay is not None:
            overlay.show_heat(values)
        return self.pending()
