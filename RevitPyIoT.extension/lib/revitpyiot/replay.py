# -*- coding: utf-8 -*-
"""Replay: show the heat map and the sensor markers of the active view as they were at a past
time, from the sidecar's stored ``history``, then return to live.

The ``ReplayController`` fetches on a worker thread and draws on Revit's main thread through a
``main_thread.MainThreadQueue``; the modeless ``ReplayWindow`` (step buttons and a slider)
only calls ``step``/``go_to``/``back_to_live``. Nothing is written to the model.

A sensor's past status comes from its reading and the limits in its ``IoT Limit ...``
parameters (the sidecar's own limits are not part of ``history``): beyond a critical limit
critical, beyond a limit warning, otherwise ok; no reading: unknown. An equipment's past
status is rolled up from its sensors' (``IoT Host``: its UniqueId or Mark; or the family it is
nested in) as live health does: worst wins; unknown when none of its sensors has a reading;
at least watch when some report and others are silent. Equipment with no sensor keeps its
colour (live health has no evidence for it either).
"""
from __future__ import absolute_import

import time

from revitpyiot import protocol as P
from revitpyiot import revit_compat as rc
from revitpyiot import extract

STEPS_S = (("-1 h", -3600.0), ("-10 min", -600.0), ("+10 min", 600.0), ("+1 h", 3600.0))
WINDOW_S = 24 * 3600.0          # how far back the slider reaches
LOOKBACK_S = 900.0


def equipment_status(statuses):
    """An equipment's status from its sensors' statuses, as the sidecar's health does it."""
    known = [status for status in statuses if status != P.STATUS_UNKNOWN]
    if not known:
        return P.STATUS_UNKNOWN
    status = P.worst_status(known)
    if len(known) < len(statuses) and P.STATUS_RANK[status] < P.STATUS_RANK[P.STATUS_WATCH]:
        return P.STATUS_WATCH           # some sensors silent while others report
    return status


def past_status(value, limits):
    """The status a reading had against ``limits`` ({low, high, low_critical, high_critical})."""
    if value is None:
        return P.STATUS_UNKNOWN
    low_c, high_c = limits.get("low_critical"), limits.get("high_critical")
    if (low_c is not None and value < low_c) or (high_c is not None and value > high_c):
        return P.STATUS_CRITICAL
    low, high = limits.get("low"), limits.get("high")
    if (low is not None and value < low) or (high is not None and value > high):
        return P.STATUS_WARNING
    return P.STATUS_OK


class ReplayController(object):
    def __init__(self, doc, overlay, heat, client, queue, clock=None, session=None):
        self.doc = doc
        self.session = session            # the live-sync session drawing in this view, if any
        self.overlay = overlay            # live_overlay.LiveOverlay of the view
        self.heat = heat                  # heat_feed.HeatFeed (its room layout) or None
        self.client = client
        self.queue = queue
        self.clock = clock or time.time
        self.sensors = {}                 # sensor_id -> (unique_id, limits)
        self.hosts = {}                   # sensor_id -> its equipment's unique_id
        self.at = None                    # the time shown, None: live
        self.shown = []                   # times drawn, in order (tests, the window's label)
        self.live_statuses = {}
        self.on_shown = None              # callback(ts) on the main thread (the window's label)

    def collect_sensors(self):
        """Main thread: the view's sensors with their ids and limits (cheap parameter reads)."""
        DB = rc._db()
        marks = {}
        uids = set()
        host_refs = {}
        for element in DB.FilteredElementCollector(self.doc).WhereElementIsNotElementType():
            param = element.LookupParameter(P.PARAM_SENSOR_ID)
            if param is None or not param.HasValue:
                mark = extract._param_text(element, "ALL_MODEL_MARK")
                if mark:
                    marks.setdefault(rc.text(mark), element.UniqueId)
                uids.add(element.UniqueId)
                continue
            limits = {}
            for key, name in extract.LIMIT_PARAMS:
                value = extract._lookup_number(self.doc, element, name)
                if value is not None:
                    limits[key] = value
            sensor_id = rc.text(param.AsString())
            self.sensors[sensor_id] = (element.UniqueId, limits)
            ref = extract._lookup_text(self.doc, element, P.PARAM_HOST)
            parent = getattr(element, "SuperComponent", None)
            host_refs[sensor_id] = (rc.text(ref) if ref else None,
                                    parent.UniqueId if parent is not None else None)
        for sensor_id, (ref, parent) in host_refs.items():
            host = (ref if ref in uids else marks.get(ref)) if ref else parent
            if host:
                self.hosts[sensor_id] = host
        self.live_statuses = dict(self.overlay.statuses)
        if self.session is not None:
            self.session.replaying = True     # live events are kept, not drawn, while replaying

    def step(self, delta_s):
        start = self.at if self.at is not None else self.clock()
        return self.go_to(min(self.clock(), start + delta_s))

    def go_to(self, ts):
        self.at = float(ts)
        self.queue.background(self._fetch, self.at)
        return self.at

    def back_to_live(self):
        """Redraw what live sync showed before the replay (its next events carry on)."""
        self.at = None
        self.queue.post(self._draw_live)

    # worker thread
    def _fetch(self, ts):
        records = []
        by_host = {}
        for sensor_id, (unique_id, limits) in list(self.sensors.items()):
            reply = self.client.request(P.HISTORY, {"sensor_id": sensor_id, "start_ts": ts - LOOKBACK_S,
                                                    "end_ts": ts, "resolution": "raw"})
            values = reply.get("value") or []
            value = float(values[-1]) if values else None
            status = past_status(value, limits)
            records.append({"unique_id": unique_id, "status": status})
            host = self.hosts.get(sensor_id)
            if host is not None:
                by_host.setdefault(host, []).append(status)
        for host, statuses in sorted(by_host.items()):
            records.append({"unique_id": host, "status": equipment_status(statuses)})
        heat = self.heat.values_at(ts) if self.heat is not None else {}
        self.queue.post(self._draw, ts, records, heat)

    # main thread
    def _draw(self, ts, records, heat):
        if self.at != ts:
            return                      # the user moved on meanwhile
        self.overlay.show_records(records)
        if heat:
            self.overlay.show_heat(heat)
        self.shown.append(ts)
        if self.on_shown is not None:
            self.on_shown(ts)

    def _draw_live(self):
        statuses = dict(self.live_statuses)
        if self.session is not None:
            self.session.replaying = False
            statuses.update((key, record.get("status")) for key, record in self.session.sync.health.items())
        self.overlay.show_records([{"unique_id": key, "status": status} for key, status in statuses.items()])
        self.shown.append(None)
        if self.on_shown is not None:
            self.on_shown(None)


REPLAY_XAML = u"""<Window xmlns="http://schemas.microsoft.com/winfx/2006/xaml/presentation"
        xmlns:x="http://schemas.microsoft.com/winfx/2006/xaml"
        Title="RevitPyIoT Replay" Width="460" Height="150" ShowInTaskbar="False"
        ResizeMode="NoResize" WindowStartupLocation="CenterScreen">
  <StackPanel Margin="10">
    <TextBlock x:Name="when" Text="Live" Margin="0,0,0,6"/>
    <Slider x:Name="slider" Minimum="-86400" Maximum="0" Value="0" TickFrequency="3600"
            IsSnapToTickEnabled="False" ValueChanged="slider_changed"/>
    <StackPanel Orientation="Horizontal" Margin="0,8,0,0">
      <Button Content="-1 h" Width="60" Click="back_hour"/>
      <Button Content="-10 min" Width="60" Margin="6,0,0,0" Click="back_ten"/>
      <Button Content="+10 min" Width="60" Margin="6,0,0,0" Click="forward_ten"/>
      <Button Content="+1 h" Width="60" Margin="6,0,0,0" Click="forward_hour"/>
      <Button Content="Back to live" Width="100" Margin="18,0,0,0" Click="live"/>
    </StackPanel>
  </StackPanel>
</Window>"""


def make_window(controller):
    """The modeless replay window (pyRevit ``forms.WPFWindow``); its buttons only ask the
    controller, which fetches in the background and draws through the ExternalEvent."""
    from pyrevit import forms

    class ReplayWindow(forms.WPFWindow):
        def __init__(self):
            forms.WPFWindow.__init__(self, REPLAY_XAML, literal_string=True)
            controller.on_shown = self.show_time

        def show_time(self, ts):
            try:
                self.when.Text = u"Live" if ts is None else rc.utc_text(ts)
            except Exception:
                pass

        def back_hour(self, sender, args):
            controller.step(-3600.0)

        def back_ten(self, sender, args):
            controller.step(-600.0)

        def forward_ten(self, sender, args):
            controller.step(600.0)

        def forward_hour(self, sender, args):
            controller.step(3600.0)

        def slider_changed(self, sender, args):
            controller.go_to(controller.clock() + float(args.NewValue))

        def live(self, sender, args):
            controller.back_to_live()

    return ReplayWindow()
