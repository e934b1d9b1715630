"""Alerts with the ISA-18.2 fields: active / acknowledged / returned-unacknowledged / shelved.

The grouping rules (alert_states) on their own, then the Alerts button end to end against a REAL
sidecar: shelve for a chosen time and unshelve through the additive requests, acknowledge a
returned alert, with Live Sync keeping shelved alerts out of the active ones and the
"last alert" tag on the newest active alert."""
import os
import sys
import time

import pytest
from revitpyiot import protocol as P

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from support.sidecar_process import running_sidecar

NOW = 1.75e9


def _alert(alert_id, uid="e1", state="active", isa=None, raised=NOW - 60, updated=None, **extra):
    alert = {"alert_id": alert_id, "building_id": "b", "unique_id": uid, "element_id": 1, "kind": "limit_high",
             "severity": extra.pop("severity", "warning"), "state": state, "message": alert_id + " high",
             "raised_ts": raised, "updated_ts": updated if updated is not None else raised}
    if isa is not None:
        alert["isa_state"] = isa
    alert.update(extra)
    return alert


def test_groups_follow_the_isa_states_and_shelving():
    from revitpyiot import alert_states as S
    alerts = [
        _alert("unack", isa="unack_active", severity="warning"),
        _alert("acked", state="acknowledged", isa="ack_active", severity="critical",
               acknowledged_by="jürgen", acknowledged_ts=NOW - 10),
        _alert("rtn", state="cleared", isa="unack_rtn"),
        _alert("normal", state="cleared", isa="normal"),
        _alert("shelved", isa="unack_active", shelved_until=NOW + 600, shelved_by="jürgen"),
        _alert("expired-shelf", isa="unack_active", shelved_until=NOW - 1),
        _alert("old-sidecar", state="active"),                   # no isa_state: state decides
        _alert("old-cleared", state="cleared"),
    ]
    groups = S.grouped(alerts, NOW)
    # Most severe first, then oldest (then by id): a shelf that expired counts as active again.
    assert [a["alert_id"] for a in groups["active"]] == ["acked", "expired-shelf", "old-sidecar", "unack"]
    assert [a["alert_id"] for a in groups["returned"]] == ["rtn"]
    assert [a["alert_id"] for a in groups["shelved"]] == ["shelved"]
    assert S.needs_acknowledgement(alerts[0]) and S.needs_acknowledgement(alerts[2])
    assert not S.needs_acknowledgement(alerts[1]) and S.needs_acknowledgement(alerts[6])
    assert S.is_finished(alerts[3]) and S.is_finished(alerts[7]) and not S.is_finished(alerts[2])


def test_newest_active_alert_per_element_ignores_shelved_cleared_and_old_versions():
    from revitpyiot import alert_states as S
    alerts = [
        _alert("a", uid="e1", isa="unack_active", raised=NOW - 300),
        _alert("b", uid="e1", isa="unack_active", raised=NOW - 100, shelved_until=NOW + 60),   # shelved
        _alert("c", uid="e1", state="cleared", isa="unack_rtn", raised=NOW - 50),               # returned
        _alert("d", uid="e2", isa="unack_active", raised=NOW - 200),
        _alert("d", uid="e2", state="cleared", isa="normal", raised=NOW - 200, updated=NOW - 5),  # newer version
        # acknowledged later than "f" was raised, but raised earlier: "f" is the newest
        _alert("e", uid="e3", state="acknowledged", isa="ack_active", raised=NOW - 400, updated=NOW - 1),
        _alert("f", uid="e3", isa="unack_active", raised=NOW - 30),
    ]
    newest = S.newest_active_by_element(alerts, NOW)
    assert {k: v["alert_id"] for k, v in newest.items()} == {"e1": "a", "e3": "f"}


def test_alert_labels_and_actions_say_the_state():
    from revitpyiot import alerts_view as V
    shelved = _alert("s", isa="unack_active", shelved_until=NOW + 3600, shelved_by="jürgen.bauer",
                     shelve_reason="Wartung", sensor_id="T-1")
    acked = _alert("k", state="acknowledged", isa="ack_active", acknowledged_by="kollegin.müller",
                   acknowledged_ts=NOW - 120, ack_note="Techniker informiert")
    returned = _alert("r", state="cleared", isa="unack_rtn")
    label = V.alert_label(shelved, NOW)
    assert "shelved for 1 h 0 min by jürgen.bauer (Wartung)" in label and label.endswith("#s")
    assert "acknowledged by kollegin.müller 2 min ago: Techniker informiert" in V.state_text(acked, NOW)
    assert "returned to normal, needs acknowledgement" in V.state_text(returned, NOW)
    assert V.actions_for(shelved, NOW) == [V.ACTION_ACK, V.ACTION_UNSHELVE]
    assert V.actions_for(acked, NOW) == [V.ACTION_SHELVE]
    assert V.actions_for(returned, NOW) == [V.ACTION_ACK, V.ACTION_SHELVE]
    assert [a["alert_id"] for a in V.active_alerts([shelved, acked, returned], NOW)] == ["k"]


def test_alerts_view_and_tag_text_show_unit_symbols_not_ucum_codes(fake_revit):
    from revitpyiot import alerts_view as V
    from revitpyiot import tags, ui
    # the current sidecar writes symbols; an older sidecar's (or a stored) message has UCUM codes
    old = _alert("u", sensor_id="T-1", severity="critical",
                 message="Office 2.01 temperature 31.2 Cel > 30 Cel (critical), 2 kW.h, 4 ug/m3")
    new = _alert("n", sensor_id="T-2", message="Office 2.02 temperature 31.2 °C > 30 °C (critical)")
    shown = "Office 2.01 temperature 31.2 °C > 30 °C (critical), 2 kWh, 4 µg/m³"
    assert ui.alert_message(old) == shown
    assert shown in V.alert_label(old, NOW) and " Cel" not in V.alert_label(old, NOW)
    row = V.alert_rows(None, [old], NOW)[0]
    assert shown in row and not any(" Cel" in cell for cell in row if isinstance(cell, str))
    assert shown in tags.alert_text(old) and " Cel" not in tags.alert_text(old)
    assert ui.alert_message(new) == new["message"]  # symbols already: unchanged
    assert ui.alert_message(_alert("c", message="Cellar pump 3 Cel/min; Cel")) == "Cellar pump 3 °C/min; Cel"
    assert ui.unit_symbol("Cel") == "°C" and ui.unit_symbol("Pa") == "Pa" and ui.unit_symbol(None) == ""


# -- against a real sidecar ---------------------------------------------------------------
@pytest.fixture
def env(fake_revit, monkeypatch):
    import ext_building
    with running_sidecar() as sidecar:
        monkeypatch.setenv("REVITPYIOT_DATA_DIR", str(sidecar.data_dir))
        fake_revit.app.Username = "jürgen.bauer"
        # Tags are written on a schedule: every 0.6 s here (15 min by default).
        fake_revit.config({"command_endpoint": sidecar.command_endpoint, "event_endpoint": sidecar.event_endpoint,
                           "timeout_s": "10", "tag_interval_min": "0.01"})
        building = ext_building.build(fake_revit, floors=1, link_floors=1)
        yield fake_revit, building, sidecar


def _param(element, name):
    param = element.LookupParameter(name)
    return None if param is None else param._value


def _pick(sensor_id):
    """The Alerts button's list answer: the alert of ``sensor_id``."""
    def pick(labels):
        return next(label for label in labels if sensor_id + " -" in label)
    return pick


def _choose(action, offered):
    def choose(options):
        assert options == offered, options
        return action
    return choose


def test_alerts_button_shelves_unshelves_and_acknowledges_with_live_sync(env):
    host, b, sidecar = env
    from revitpyiot import alerts_view as V
    from revitpyiot import live_revit
    from revitpyiot.transport.client import SidecarClient
    client = SidecarClient(sidecar.command_endpoint, sidecar.event_endpoint, token=sidecar.token, timeout_s=10)
    try:
        host.run_button("Export Sensors")
        host.run_button("Monitoring")
        host.run_button("Live Sync")
        session = live_revit.current_session()
        host.pump_until(lambda: session.sync.stats["snapshots"] >= 1 and session.sync.pending() == 0)
        t4, t5 = b.sensors[16], b.sensors[20]          # temperature sensors of rooms 5 and 6
        eq4, eq5 = b.equipment[8], b.equipment[10]     # their hosts
        s4, s5 = _param(t4, P.PARAM_SENSOR_ID), _param(t5, P.PARAM_SENSOR_ID)
        now = time.time()
        client.request(P.INGEST, {"readings": [[s4, now, 35.0], [s5, now, 31.0]]})
        host.pump_until(lambda: {a.get("sensor_id") for a in session.sync.active_alerts()} >= {s4, s5})
        host.pump_until(lambda: s5 in (_param(eq5, P.PARAM_LAST_ALERT) or ""))

        # Shelve the alert of s5 for 1 hour, with a reason ----------------------------------------
        host.answer(_pick(s5), _choose(V.ACTION_SHELVE, [V.ACTION_ACK, V.ACTION_SHELVE]), "1 hour", "Wartung läuft")
        out = host.run_button("Alerts")
        text = out.text()
        assert "Active alerts (2)" in text
        assert "Shelved by jürgen.bauer until" in text
        standing = {a["sensor_id"]: a for a in client.request(P.SNAPSHOT, {})["alerts"]}
        shelved = standing[s5]
        assert shelved["shelved_by"] == "jürgen.bauer" and shelved["shelve_reason"] == "Wartung läuft"
        assert 3500 < shelved["shelved_until"] - time.time() <= 3600
        assert shelved["state"] == P.ALERT_ACTIVE           # still tracked, just shelved
        # Live sync: shelved is listed apart, not active; "last alert" is the newest ACTIVE one.
        host.pump_until(lambda: [a["sensor_id"] for a in session.sync.alert_groups()["shelved"]] == [s5])
        assert [a["sensor_id"] for a in session.sync.active_alerts()] == [s4]
        host.pump_until(lambda: _param(eq5, P.PARAM_LAST_ALERT) == "")
        assert s4 in _param(eq4, P.PARAM_LAST_ALERT)
        rows = {row[0]: row[1] for row in host.run_button("Connect").tables()[0]["rows"]}
        assert rows["shelved alerts"] == 1

        # s4 returns to normal unacknowledged: listed as needing acknowledgement --------------------
        client.request(P.INGEST, {"readings": [[s4, time.time(), 21.0]]})
        host.pump_until(lambda: [a["sensor_id"] for a in session.sync.alert_groups()["returned"]] == [s4])
        assert session.sync.active_alerts() == []
        host.pump_until(lambda: _param(eq4, P.PARAM_LAST_ALERT) == "")
        host.answer(_pick(s4), _choose(V.ACTION_ACK, [V.ACTION_ACK, V.ACTION_SHELVE]))
        out = host.run_button("Alerts")
        text = out.text()
        assert "No active alerts." in text
        assert "Returned to normal, waiting for acknowledgement (1)" in text
        assert "returned to normal, needs acknowledgement" in text
        assert "Shelved alerts (1, not counted as active)" in text and "Wartung läuft" in text
        assert "Acknowledged by jürgen.bauer" in text
        standing = {a["sensor_id"]: a for a in client.request(P.SNAPSHOT, {})["alerts"]}
        assert s4 not in standing                          # acknowledged after return: normal, gone
        host.pump_until(lambda: all(a.get("sensor_id") != s4 for a in session.sync.alerts.values()))

        # Unshelve s5: active again, and the "last alert" tag comes back ----------------------------
        host.answer(_pick(s5), _choose(V.ACTION_UNSHELVE, [V.ACTION_ACK, V.ACTION_UNSHELVE]))
        out = host.run_button("Alerts")
        assert "Unshelved by jürgen.bauer" in out.text()
        assert "shelved_until" not in client.request(P.SNAPSHOT, {})["alerts"][0]
        host.pump_until(lambda: [a["sensor_id"] for a in session.sync.active_alerts()] == [s5])
        host.pump_until(lambda: s5 in (_param(eq5, P.PARAM_LAST_ALERT) or ""))

        # Acknowledge it: still active (condition present), and the list says who acknowledged ------
        host.answer(_pick(s5), _choose(V.ACTION_ACK, [V.ACTION_ACK, V.ACTION_SHELVE]))
        host.run_button("Alerts")
        host.answer(None)                                  # just look: close the list
        text = host.run_button("Alerts").text()
        assert "Active alerts (1)" in text and "acknowledged by jürgen.bauer" in text
        host.pump_until(lambda: [a["state"] for a in session.sync.active_alerts()] == [P.ALERT_ACKNOWLEDGED])
        assert not b.doc._rolled_back
    finally:
        client.close()
