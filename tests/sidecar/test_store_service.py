"""Storage through the real sidecar process: ``history`` over ZeroMQ at every resolution, the
historian's figures in ``status``, and nothing accepted lost across ``kill -9``."""
from __future__ import annotations

import math
import signal
import time
from pathlib import Path
from typing import Any

import zmq
from support.buildings import small_building
from support.protocol_client import CommandClient
from support.sidecar_process import running_sidecar

from shared_schemas.validation import validate_reply

QUIET = "[simulator]\ndemo_faults = false\n[historian]\nflush_interval_ms = 200\n"
SENSORS = ["ahu1.sf_vib", "ahu1.sat", "chwp1.vib", "zone.co2"]


def configure_and_start(client: CommandClient) -> None:
    client.call("configure", small_building())
    client.call("start", {})


def test_nothing_accepted_is_lost_across_kill_9(tmp_path: Path, zmq_context: zmq.Context[Any]) -> None:
    data = tmp_path / "data"
    start = math.floor(time.time()) - 3000.0
    sent: dict[str, dict[float, float]] = {s: {} for s in SENSORS}
    with running_sidecar(QUIET, data_dir=data) as first:
        client = CommandClient(first.command_endpoint, first.token, zmq_context)
        configure_and_start(client)
        for k in range(30):
            readings = [[SENSORS[i % 4], start + k * 50 + i * 0.5, float(k * 100 + i)] for i in range(100)]
            if k == 29:  # a duplicate of an earlier reading in the last batch: last write wins
                readings.append([SENSORS[0], start, -1.0])
            reply = client.call("ingest", {"readings": readings})
            assert reply["accepted"] == len(readings) and reply["rejected"] == []
            for sensor_id, ts, value in readings:
                sent[sensor_id][ts] = value
        first.process.send_signal(signal.SIGKILL)   # right after the last reply: no clean shutdown
        first.process.wait(10)
        client.close()
        assert list((data / "historian" / "journal").glob("seg-*.log")), "the journal must hold the batches"
    with running_sidecar(QUIET, data_dir=data) as second:
        client = CommandClient(second.command_endpoint, second.token, zmq_context)
        for sensor_id in SENSORS:
            body = client.call("history", {"sensor_id": sensor_id, "start_ts": start - 1, "end_ts": time.time(),
                                           "resolution": "raw", "max_points": 100_000})
            expected = sorted(sent[sensor_id].items())
            assert list(zip(body["ts"], body["value"])) == expected
        status = client.call("status", {})
        assert status["historian"]["replayed"] >= 1 and status["historian"]["backlog"] == 0
        client.close()


def test_history_over_zeromq_at_every_resolution(zmq_context: zmq.Context[Any]) -> None:
    with running_sidecar(QUIET) as sidecar:
        client = CommandClient(sidecar.command_endpoint, sidecar.token, zmq_context)
        configure_and_start(client)
        base = math.floor(time.time() / 3600.0) * 3600.0 - 7200.0   # two whole hours ago
        readings = [["ahu1.sat", base + i * 30.0, 15.0 + (i % 4)] for i in range(240)]  # 2 h at 30 s
        assert client.call("ingest", {"readings": readings})["accepted"] == 240
        window = {"sensor_id": "ahu1.sat", "start_ts": base, "end_ts": base + 7199.0}
        replies = {}
        for resolution in ("raw", "1m", "1h", "auto"):
            reply = client.request("history", dict(window, resolution=resolution))
            assert reply["ok"] is True, reply
            validate_reply(reply)
            replies[resolution] = reply["body"]
        assert replies["raw"]["resolution"] == "raw" and len(replies["raw"]["ts"]) == 240
        assert replies["raw"]["value"][:4] == [15.0, 16.0, 17.0, 18.0]
        minute = replies["1m"]
        assert minute["resolution"] == "1m" and len(minute["ts"]) == 120 and set(minute["count"]) == {2}
        assert minute["ts"][0] == base and minute["value"][0] == 15.5 and minute["max"][1] == 18.0
        hour = replies["1h"]
        assert hour["ts"] == [base, base + 3600.0] and hour["count"] == [120, 120]
        assert hour["min"] == [15.0, 15.0] and hour["max"] == [18.0, 18.0] and hour["value"] == [16.5, 16.5]
        assert replies["auto"]["resolution"] == "raw"
        # auto with few points chooses the roll-ups; max_points always holds
        assert client.call("history", dict(window, max_points=150))["resolution"] == "1m"
        assert client.call("history", dict(window, max_points=100))["resolution"] == "1h"
        merged = client.call("history", dict(window, resolution="raw", max_points=48))
        assert len(merged["ts"]) == 48 and sum(merged["count"]) == 240
        # the dashboard's shape: no resolution
        dash = client.call("history", {"sensor_id": "ahu1.sat", "start_ts": base, "end_ts": base + 7199.0,
                                       "max_points": 400})
        assert dash["resolution"] == "raw" and len(dash["ts"]) == 240
        # a configured sensor without data: empty; an unknown one: a precise error
        assert client.call("history", {"sensor_id": "zone.co2"})["ts"] == []
        bad = client.request("history", {"sensor_id": "nope"})
        assert bad["ok"] is False and bad["error"]["code"] == "bad_request"
        assert bad["error"]["details"]["field"] == "body.sensor_id"
        bad = client.request("history", {"sensor_id": "ahu1.sat", "resolution": "5m"})
        assert bad["ok"] is False and bad["error"]["details"]["field"] == "body.resolution"
        bad = client.request("history", {"sensor_id": "ahu1.sat", "start_ts": 10.0, "end_ts": 5.0})
        assert bad["ok"] is False and bad["error"]["details"]["field"] == "body.start_ts"
        status = client.call("status", {})["historian"]
        assert status["backend"] == "sqlite" and status["rows"] == 240 and status["errors"] == 0
        client.close()


def test_history_from_the_ring_buffers_without_a_historian(zmq_context: zmq.Context[Any]) -> None:
    config = "[simulator]\ndemo_faults = false\n[historian]\nbackend = \"none\"\nring_points = 64\n"
    with running_sidecar(config) as sidecar:
        client = CommandClient(sidecar.command_endpoint, sidecar.token, zmq_context)
        configure_and_start(client)
        now = time.time()
        readings = [["zone.co2", now - 100 + i, 400.0 + i] for i in range(100)]
        client.call("ingest", {"readings": readings})
        raw = client.call("history", {"sensor_id": "zone.co2", "start_ts": now - 200, "resolution": "raw"})
        assert raw["value"] == [400.0 + i for i in range(36, 100)]   # the ring holds the newest 64
        assert "historian" not in client.call("status", {})
        client.close()
