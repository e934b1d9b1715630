"""The buttons' own script.py files, run under the fake Revit API against a REAL sidecar
(``python -m sidecar serve``) over real ZeroMQ: export a 1,000+ element building with a linked
annex, start monitoring and live sync, push readings that cross limits, and check the transient
overlay (no transaction per live batch, no template touched), the scheduled tags, alerts, the
Live View and Clear Colours."""
import os
import sys
import time

import pytest
from revitpyiot import protocol as P

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from support.sidecar_process import running_sidecar


@pytest.fixture
def sidecar():
    with running_sidecar() as handle:
        yield handle


@pytest.fixture
def env(sidecar, fake_revit, monkeypatch):
    import ext_building
    monkeypatch.setenv("REVITPYIOT_DATA_DIR", str(sidecar.data_dir))
    fake_revit.app.Username = "jürgen.bauer"
    # Scheduled tag writes every 1.2 s instead of 15 min, so the test sees several.
    fake_revit.config({"command_endpoint": sidecar.command_endpoint, "event_endpoint": sidecar.event_endpoint,
                       "timeout_s": "10", "tag_interval_min": "0.02", "heatmap_refresh_s": "1"})
    building = ext_building.build(fake_revit)
    return fake_revit, building, sidecar


def _client(sidecar):
    from revitpyiot.transport.client import SidecarClient
    return SidecarClient(sidecar.command_endpoint, sidecar.event_endpoint, token=sidecar.token, timeout_s=10)


def _colour(view, element):
    overrides = view._effective_overrides(element)
    colour = overrides.ProjectionLineColor
    return (colour.Red, colour.Green, colour.Blue) if colour.IsValid else None


def _param(element, name):
    param = element.LookupParameter(name)
    return None if param is None else param._value


def test_connect_says_how_to_start_a_missing_sidecar(fake_revit, tmp_path):
    import socket
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    fake_revit.config({"command_endpoint": f"tcp://127.0.0.1:{port}",
                       "event_endpoint": f"tcp://127.0.0.1:{port}", "timeout_s": "1"})
    import ext_building
    ext_building.build(fake_revit, floors=1, link_floors=1)
    out = fake_revit.run_button("Connect")
    text = out.text()
    assert "sidecar is not running" in text
    assert "revitpyiot-sidecar serve" in text


def test_full_walkthrough(env):
    host, b, sidecar = env
    import ext_building
    import ext_overlay
    from Autodesk.Revit import DB
    from revitpyiot import live_overlay, live_revit, tags_schedule

    # Connect / Status ------------------------------------------------------------------
    out = host.run_button("Connect")
    assert "| idle" in out.text() or "idle" in out.text()

    # Export Sensors ----------------------------------------------------------------------
    out = host.run_button("Export Sensors")
    text = out.text()
    expected = ext_building.exported_count(b)
    assert expected >= 1000
    assert f"The sidecar accepted {expected} elements" in text
    assert "sensor_without_binding" in text and "no_location" in text
    assert f'data-ids="{b.unbound_device.Id.Value}"' in text      # clickable element link
    client = _client(sidecar)
    try:
        assert client.request(P.STATUS, {})["state"] == P.STATE_CONFIGURED

        # Monitoring (smart button): start-up only sets the icon, a click toggles ------------
        button = host.selfinit("Monitoring")
        assert button.icon.endswith("icon.png") and button.icon_size == 32
        assert client.request(P.STATUS, {})["state"] == P.STATE_CONFIGURED      # start-up toggled nothing
        host.run_button("Monitoring")
        assert client.request(P.STATUS, {})["state"] == P.STATE_MONITORING
        assert host.button("Monitoring").icon.endswith("on.png")

        # Live Sync (smart button) --------------------------------------------------------------
        committed_before = list(b.doc._committed)
        click = host.run_button("Live Sync")
        session = live_revit.current_session()
        assert session is not None and session.running
        assert host.button("Live Sync").icon.endswith("on.png")
        # The one-time set-up: the heat map's AVF display style, one named transaction.
        assert b.doc._committed[len(committed_before):] == [live_overlay.TXN_SETUP]
        per_batch = []
        original = session.sync.apply_batch

        def counting(batch):
            before = len(b.doc._committed) + len(b.doc._rolled_back)
            original(batch)
            per_batch.append((len(batch), len(b.doc._committed) + len(b.doc._rolled_back) - before))
        session.sync.apply_batch = counting
        host.pump_until(lambda: session.sync.stats["snapshots"] >= 1 and session.sync.pending() == 0)

        # Readings crossing limits ------------------------------------------------------------
        now = time.time()
        
        hot_room = b.sensors[12]             # T-004: host = equipment[6]
        unicode_sensor = b.unicode_sensor    # Raumfühler-Ü1, host = equipment[0]
        co2 = b.sensors[17]                  # CO2-005: host by Mark = equipment[8]
        linked_temp = b.linked.sensors[0]    # T-LA001 in the annex
        readings = [
            ["Raumfühler-Ü1", now, 35.0],                                 # > high_critical 30
            [_param(hot_room, P.PARAM_SENSOR_ID), now, 31.5],              # critical
            [_param(co2, P.PARAM_SENSOR_ID), now, 1200.0],                 # > high 1000: warning
            [_param(linked_temp, P.PARAM_SENSOR_ID), now, 33.0],           # critical, in the link
            [_param(b.sensors[20], P.PARAM_SENSOR_ID), now, 21.0],         # normal
            ["no-such-sensor", now, 1.0],                                 # rejected, batch goes on
        ]
        ingest = client.request(P.INGEST, {"readings": readings})
        assert ingest["accepted"] == 5 and [r["index"] for r in ingest["rejected"]] == [5]

        def has(uid, status):
            record = session.sync.health.get(uid)
            return record is not None and record["status"] == status
        eq0, eq6, eq10 = b.equipment[0], b.equipment[6], b.equipment[8]   # hosts of the sensors above
        linked_key = b.link.UniqueId + "/" + b.linked.equipment[0].UniqueId
        try:
            host.pump_until(lambda: has(eq0.UniqueId, "critical") and has(eq6.UniqueId, "critical")
                            and has(eq10.UniqueId, "warning") and has(linked_key, "critical")
                            and session.sync.pending() == 0)
        except AssertionError:
            raise AssertionError(f"live state not reached: {session.sync.stats} {session.sync.last_error} {session.last_error} {[session.sync.health.get(k) for k in (eq0.UniqueId, eq6.UniqueId, eq10.UniqueId, linked_key)]}")

        assert click.block_cpu_ms <= 100.0, click.block_cpu_ms  # the click, set-up transaction included
        # No transaction for any live batch: the overlay is display-only.
        assert per_batch and all(transactions == 0 for _, transactions in per_batch), per_batch
        assert not b.doc._rolled_back and not b.doc._template_changes

        # Shown in the plan view's overlay (live sync draws in the view it was started in), the
        # view itself and the user's element overrides untouched.
        critical = tuple(P.STATUS_COLOURS["critical"])
        assert ext_overlay.marker_colour(b.doc, b.plan, eq0) == critical
        assert ext_overlay.marker_colour(b.doc, b.plan, unicode_sensor) == critical
        assert ext_overlay.marker_colour(b.doc, b.plan, eq10) == tuple(P.STATUS_COLOURS["warning"])
        assert _colour(b.plan, eq0) is None and not b.plan._overrides
        # The temperature heat map on the floor of the hot room (its sensor's latest reading).
        room = b.doc.GetRoomAtPoint(hot_room.Location.Point) or b.doc.GetSpaceAtPoint(hot_room.Location.Point)
        try:
            host.pump_until(lambda: ext_overlay.heat_value(b.plan, room) is not None)
        except AssertionError:
            raise AssertionError(f"{session.heat.rooms} {session.heat.last_error} {session.heat._todo} {room}")

        # Tagged on the schedule (not per batch): one named transaction per write, only changes.
        host.pump_until(lambda: _param(eq0, P.PARAM_HEALTH_STATUS) == "critical"
                        and "Raumfühler-Ü1" in (_param(eq0, P.PARAM_LAST_ALERT) or ""), timeout_s=30)
        assert _param(eq0, P.PARAM_HEALTH_SCORE) < 50
        host.pump_until(lambda: _param(eq10, P.PARAM_HEALTH_STATUS) == "warning")
        scheduled = [name for name in b.doc._committed if name == tags_schedule.TXN_SCHEDULED]
        assert scheduled and set(b.doc._committed[len(committed_before):]) == {live_overlay.TXN_SETUP,
                                                                              tags_schedule.TXN_SCHEDULED}
        assert session.transactions == len(b.doc._committed) - len(committed_before)
        # Read-only, grouped and borrowed elements are skipped and listed, never written.
        assert _param(b.read_only, P.PARAM_HEALTH_SCORE) is None
        assert _param(b.owned, P.PARAM_HEALTH_STATUS) is None and b.owned._owner == "kollegin.müller"
        skipped = {key: reason for write in session.tags.writes for key, _, reason in write.skipped}
        assert "read-only" in skipped[b.read_only.UniqueId]
        assert "kollegin.müller" in skipped[b.owned.UniqueId]
        assert any("kollegin.müller" in text for kind, text in session.notifier.shown if kind == "info")
        # No ExternalEvent handler held Revit's UI thread over 100 ms (batches, heat map, tag writes),
        # as CPU time of the UI thread (this shared machine's other load aside).
        assert max(host.handler_cpu_ms) <= 100.0, sorted(host.handler_cpu_ms)[-5:]

        # Colour by Health in a 3D view and a section: the transient overlay, no transaction -----
        for view in (b.view3d, b.section):
            host.uiapp.ActiveUIDocument.ActiveView = view
            before = len(b.doc._committed)
            out = host.run_button("Colour by Health")
            assert out.block_cpu_ms <= 100.0, out.block_cpu_ms  # snapshot from the real sidecar included
            assert ext_overlay.marker_colour(b.doc, view, eq0) == critical, view.Name
            assert "rgb(214,39,40)" in out.text()                        # legend swatch
            assert len(b.doc._committed) == before
        # A view with a template: overlay too; neither the view nor its template changes.
        host.uiapp.ActiveUIDocument.ActiveView = b.templated_plan
        out = host.run_button("Colour by Health")
        assert ext_overlay.marker_colour(b.doc, b.templated_plan, eq0) == critical
        assert not b.template._filters and not b.templated_plan._overrides and not b.doc._template_changes
        # A schedule cannot be coloured: a clear message, no change.
        host.uiapp.ActiveUIDocument.ActiveView = b.schedule
        out = host.run_button("Colour by Health")
        assert "Cannot colour this view" in out.text()

        # Live View: a printable copy without template, element overrides there only ------------
        host.uiapp.ActiveUIDocument.ActiveView = b.templated_plan
        before = len(b.doc._committed)
        out = host.run_button("Live View")
        live = host.uiapp.ActiveUIDocument.ActiveView
        assert live.Name == "RevitPyIoT Live" and live.ViewTemplateId == DB.ElementId.InvalidElementId
        assert b.doc._committed[before:] == ["RevitPyIoT: live view"]
        assert _colour(live, eq0) == critical
        assert b.templated_plan.ViewTemplateId == b.template.Id and not b.templated_plan._overrides
        assert not b.doc._template_changes
        host.run_button("Live View")                                     # refreshes the same view
        assert [v for v in b.doc._elements.values() if getattr(v, "Name", "") == "RevitPyIoT Live"] == [live]

        # Write Health Tags -----------------------------------------------------------------------
        out = host.run_button("Write Health Tags")
        text = out.text()
        assert "kollegin.müller" in text                               # owned by another user
        assert "member of a group" in text and "read-only" in text and "linked model" in text
        assert _param(b.grouped, P.PARAM_HEALTH_STATUS) is None
        assert _param(b.owned, P.PARAM_HEALTH_STATUS) is None
        assert not b.doc._rolled_back

        # Alerts: list, select/zoom, acknowledge with the user's (non-ASCII) name ---------------
        host.uiapp.ActiveUIDocument.ActiveView = b.plan
        host.answer(lambda labels: next(l for l in labels if "Raumfühler-Ü1" in l), "Acknowledge")
        out = host.run_button("Alerts")
        text = out.text()
        assert "Active alerts" in text and "Raumfühler-Ü1" in text
        uidoc = host.uiapp.ActiveUIDocument
        assert uidoc.Selection.GetElementIds() == [eq0.Id]
        assert uidoc._shown and uidoc._shown[-1] == [eq0.Id]
        alerts = client.request(P.SNAPSHOT, {})["alerts"]
        acked = [a for a in alerts if a.get("sensor_id") == "Raumfühler-Ü1"]
        assert acked and acked[0]["state"] == P.ALERT_ACKNOWLEDGED
        assert "jürgen.bauer" in text

        # Clear Colours removes everything we drew (only our overrides) -------------------------
        mine = DB.OverrideGraphicSettings().SetProjectionLineColor(DB.Color(1, 2, 3))
        txn = DB.Transaction(b.doc, "user override")
        txn.Start()
        live.SetElementOverrides(b.equipment[1].Id, mine)
        txn.Commit()
        session.stop()           # stop live sync first, or it would draw again
        host.uiapp.ActiveUIDocument.ActiveView = b.plan
        host.run_button("Clear Colours")
        for view in (b.plan, b.view3d, b.section, b.templated_plan):
            assert ext_overlay.count_drawn(b.doc, view) == 0, view.Name
        assert _colour(live, eq0) is None
        assert _colour(live, b.equipment[1]) == (1, 2, 3)
        assert not b.template._filters and not b.doc._template_changes

        # Monitoring off again ------------------------------------------------------------------
        host.run_button("Monitoring")
        assert client.request(P.STATUS, {})["state"] == P.STATE_CONFIGURED
    finally:
        client.close()


def test_live_sync_stops_when_the_document_closes(env):
    host, b, _sidecar = env
    from revitpyiot import live_revit
    host.run_button("Export Sensors")
    host.run_button("Live Sync")
    session = live_revit.current_session()
    host.pump_until(lambda: session.sync.stats["snapshots"] >= 1 and session.sync.pending() == 0)
    worker = session.sync._worker
    assert worker.is_alive()
    b.doc.Close(False)
    assert not session.running
    assert live_revit.current_session() is None
    worker.join(5)                                 # told to end; Revit's UI thread did not wait for it
    assert not worker.is_alive()
    assert session.external_event is None          # disposed
    # The next click starts a fresh session instead of finding a dead one.
    host.open(b.doc, b.plan)


def test_live_sync_button_toggles(env):
    host, _b, _sidecar = env
    from revitpyiot import live_revit
    host.run_button("Export Sensors")
    host.run_button("Live Sync")
    assert live_revit.current_session().running
    host.run_button("Live Sync")
    assert live_revit.current_session() is None
    assert host.button("Live Sync").icon.endswith("off.png")
    assert host.selfinit("Live Sync").icon.endswith("off.png")
