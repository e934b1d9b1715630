"""Issue 14, "a free UI thread": every button that asks the sidecar does its request on a worker
thread and applies the answer on Revit's main thread. Against a sidecar that answers only after
2 s, the click holds the UI thread well under 100 ms, shows progress at once, and the job is done
once the answer has arrived. Replay recolours equipment from its sensors' past statuses."""
import threading
import time

import pytest
from revitpyiot import protocol as P

SLOW_S = 2.0


class SlowSidecar:
    """A sidecar client whose every request sleeps ``delay_s`` first (a busy or dying sidecar)."""

    def __init__(self, health=(), alerts=(), delay_s=SLOW_S, fail=None, history=None):
        self.health = list(health)
        self.alerts = [dict(a) for a in alerts]
        self.history = history or {}
        self.delay_s = delay_s
        self.fail = fail
        self.requests = []                        # (type, thread name, started)
        self.dashboard_url = "http://127.0.0.1:8899/"

    def close(self):
        pass

    def subscribe(self, topics, callback, on_gap=None):
        self.callback = callback
        return self

    def stop(self):
        pass

    def request(self, type, body=None, timeout_s=None):
        self.requests.append((type, threading.current_thread().name, time.time()))
        time.sleep(self.delay_s)
        if self.fail is not None:
            raise self.fail
        if type == P.SNAPSHOT:
            return {"health": list(self.health), "alerts": [dict(a) for a in self.alerts]}
        if type == P.STATUS:
            return {"state": "monitoring", "dashboard_url": self.dashboard_url}
        if type == P.HISTORY:
            points = [(ts, v) for ts, v in self.history.get(body["sensor_id"], [])
                      if body["start_ts"] <= ts <= body["end_ts"]]
            return {"sensor_id": body["sensor_id"], "resolution": "raw", "ts": [p[0] for p in points],
                    "value": [p[1] for p in points]}
        if type == P.ACK:
            alert = next(a for a in self.alerts if a["alert_id"] == body["alert_id"])
            alert.update(state=P.ALERT_ACKNOWLEDGED, acknowledged_by=body["user"], acknowledged_ts=time.time())
            return {"alert": dict(alert)}
        raise AssertionError(type)


def _health(element, status):
    return {"unique_id": element.UniqueId, "element_id": element.Id.Value, "health_score": 50.0, "status": status,
            "failure_probability": None, "ttf_hours": None, "drivers": [], "updated_ts": time.time()}


def _param(element, name):
    param = element.LookupParameter(name)
    return None if param is None else param._value


@pytest.fixture
def building(fake_revit):
    import ext_building
    return ext_building.build(fake_revit, floors=1, link_floors=1)


@pytest.fixture
def slow(monkeypatch, building):
    from revitpyiot import settings
    eq = building.equipment[0]
    alert = {"alert_id": "a-1", "sensor_id": "T-101", "unique_id": eq.UniqueId, "element_id": eq.Id.Value,
             "severity": P.SEVERITY_CRITICAL,
             "state": P.ALERT_ACTIVE, "message": "Zu warm", "raised_ts": time.time() - 120.0}
    client = SlowSidecar([_health(eq, "critical")] + [_health(e, "ok") for e in building.equipment[1:]],
                         alerts=[alert])
    monkeypatch.setattr(settings.Settings, "make_client", lambda self, timeout_s=None: client)
    import revitpyiot.commands  # noqa: F401  (imported as pyRevit's engine would have it: the click measures itself)
    return client


def _click_while_slow(host, name):
    """Click ``name`` against the slow sidecar: returns the output after the click only."""
    out = host.run_button(name, settle=False)
    # The UI thread's CPU time is the click's own work (the repo's measure: this 2-core machine
    # runs other tests meanwhile); the wall clock shows the click did not wait for the reply.
    assert out.block_cpu_ms < 100.0, (name, out.block_cpu_ms)
    assert out.block_ms < SLOW_S * 1000.0 / 4, (name, out.block_ms)
    assert out.progress == [True], (name, out.progress)                 # the output's progress bar runs
    return out


def _settle(host, name):
    before = len(host.handler_cpu_ms)
    started = time.monotonic()
    host.settle()
    assert host.outputs[-1].progress == [True, False], (name, host.outputs[-1].progress)   # and stops once
    assert time.monotonic() - started >= SLOW_S * 0.5                   # it really waited for the sidecar
    assert max(host.handler_cpu_ms[before:] or [0.0]) <= 100.0, (name, sorted(host.handler_cpu_ms[before:])[-3:])


def _on_worker(slow, request_type):
    threads = [thread for type_, thread, _ in slow.requests if type_ == request_type]
    assert threads and all(t != threading.main_thread().name for t in threads), slow.requests
    assert all(t == "RevitPyIoT worker" for t in threads)


def test_colour_by_health_with_a_slow_sidecar(fake_revit, building, slow):
    import ext_overlay
    host, b = fake_revit, building
    host.uiapp.ActiveUIDocument.ActiveView = b.plan
    out = _click_while_slow(host, "Colour by Health")
    assert "Asking the sidecar" in out.text()                           # progress, at once
    assert ext_overlay.marker_colour(b.doc, b.plan, b.equipment[0]) is None   # nothing drawn yet
    _settle(host, "Colour by Health")
    _on_worker(slow, P.SNAPSHOT)
    assert ext_overlay.marker_colour(b.doc, b.plan, b.equipment[0]) == tuple(P.STATUS_COLOURS["critical"])
    assert "Health in" in out.text() and "transient overlay" in out.text()
    assert b.doc._committed == []


def test_live_view_with_a_slow_sidecar(fake_revit, building, slow):
    host, b = fake_revit, building
    host.uiapp.ActiveUIDocument.ActiveView = b.templated_plan
    out = _click_while_slow(host, "Live View")
    assert "Asking the sidecar" in out.text()
    assert b.doc._committed == [] and host.uiapp.ActiveUIDocument.ActiveView is b.templated_plan
    _settle(host, "Live View")
    _on_worker(slow, P.SNAPSHOT)
    live = host.uiapp.ActiveUIDocument.ActiveView
    assert live.Name == "RevitPyIoT Live" and b.doc._committed == ["RevitPyIoT: live view"]
    assert live.GetElementOverrides(b.equipment[0].Id).ProjectionLineColor.Red == 214


def test_write_health_tags_with_a_slow_sidecar(fake_revit, building, slow):
    from revitpyiot import tags
    host, b = fake_revit, building
    out = _click_while_slow(host, "Write Health Tags")
    assert "Asking the sidecar" in out.text() and b.doc._committed == []
    _settle(host, "Write Health Tags")
    _on_worker(slow, P.SNAPSHOT)
    assert b.doc._committed == [tags.TXN_WRITE]                          # one transaction, on the main thread
    assert _param(b.equipment[0], P.PARAM_HEALTH_STATUS) == "critical"
    assert "Wrote health tags on" in out.text()


def test_alerts_with_a_slow_sidecar_list_pick_and_acknowledge(fake_revit, building, slow):
    from pyrevit import forms
    host, b = fake_revit, building
    host.answer(lambda labels: labels[0], "Acknowledge")
    out = _click_while_slow(host, "Alerts")
    assert "Asking the sidecar" in out.text() and not forms._SHOWN           # no form before the answer
    _settle(host, "Alerts")                                              # snapshot, pick, ack: 2 requests
    assert [r[0] for r in slow.requests] == [P.SNAPSHOT, P.ACK]
    _on_worker(slow, P.SNAPSHOT)
    _on_worker(slow, P.ACK)
    text = out.text()
    assert "Active alerts (1)" in text and "Acknowledged by revit.user" in text
    assert host.uiapp.ActiveUIDocument.Selection.GetElementIds() == [b.equipment[0].Id]
    assert slow.alerts[0]["acknowledged_by"] == "revit.user"
    assert slow.requests[1][2] - slow.requests[0][2] >= SLOW_S              # the ack waited for the pick


def test_open_dashboard_with_a_slow_sidecar(fake_revit, building, slow):
    from pyrevit import script
    host, b = fake_revit, building
    host.uiapp.ActiveUIDocument.Selection.SetElementIds([b.equipment[1].Id])
    _click_while_slow(host, "Open Dashboard")
    assert script._STATE["urls"] == []
    _settle(host, "Open Dashboard")
    _on_worker(slow, P.STATUS)
    assert script._STATE["urls"] == ["http://127.0.0.1:8899/#/element/" + b.equipment[1].UniqueId]


@pytest.mark.parametrize("name", ["Colour by Health", "Live View", "Write Health Tags", "Alerts"])
def test_a_dead_sidecar_is_reported_without_holding_revit(fake_revit, building, slow, name):
    from revitpyiot.transport.client import SidecarTimeout
    host, b = fake_revit, building
    host.uiapp.ActiveUIDocument.ActiveView = b.plan
    slow.fail = SidecarTimeout("no reply in 2.0 s")
    out = _click_while_slow(host, name)
    _settle(host, name)
    assert "did not answer in time" in out.text() and "no reply in 2.0 s" in out.text()
    assert b.doc._committed == []


def test_open_dashboard_with_a_dead_sidecar_falls_back_to_settings(fake_revit, building, slow):
    from pyrevit import script
    from revitpyiot.transport.client import SidecarTimeout
    host = fake_revit
    slow.fail = SidecarTimeout("no reply in 0.5 s")
    out = _click_while_slow(host, "Open Dashboard")
    _settle(host, "Open Dashboard")
    assert "does not answer" in out.text()
    from revitpyiot import settings
    assert script._STATE["urls"] == [settings.Settings({}).dashboard_url]


def test_a_real_peer_paused_with_sigstop_does_not_hold_revit(fake_revit, building, monkeypatch):
    """A real process bound to the command endpoint, stopped with SIGSTOP: the TCP connection is
    accepted by the kernel but nothing answers; the request times out on the worker thread."""
    import os
    import signal
    import subprocess
    import sys

    from revitpyiot import settings
    from revitpyiot.transport.client import SidecarClient
    server = subprocess.Popen([sys.executable, "-c",
                               ("import zmq, time\n"
                               "s = zmq.Context().socket(zmq.ROUTER)\n"
                               "port = s.bind_to_random_port('tcp://127.0.0.1')\n"
                               "print(port, flush=True)\n"
                               "time.sleep(120)\n")], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        os.kill(server.pid, signal.SIGSTOP)
        monkeypatch.setattr(settings.Settings, "make_client", lambda self, timeout_s=None: SidecarClient(
            command_endpoint=f"tcp://127.0.0.1:{port}", event_endpoint=f"tcp://127.0.0.1:{port}",
            token="t" * 32, timeout_s=1.5))
        host = fake_revit
        host.uiapp.ActiveUIDocument.ActiveView = building.plan
        for name in ("Colour by Health", "Write Health Tags", "Alerts"):
            out = _click_while_slow(host, name)
            started = time.monotonic()
            host.settle()
            assert time.monotonic() - started >= 1.0, name                   # the time-out ran on the worker
            assert "did not answer in time" in out.text() or "does not answer" in out.text(), out.text()
            assert building.doc._committed == []
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.kill()
        server.wait()


# -- Replay recolours equipment -------------------------------------------------------------------
def test_equipment_status_rolls_up_like_live_health():
    from revitpyiot import replay
    assert replay.equipment_status([]) == "unknown"
    assert replay.equipment_status(["unknown", "unknown"]) == "unknown"
    assert replay.equipment_status(["ok", "ok"]) == "ok"
    assert replay.equipment_status(["ok", "critical", "warning"]) == "critical"
    assert replay.equipment_status(["ok", "unknown"]) == "watch"           # silent among reporting
    assert replay.equipment_status(["warning", "unknown"]) == "warning"


def test_replay_recolours_equipment_from_its_sensors_past(fake_revit, building, monkeypatch):
    import ext_overlay
    from pyrevit import forms
    from revitpyiot import commands, session_store, settings
    host, b = fake_revit, building
    now = time.time()
    # The first room: equipment[0] hosts T-<n> (by UniqueId) and CO2-<n> (by Mark).
    eq = b.equipment[0]
    temp, co2 = b.sensors[0], b.sensors[1]
    assert _param(temp, P.PARAM_HOST) == eq.UniqueId and _param(co2, P.PARAM_HOST).startswith("EQ-")
    history = {_param(temp, P.PARAM_SENSOR_ID): [(now - 3700, 35.0), (now - 60, 21.0)],     # critical then
               _param(co2, P.PARAM_SENSOR_ID): [(now - 3700, 600.0), (now - 60, 600.0)]}
    # A second equipment whose CO2 (by Mark) was over its warning limit an hour ago, T silent.
    eq2 = b.equipment[2]
    temp2, co2_2 = b.sensors[4], b.sensors[5]
    history[_param(co2_2, P.PARAM_SENSOR_ID)] = [(now - 3700, 1200.0)]
    client = SlowSidecar([_health(e, "ok") for e in b.equipment + b.sensors], delay_s=0.0, history=history)
    monkeypatch.setattr(settings.Settings, "make_client", lambda self, timeout_s=None: client)
    host.uiapp.ActiveUIDocument.ActiveView = b.plan
    host.run_button("Colour by Health")
    ok = tuple(P.STATUS_COLOURS["ok"])
    assert ext_overlay.marker_colour(b.doc, b.plan, eq) == ok
    assert ext_overlay.marker_colour(b.doc, b.plan, eq2) == ok
    host.run_button("Replay")
    window = forms._WINDOWS[-1]
    controller = session_store.get(commands.REPLAY_KEY)
    assert controller.hosts[_param(temp, P.PARAM_SENSOR_ID)] == eq.UniqueId
    assert controller.hosts[_param(co2, P.PARAM_SENSOR_ID)] == eq.UniqueId
    assert controller.hosts[_param(temp2, P.PARAM_SENSOR_ID)] == eq2.UniqueId
    window.back_hour(None, None)
    host.pump_until(lambda: controller.shown, timeout_s=10)
    assert ext_overlay.marker_colour(b.doc, b.plan, temp) == tuple(P.STATUS_COLOURS["critical"])
    assert ext_overlay.marker_colour(b.doc, b.plan, eq) == tuple(P.STATUS_COLOURS["critical"])  # worst wins
    assert ext_overlay.marker_colour(b.doc, b.plan, co2_2) == tuple(P.STATUS_COLOURS["warning"])
    assert ext_overlay.marker_colour(b.doc, b.plan, eq2) == tuple(P.STATUS_COLOURS["warning"])
    assert ext_overlay.marker_colour(b.doc, b.plan, b.equipment[1]) == ok     # no sensors: as it was
    window.live(None, None)
    host.pump_until(lambda: controller.shown[-1] is None, timeout_s=10)
    assert ext_overlay.marker_colour(b.doc, b.plan, eq) == ok                  # back to live
    assert ext_overlay.marker_colour(b.doc, b.plan, eq2) == ok


def test_no_handler_of_these_buttons_holds_the_ui_thread_in_a_large_model(fake_revit, monkeypatch):
    """The 1,000+ element building: the click and each main-thread step that applies the answer
    (colours, the Live View transaction, the tags transaction, the alert list) stay under 100 ms
    of the UI thread's CPU time (its own work; wall times depend on this shared machine)."""
    import ext_building
    from revitpyiot import settings, tags
    host = fake_revit
    b = ext_building.build(host)
    eq = b.equipment[0]
    alert = {"alert_id": "a-1", "sensor_id": "T-101", "unique_id": eq.UniqueId, "element_id": eq.Id.Value,
             "severity": P.SEVERITY_CRITICAL, "state": P.ALERT_ACTIVE, "message": "Zu warm",
             "raised_ts": time.time() - 120.0}
    client = SlowSidecar([_health(e, ("critical", "warning", "ok")[i % 3]) for i, e in enumerate(b.equipment + b.sensors)],
                         alerts=[alert], delay_s=0.0)
    monkeypatch.setattr(settings.Settings, "make_client", lambda self, timeout_s=None: client)
    host.uiapp.ActiveUIDocument.ActiveView = b.plan
    host.answer(lambda labels: labels[0], "Acknowledge")
    for name in ("Colour by Health", "Live View", "Write Health Tags", "Alerts", "Open Dashboard"):
        out = host.run_button(name, settle=False)
        assert out.block_cpu_ms <= 100.0, (name, out.block_cpu_ms)
        before = len(host.handler_cpu_ms)
        host.settle()
        assert len(host.handler_cpu_ms) > before, name                  # the answer came through a handler
        assert max(host.handler_cpu_ms[before:]) <= 100.0, (name, sorted(host.handler_cpu_ms[before:])[-3:])
        assert out.progress == [True, False], name
        print(f"{name}: click {out.block_cpu_ms:.1f} ms CPU, slowest handler {max(host.handler_cpu_ms[before:]):.1f} ms CPU")
    assert b.doc._committed == ["RevitPyIoT: live view", tags.TXN_WRITE]


def test_every_button_that_leaves_work_for_later_runs_in_the_persistent_engine(fake_revit, building, monkeypatch):
    """pyRevit disposes a script's IronPython engine when the click returns unless the bundle
    asks for the persistent engine: a worker thread or an ExternalEvent handler left behind would
    then run in a dead engine. Click every button; any that leaves work behind must be persistent."""
    import os

    import fake_host
    from revitpyiot import main_thread, settings
    client = SlowSidecar([_health(e, "ok") for e in building.equipment], delay_s=0.2)
    monkeypatch.setattr(settings.Settings, "make_client", lambda self, timeout_s=None: client)
    fake_revit.uiapp.ActiveUIDocument.ActiveView = building.plan
    left_work = []
    for dirpath, dirnames, files in sorted(os.walk(os.path.join(fake_host.EXTENSION, "RevitPyIoT.tab"))):
        if "script.py" not in files:
            continue
        name = os.path.basename(dirpath).rpartition(".")[0]
        if name in ("Connect", "Settings", "Export Brick"):
            continue              # Connect may start a process; Settings asks; Brick needs the sidecar package
        fake_revit.run_button(name, settle=False)
        if main_thread.any_busy():
            left_work.append(name)
            with open(os.path.join(dirpath, "bundle.yaml"), encoding="utf-8") as handle:
                assert "persistent: true" in handle.read(), name
        fake_revit.settle()
    assert {"Colour by Health", "Live View", "Write Health Tags", "Alerts", "Open Dashboard",
            "Export Sensors", "Monitoring", "Replay"} <= set(left_work), left_work
    from revitpyiot import live_revit
    session = live_revit.current_session()
    if session is not None and session.running:
        session.stop()
    for name in ("Connect", "Export Brick", "Live Sync"):           # a live session, not a queue
        with open(os.path.join(fake_host.find_bundle(name), "bundle.yaml"), encoding="utf-8") as handle:
            assert "persistent: true" in handle.read(), name


@pytest.mark.parametrize("name", ["Colour by Health", "Write Health Tags", "Live View"])
def test_a_document_closed_before_the_answer_is_left_alone(fake_revit, building, slow, name):
    import ext_overlay
    host, b = fake_revit, building
    host.uiapp.ActiveUIDocument.ActiveView = b.plan
    out = _click_while_slow(host, name)
    host.uiapp._in_api_context = True                      # the user closes the model meanwhile
    try:
        b.doc.Close(False)
    finally:
        host.uiapp._in_api_context = False
    host.settle()
    assert "closed before the sidecar answered" in out.text(), out.text()
    assert b.doc._committed == [] and ext_overlay.count_drawn(b.doc, b.plan) == 0
    assert "failed" not in out.text()
