"""live.LiveSync, the Revit-agnostic core: coalescing, batching with a time cap, snapshot on
start / gap / reconnect, clean stop. No Revit needed (the headless demo uses it the same way)."""
import pathlib
import threading
import time

from revitpyiot import live


class RecordingClient:
    """Stands in for SidecarClient: hands the test the subscription callbacks, answers snapshots."""

    def __init__(self, snapshot=None):
        self.snapshot = snapshot or {"health": [], "alerts": []}
        self.requests = []
        self.callback = None
        self.on_gap = None
        self.stopped = False
        self.snapshot_served = threading.Event()

    def subscribe(self, topics, callback, on_gap=None):
        assert sorted(topics) == ["alert", "health"]
        self.callback, self.on_gap = callback, on_gap
        return self

    def stop(self):
        self.stopped = True

    def request(self, type, body=None, timeout_s=None):
        self.requests.append(type)
        assert type == "snapshot"
        self.snapshot_served.set()
        return self.snapshot


def _health(uid, status, ts, score=50.0):
    return {"unique_id": uid, "element_id": 1, "health_score": score, "status": status,
            "failure_probability": None, "ttf_hours": None, "drivers": [], "updated_ts": ts}


def _event(topic, body, seq=1):
    return {"v": 1, "type": topic, "id": "e", "ts": 0.0, "seq": seq, "body": body}


def _wait(predicate, timeout_s=10.0):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.01)


def test_events_are_coalesced_newest_wins_and_applied_in_one_batch():
    client = RecordingClient()
    batches = []
    raised = []
    sync = live.LiveSync(client, batches.append, request_apply=lambda: raised.append(1))
    sync.start(snapshot=False)
    client.callback("health", _event("health", {"items": [_health("a", "ok", 1.0), _health("b", "ok", 1.0)]}))
    client.callback("health", _event("health", {"items": [_health("a", "critical", 2.0)]}, seq=2))
    client.callback("health", _event("health", {"items": [_health("a", "watch", 1.5)]}, seq=3))  # older: ignored
    client.callback("alert", _event("alert", {"alert_id": "x", "state": "active", "updated_ts": 2.0,
                                              "unique_id": "a"}))
    assert len(raised) == 1            # one ExternalEvent.Raise for many events
    batch = sync.drain()
    assert batches == [batch]
    assert [(r["unique_id"], r["status"]) for r in batch.health] == [("b", "ok"), ("a", "critical")]
    assert [a["alert_id"] for a in batch.alerts] == ["x"]
    assert sync.health["a"]["status"] == "critical"
    assert sync.active_alerts()[0]["alert_id"] == "x"
    assert sync.drain() is None
    sync.stop()
    assert client.stopped and not sync.running


def test_batches_are_bounded_and_shrink_when_over_the_time_cap():
    client = RecordingClient()
    clock = [0.0]
    sizes = []

    def slow_apply(batch):
        sizes.append(len(batch))
        clock[0] += 1.0              # every batch takes "1 s": far over the 0.25 s cap
    raised = []
    sync = live.LiveSync(client, slow_apply, request_apply=lambda: raised.append(1), max_batch_seconds=0.25,
                         max_batch_items=100, clock=lambda: clock[0])
    sync.start(snapshot=False)
    client.callback("health", _event("health", {"items": [_health(str(i), "ok", 1.0) for i in range(400)]}))
    while sync.drain() is not None:
        pass
    assert sum(sizes) == 400
    assert sizes[0] == 100 and sizes[1] == 50 and max(sizes[2:]) <= 25
    assert len(raised) == len(sizes)  # each run asks for the next while work is queued
    sync.stop()


def test_snapshot_on_start_and_on_gap_and_reconnect():
    client = RecordingClient({"health": [_health("a", "warning", 5.0)], "alerts": []})
    sync = live.LiveSync(client, lambda batch: None)
    sync.start()
    _wait(lambda: sync.pending() == 1)
    batch = sync.drain()
    assert batch.snapshot and batch.health[0]["status"] == "warning"
    for reason in ("gap", "reconnect"):
        client.snapshot_served.clear()
        client.on_gap("health", reason)
        assert client.snapshot_served.wait(10)
    _wait(lambda: sync.stats["snapshots"] == 3)
    assert sync.stats["gaps"] == 1 and sync.stats["reconnects"] == 1
    # An older snapshot record never replaces what was already applied.
    assert sync.pending() == 0
    sync.stop()


def test_a_failing_apply_is_counted_and_resynchronised():
    client = RecordingClient()
    calls = []

    def failing(batch):
        calls.append(batch)
        raise RuntimeError("transaction failed")
    sync = live.LiveSync(client, failing)
    sync.start(snapshot=False)
    client.callback("health", _event("health", {"items": [_health("a", "ok", 1.0)]}))
    sync.drain()
    assert sync.stats["errors"] == 1 and "transaction failed" in sync.last_error
    _wait(lambda: "snapshot" in client.requests)
    sync.stop()


def test_stop_ends_the_worker_thread():
    client = RecordingClient()
    sync = live.LiveSync(client, lambda b: None)
    sync.start()
    worker = sync._worker
    assert worker.is_alive()
    sync.stop()
    sync.stop()   # twice is fine
    assert not worker.is_alive()


def test_live_core_does_not_import_revit():
    import sys
    assert "Autodesk" not in sys.modules or not hasattr(live, "DB")
    source = pathlib.Path(live.__file__).read_text(encoding="utf-8")
    assert "Autodesk" not in source and "pyrevit" not in source


def _alert(alert_id, ts, isa="unack_active", state="active", uid="e1"):
    return {"alert_id": alert_id, "unique_id": uid, "state": state, "isa_state": isa, "severity": "warning",
            "raised_ts": ts, "updated_ts": ts}


class GatedClient(RecordingClient):
    """Its snapshot request waits until the test opens the gate (events go on meanwhile)."""

    def __init__(self):
        super().__init__()
        self.entered = threading.Event()
        self.gate = threading.Event()

    def request(self, type, body=None, timeout_s=None):
        self.entered.set()
        assert self.gate.wait(10)
        return super().request(type, body, timeout_s)


def test_a_snapshot_drops_alerts_it_no_longer_lists_but_not_newer_ones():
    client = GatedClient()
    sync = live.LiveSync(client, lambda batch: None)
    sync.start(snapshot=False)
    client.callback("alert", _event("alert", _alert("old", 1.0)))
    client.callback("alert", _event("alert", _alert("gone", 1.0, uid="e2"), seq=2))
    sync.drain()
    assert set(sync.alerts) == {"old", "gone"}
    # Reconnect: the snapshot is asked for; while it is on its way a new alert is applied.
    client.on_gap("alert", "reconnect")
    assert client.entered.wait(10)
    client.callback("alert", _event("alert", _alert("raised-meanwhile", 5.0), seq=3))
    sync.drain()
    client.callback("alert", _event("alert", _alert("queued-meanwhile", 6.0), seq=4))
    # The restarted sidecar's snapshot lists only "old" (at a newer version).
    client.snapshot = {"health": [], "alerts": [_alert("old", 7.0, isa="ack_active", state="acknowledged")]}
    client.gate.set()
    _wait(lambda: sync.stats["snapshots"] == 1)
    batch = sync.drain()
    assert batch.snapshot and [a["alert_id"] for a in batch.dropped_alerts] == ["gone"]
    assert set(sync.alerts) == {"old", "raised-meanwhile", "queued-meanwhile"}
    assert sync.alerts["old"]["state"] == "acknowledged"
    assert sync.stats["dropped_alerts"] == 1
    # An alert that returned to normal is forgotten; one waiting for acknowledgement stays.
    client.callback("alert", _event("alert", _alert("old", 8.0, isa="normal", state="cleared"), seq=5))
    client.callback("alert", _event("alert", _alert("raised-meanwhile", 8.0, isa="unack_rtn", state="cleared"),
                                    seq=6))
    sync.drain()
    assert set(sync.alerts) == {"raised-meanwhile", "queued-meanwhile"}
    groups = sync.alert_groups()
    assert [a["alert_id"] for a in groups["returned"]] == ["raised-meanwhile"]
    assert [a["alert_id"] for a in sync.active_alerts()] == ["queued-meanwhile"]
    sync.stop()
