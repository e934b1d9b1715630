"""The buttons' own script.py files, run under the fake Revit API against a REAL sidecar
(``python -m sidecar serve``) over real ZeroMQ: export a 1,000+ element building with a linked
annex, start monitoring and live sync, push readings that cross limits, and check colours,
tags, alerts and one transaction per live batch."""
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
    fake_revit.config({"command_endpoint": sidecar.command_endpoint, "event_endpoint": sidecar.event_endpoint,
                       "timeout_s": "10"})
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
    from Autodesk.Revit import DB
    from revitpyiot import live_revit

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

        # Monitoring (smart button) ---------------------------------------------------------
        button = host.selfinit("Monitoring")
        assert button.icon.endswith("off.png")
        host.run_button("Monitoring")
        assert client.request(P.STATUS, {})["state"] == P.STATE_MONITORING
        assert host.button("Monitoring").icon.endswith("on.png")

        # Live Sync (smart button) --------------------------------------------------------------
        host.run_button("Live Sync")
        session = live_revit.current_session()
        assert session is not None and session.running
        assert host.button("Live Sync").icon.endswith("on.png")
        per_batch = []
        original = session.sync.apply_batch

        def counting(batch):
            before = len(b.doc._committed)
            original(batch)
            per_batch.append((len(batch), len(b.doc._committed) - before))
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

        # One transaction per live batch, never more, and it committed.
        assert per_batch and all(transactions == 1 for size, transactions in per_batch if size), per_batch
        assert session.transactions == sum(1 for size, _ in per_batch if size)
        assert not b.doc._rolled_back

        # Coloured in the plan view (live sync colours the view it was started in).
        critical = tuple(P.STATUS_COLOURS["critical"])
        assert _colour(b.plan, eq0) == critical
        assert _colour(b.plan, unicode_sensor) == critical
        assert _colour(b.plan, eq10) == tuple(P.STATUS_COLOURS["warning"])
        solid = next(e for e in b.doc._elements.values() if isinstance(e, DB.FillPatternElement)
                 and e.GetFillPattern().IsSolidFill)
        assert b.plan.GetElementOverrides(eq0.Id).SurfaceForegroundPatternId == solid.Id

        # Tagged: health status, score, last alert (with the non-ASCII sensor id).
        assert _param(eq0, P.PARAM_HEALTH_STATUS) == "critical"
        assert _param(eq0, P.PARAM_HEALTH_SCORE) < 50
        assert "Raumfühler-Ü1" in _param(eq0, P.PARAM_LAST_ALERT)
        assert _param(eq10, P.PARAM_HEALTH_STATUS) == "warning"
        # Read-only, grouped and borrowed elements are skipped and listed, never written.
        assert _param(b.read_only, P.PARAM_HEALTH_SCORE) is None
        skipped = {key: reason for key, _, reason in session.tag_result.skipped}
        assert "read-only" in skipped[b.read_only.UniqueId]
        assert linked_key in skipped

        # Colour by Health in a 3D view and a section ------------------------------------------
        for view in (b.view3d, b.section):
            host.uiapp.ActiveUIDocument.ActiveView = view
            out = host.run_button("Colour by Health")
            assert _colour(view, eq0) == critical, view.Name
            assert "rgb(214,39,40)" in out.text()                        # legend swatch
        # A view with a template: coloured through filters on the health-status parameter.
        host.uiapp.ActiveUIDocument.ActiveView = b.templated_plan
        out = host.run_button("Colour by Health")
        assert "view filters" in out.text()
        assert _colour(b.templated_plan, eq0) == critical
        assert _colour(b.templated_plan, eq10) == tuple(P.STATUS_COLOURS["warning"])
        assert not b.templated_plan._overrides                          # no element overrides there
        # A schedule cannot be coloured: a clear message, no change.
        host.uiapp.ActiveUIDocument.ActiveView = b.schedule
        out = host.run_button("Colour by Health")
        assert "Cannot colour this view" in out.text()

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

        # Clear Colours restores the plan (only our overrides) ---------------------------------
        host.uiapp.ActiveUIDocument.ActiveView = b.plan
        mine = DB.OverrideGraphicSettings().SetProjectionLineColor(DB.Color(1, 2, 3))
        txn = DB.Transaction(b.doc, "user override")
        txn.Start()
        b.plan.SetElementOverrides(b.equipment[1].Id, mine)
        txn.Commit()
        session.stop()           # stop live sync first, or it would colour again
        host.run_button("Clear Colours")
        assert _colour(b.plan, eq0) is None
        assert _colour(b.plan, b.equipment[1]) == (1, 2, 3)
        host.uiapp.ActiveUIDocument.ActiveView = b.templated_plan
        host.run_button("Clear Colours")
        assert not b.template._filters

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
