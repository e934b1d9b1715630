"""Every request of PROTOCOL.md and the states it names, over real ZeroMQ."""
from __future__ import annotations

import copy
import math
import os
import stat
import time

from support.buildings import AHU, sensor_element, small_building, with_elements
from support.protocol_client import CommandClient, EventListener, alert_event
from support.sidecar_process import SidecarHandle

from shared_schemas.validation import validate_reply


def test_state_machine(client: CommandClient, events: EventListener) -> None:
    hello = client.call("hello", {"client": "pytest", "client_version": "1", "protocols": [1]})
    assert hello == {"sidecar_version": hello["sidecar_version"], "protocol": 1, "state": "idle"}
    status = client.call("status")
    assert status["state"] == "idle" and "building_id" not in status and status["sensors"] == 0
    conflict = client.request("start")
    assert conflict["ok"] is False and conflict["error"]["code"] == "conflict"
    assert "configure" in conflict["error"]["message"]
    assert client.call("stop") == {"state": "idle"}
    assert client.call("snapshot") == {"health": [], "alerts": []}

    client.call("configure", small_building())
    events.wait_for(lambda t, e: t == "status" and e["body"]["state"] == "configured", what="configured status")
    assert client.call("hello", {"client": "pytest", "client_version": "1", "protocols": [1]})["building_id"] == "test-building"
    assert client.call("status")["state"] == "configured"
    assert client.call("start") == {"state": "monitoring"}
    events.wait_for(lambda t, e: t == "status" and e["body"]["state"] == "monitoring", what="monitoring status")
    assert client.call("start") == {"state": "monitoring"}  # idempotent
    assert client.call("stop") == {"state": "configured"}
    events.wait_for(lambda t, e: t == "status" and e["body"]["state"] == "stopping", what="stopping status")
    events.wait_for(lambda t, e: t == "status" and e["body"]["state"] == "configured", what="configured again")
    assert client.call("stop") == {"state": "configured"}
    ingest = client.request("ingest", {"readings": [["ahu1.sf_vib", time.time(), 1.0]]})
    assert ingest["error"]["code"] == "conflict"
    for kind in ("hello", "status", "snapshot", "stop"):
        validate_reply(client.request(kind, {"client": "x", "client_version": "1", "protocols": [1]}
                                      if kind == "hello" else {}))


def test_status_reports_sources(sidecar_factory, zmq_context) -> None:  # type: ignore[no-untyped-def]
    with sidecar_factory("[simulator]\ndemo_faults = false\ninterval_s = 0.2\n") as handle:
        client = CommandClient(handle.command_endpoint, handle.token, zmq_context)
        client.call("configure", small_building(source="sim:"))
        client.call("start")
        deadline = time.monotonic() + 15
        status = client.call("status")
        while (status["sources"].get("sim") != "running" or status["readings_per_s"] == 0) and time.monotonic() < deadline:
            time.sleep(0.2)
            status = client.call("status")
        assert status["sources"] == {"sim": "running"} and status["readings_per_s"] > 0
        assert status["sensors"] == 4 and status["building_id"] == "test-building" and status["uptime_s"] > 0
        client.call("stop")
        assert client.call("status")["sources"] == {"sim": "stopped"}
        client.close()


def test_configure_warnings(client: CommandClient) -> None:
    building = with_elements(
        small_building(),
        sensor_element("dup-1", 3000, "Duplicate", {"sensor_id": "ahu1.sf_vib", "quantity": "vibration", "unit": "mm/s"}),
        sensor_element("odd-1", 3001, "Odd", {"sensor_id": "odd.q", "quantity": "lux", "unit": "lx", "source": "ingest:"}),
        sensor_element("mq-1", 3002, "OPC", {"sensor_id": "mq.t", "quantity": "temperature", "unit": "Cel",
                                             "source": "opc.tcp://plc/ns=2;s=T", "host": "no-such-element"}),
    )
    reply = client.call("configure", building)
    assert reply["sensors"] == 6 and reply["elements"] == 9
    warnings = "\n".join(reply["warnings"])
    assert "duplicate sensor_id" in warnings and "ahu1.sf_vib" in warnings
    assert "quantity 'lux' has no default limits" in warnings
    assert "zone.co2: no host" in warnings
    assert "host no-such-element is not in the configuration" in warnings
    assert "'opc.tcp://plc/ns=2;s=T' has an unknown scheme" in warnings and "ingest only" in warnings


def test_configure_rejects_unusable_config(client: CommandClient) -> None:
    building = small_building()
    del building["elements"][0]["unique_id"]
    reply = client.request("configure", building)
    assert reply["ok"] is False and reply["error"]["code"] == "bad_request"
    assert reply["error"]["details"]["field"].startswith("body.elements.0")
    assert client.call("status")["state"] == "idle"


def test_configure_while_monitoring_replaces_config_live(client: CommandClient, events: EventListener) -> None:
    client.call("configure", small_building())
    client.call("start")
    now = time.time()
    client.call("ingest", {"readings": [["ahu1.sf_vib", now, 6.0], ["zone.co2", now, 1200.0]]})
    vib = events.wait_for(alert_event("active", sensor_id="ahu1.sf_vib"))["body"]
    events.wait_for(alert_event("active", sensor_id="zone.co2"))
    # Same building without the zone CO2 sensor: its alert clears, the AHU's stays open.
    smaller = copy.deepcopy(small_building())
    smaller["elements"] = [e for e in smaller["elements"] if e.get("sensor", {}).get("sensor_id") != "zone.co2"]
    assert client.call("configure", smaller)["sensors"] == 3
    cleared = events.wait_for(alert_event("cleared", sensor_id="zone.co2"))["body"]
    assert "removed from the configuration" in cleared["message"]
    assert client.call("status")["state"] == "monitoring"
    assert [a["alert_id"] for a in client.call("snapshot")["alerts"]] == [vib["alert_id"]]
    reply = client.call("ingest", {"readings": [["zone.co2", now + 1, 500.0], ["ahu1.sf_vib", now + 1, 1.0]]})
    assert reply["accepted"] == 1 and reply["rejected"][0]["index"] == 0
    events.wait_for(alert_event("cleared", sensor_id="ahu1.sf_vib"))


def test_ack_unknown_alert(client: CommandClient) -> None:
    reply = client.request("ack", {"alert_id": "nope"})
    assert reply["error"]["code"] == "bad_request" and reply["error"]["details"]["alert_id"] == "nope"
    client.call("configure", small_building())
    reply = client.request("ack", {"alert_id": "nope", "user": "u"})
    assert reply["error"]["code"] == "bad_request" and reply["error"]["details"]["field"] == "body.alert_id"
    assert "unknown alert_id 'nope'" in reply["error"]["message"]


def test_ingest_rejects_bad_readings_one_by_one(client: CommandClient, events: EventListener) -> None:
    client.call("configure", small_building())
    client.call("start")
    now = time.time()
    readings = [
        ["ahu1.sf_vib", now, 1.0],              # 0 ok
        ["ahu1.sf_vib", now, math.nan],          # 1 NaN
        ["ahu1.sf_vib", now, math.inf],          # 2 inf
        ["ahu1.sf_vib", now + 3600, 1.0],        # 3 far future
        ["nobody", now, 1.0],                    # 4 unknown sensor
        ["ahu1.sf_vib", now, "1.0"],             # 5 non-numeric
        ["ahu1.sf_vib", now],                    # 6 malformed (2 items)
        "ahu1.sf_vib",                           # 7 malformed (not a triple)
        ["ahu1.sf_vib", now, True],              # 8 bool is not a number
        ["ahu1.sf_vib", -5.0, 1.0],              # 9 before the epoch
        [17, now, 1.0],                          # 10 sensor id not a string
        ["zone.co2", now + 60, 800],             # 11 ok: integers and a little ahead are fine
        ["ahu1.sf_vib", now, None],              # 12 nil value
        ["ahu1.sf_vib", now, 9.5],               # 13 ok, and beyond critical
    ]
    reply = client.request("ingest", {"readings": readings})
    validate_reply(reply)
    body = reply["body"]
    assert body["accepted"] == 3
    reasons = {r["index"]: r["reason"] for r in body["rejected"]}
    assert sorted(reasons) == [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 12]
    assert "not finite" in reasons[1] and "not finite" in reasons[2]
    assert "future" in reasons[3] and "unknown sensor 'nobody'" in reasons[4]
    assert "not a number" in reasons[5] and "not a number" in reasons[8] and "not a number" in reasons[12]
    assert "malformed" in reasons[6] and "malformed" in reasons[7] and "sensor_id" in reasons[10]
    assert "1970" in reasons[9]
    # The accepted readings went through the pipeline: 9.5 mm/s raised a critical alert.
    events.wait_for(alert_event("active", "critical", "ahu1.sf_vib"))
    # A clean batch takes the vectorised path; an empty one is fine too.
    clean = [["ahu1.sat", now + i * 0.01, 14.0] for i in range(1000)]
    assert client.call("ingest", {"readings": clean}) == {"accepted": 1000, "rejected": []}
    assert client.call("ingest", {"readings": []}) == {"accepted": 0, "rejected": []}


def test_token_file_is_private_and_reused(sidecar_factory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = tmp_path / "data"
    with sidecar_factory("", data_dir=data) as first:
        token_path = data / "token"
        assert first.token == token_path.read_text().strip() and len(first.token) >= 32
        if os.name != "nt":
            assert stat.S_IMODE(token_path.stat().st_mode) == 0o600
        assert first.token not in first.log() and str(token_path) in first.log()
    with sidecar_factory("", data_dir=data) as second:
        assert second.token == first.token


def test_no_heavy_imports_at_start(sidecar_factory, zmq_context) -> None:  # type: ignore[no-untyped-def]
    # -X importtime lists every module the process imports: pandas and scikit-learn must not
    # be among them while it starts, answers hello and monitors.
    with sidecar_factory("[simulator]\ndemo_faults = false\n", python_flags=["-X", "importtime"]) as handle:
        client = CommandClient(handle.command_endpoint, handle.token, zmq_context)
        client.call("hello", {"client": "pytest", "client_version": "1", "protocols": [1]})
        client.call("configure", small_building(source="sim:"))
        client.call("start")
        client.call("ingest", {"readings": [["ahu1.sf_vib", time.time(), 1.0]]})
        client.call("status")
        client.close()
        log = handle.log()
    imported = {line.rsplit("|", 1)[-1].strip() for line in log.splitlines() if line.startswith("import time:")}
    assert "zmq" in imported and "numpy" in imported  # the flag worked
    assert not {m for m in imported if m.split(".")[0] in ("pandas", "sklearn", "scipy")}


def test_handle_unpacks_like_a_tuple(sidecar: SidecarHandle) -> None:
    command, event, token, data_dir, process = sidecar
    assert command.startswith("tcp://127.0.0.1:") and event.startswith("tcp://127.0.0.1:")
    assert token and data_dir.is_dir() and process.poll() is None
    assert AHU  # the support module is importable from here


def test_sigterm_stops_cleanly(sidecar_factory, zmq_context) -> None:  # type: ignore[no-untyped-def]
    import signal
    import subprocess

    with sidecar_factory("[simulator]\ndemo_faults = false\n") as handle:
        client = CommandClient(handle.command_endpoint, handle.token, zmq_context)
        client.call("configure", small_building(source="sim:"))
        client.call("start")
        client.close()
        if os.name == "nt":
            handle.process.send_signal(signal.CTRL_BREAK_EVENT)  # type: ignore[attr-defined]
        else:
            handle.process.send_signal(signal.SIGTERM)
        try:
            code = handle.process.wait(20)
        except subprocess.TimeoutExpired:
            raise AssertionError("sidecar did not stop on SIGTERM:\n" + handle.log()) from None
        assert code == 0, handle.log()
        log = handle.log()
        assert "state monitoring -> stopping" in log and log.rstrip().endswith("stopped")
