"""Live Sync survives a sidecar crash: a REAL sidecar is killed and restarted on the same data
dir and the same (fixed, free) endpoints; the extension's subscription reconnects by itself,
Live Sync takes a snapshot, drops what the new sidecar no longer knows, and colours the
elements from the new readings. While the sidecar is down, a button fails fast with the
"not running" message instead of hanging."""
import os
import socket
import sys
import time

from revitpyiot import protocol as P

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
from support.sidecar_process import running_sidecar


def _free_port():
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    return port


def _param(element, name):
    param = element.LookupParameter(name)
    return None if param is None else param._value


def _colour(view, element):
    """The colour live sync shows at ``element``: its transient overlay marker."""
    import ext_overlay
    return ext_overlay.marker_colour(view.Document, view, element)


def test_live_sync_reconnects_and_resynchronises_after_a_sidecar_restart(fake_revit, monkeypatch, tmp_path):
    import ext_building
    from revitpyiot import live_revit
    from revitpyiot.transport.client import SidecarClient
    host = fake_revit
    data = tmp_path / "sidecar-data"
    command_endpoint = f"tcp://127.0.0.1:{_free_port()}"
    event_endpoint = f"tcp://127.0.0.1:{_free_port()}"
    fixed = ["--command-endpoint", command_endpoint, "--event-endpoint", event_endpoint]
    monkeypatch.setenv("REVITPYIOT_DATA_DIR", str(data))
    # Tags are written on a schedule: every 0.6 s here (15 min by default).
    host.config({"command_endpoint": command_endpoint, "event_endpoint": event_endpoint, "timeout_s": "10",
                 "tag_interval_min": "0.01"})
    b = ext_building.build(host, floors=1, link_floors=1)
    hot, later = b.sensors[16], b.sensors[20]            # temperature sensors of rooms 5 and 6
    eq_hot, eq_later = b.equipment[8], b.equipment[10]   # their hosts
    s_hot, s_later = _param(hot, P.PARAM_SENSOR_ID), _param(later, P.PARAM_SENSOR_ID)
    critical = tuple(P.STATUS_COLOURS[P.STATUS_CRITICAL])

    def ingest(sidecar, readings):
        with SidecarClient(command_endpoint, event_endpoint, token=sidecar.token, timeout_s=10) as client:
            reply = client.request(P.INGEST, {"readings": readings})
        assert reply["accepted"] == len(readings), reply

    # Before the crash: monitoring, live sync, one critical alert coloured and tagged ------------
    with running_sidecar(data_dir=data, extra_args=fixed) as first:
        assert first.command_endpoint == command_endpoint
        host.run_button("Export Sensors")
        host.run_button("Monitoring")
        host.run_button("Live Sync")
        session = live_revit.current_session()
        sync = session.sync
        host.pump_until(lambda: sync.stats["snapshots"] >= 1 and sync.pending() == 0)
        ingest(first, [[s_hot, time.time(), 35.0]])
        host.pump_until(lambda: _colour(b.plan, eq_hot) == critical
                        and s_hot in (_param(eq_hot, P.PARAM_LAST_ALERT) or ""))
        old_alert_ids = {a["alert_id"] for a in sync.active_alerts()}
        assert len(old_alert_ids) == 1
        first.process.kill()
        first.process.wait(30)
        token = first.token

    # While it is down: a button fails fast and says so; live sync keeps waiting ------------------
    out = host.run_button("Alerts")
    text = out.text()
    assert "sidecar is not running" in text and "revitpyiot-sidecar serve" in text
    assert "did not answer in time" not in text              # SidecarUnavailable, not a time-out
    assert session.running and live_revit.current_session() is session
    snapshots_before = sync.stats["snapshots"]

    # Restart on the same data dir and endpoints; configure and start again ----------------------
    with running_sidecar(data_dir=data, extra_args=fixed) as second:
        assert second.token == token and second.event_endpoint == event_endpoint
        host.run_button("Export Sensors")
        host.run_button("Monitoring")
        try:
            host.pump_until(lambda: sync.stats["reconnects"] >= 1 and sync.stats["snapshots"] > snapshots_before
                            and sync.pending() == 0, timeout_s=30)
        except AssertionError:
            raise AssertionError(f"no resync after the restart: {sync.stats} {sync.last_error}")
        # The old sidecar's alert is gone from the new one's snapshot: dropped, nothing stale.
        assert not old_alert_ids & set(sync.alerts), sync.alerts
        assert sync.stats["dropped_alerts"] >= 1

        # New readings: one element crosses its limit, the old hot one is back to normal ----------
        ingest(second, [[s_later, time.time(), 31.5], [s_hot, time.time(), 21.0]])

        def settled():
            later_record, hot_record = sync.health.get(eq_later.UniqueId), sync.health.get(eq_hot.UniqueId)
            return (later_record is not None and later_record["status"] == P.STATUS_CRITICAL
                    and hot_record is not None and hot_record["status"] != P.STATUS_CRITICAL
                    and sync.pending() == 0)
        host.pump_until(settled, timeout_s=30)
        assert _colour(b.plan, eq_later) == critical
        hot_status = sync.health[eq_hot.UniqueId]["status"]
        assert _colour(b.plan, eq_hot) == tuple(P.STATUS_COLOURS[hot_status])   # recoloured, not stale
        # Tags follow on the next scheduled write (every 0.6 s here).
        host.pump_until(lambda: _param(eq_hot, P.PARAM_HEALTH_STATUS) == hot_status
                        and _param(eq_hot, P.PARAM_LAST_ALERT) == ""            # old alert not lingering
                        and s_later in (_param(eq_later, P.PARAM_LAST_ALERT) or ""))
        assert [a["sensor_id"] for a in sync.active_alerts()] == [s_later]
        # What live sync shows is what the new sidecar says.
        with SidecarClient(command_endpoint, event_endpoint, token=second.token, timeout_s=10) as client:
            snapshot = client.request(P.SNAPSHOT, {"unique_ids": [eq_hot.UniqueId, eq_later.UniqueId]})
        assert {r["unique_id"]: r["status"] for r in snapshot["health"]} == {
            eq_hot.UniqueId: hot_status, eq_later.UniqueId: P.STATUS_CRITICAL}
        assert not b.doc._rolled_back and session.last_error is None
        session.stop()
