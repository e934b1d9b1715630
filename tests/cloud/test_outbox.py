"""The outbox on its own: order, ids, bound enforcement (roll-up, then counted drops), restarts."""
from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.cloud.outbox import (
    KIND_ALERT,
    KIND_LOSS,
    KIND_ROLLUP,
    KIND_TELEMETRY,
    Outbox,
    OutboxLimits,
    encode_body,
)


def telemetry(readings: list[list], building: str = "B1", quantity: str = "temperature"):
    body = encode_body({"v": 1, "type": KIND_TELEMETRY, "building_id": building, "quantity": quantity,
                        "readings": readings})
    return (KIND_TELEMETRY, {"building": building, "type": KIND_TELEMETRY}, body, len(readings))


def test_order_ids_and_payload_survive_a_reopen(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3")
    box.append([telemetry([["s1", 1.0, float(i)]]) for i in range(5)])
    first = box.peek(2)
    box.ack([m.row_id for m in first])
    outbox_id = box.outbox_id
    box.close()
    box = Outbox(tmp_path / "o.sqlite3")
    assert box.outbox_id == outbox_id and box.rows == 3
    rest = box.peek(10)
    assert [json.loads(m.payload())["readings"][0][2] for m in rest] == [2.0, 3.0, 4.0]
    payload = json.loads(rest[0].payload())
    assert payload["message_id"] == f"{outbox_id}-{rest[0].row_id}" and payload["seq"] == rest[0].row_id
    box.release()  # a failed publish: the same messages, same ids, come again
    assert [m.message_id for m in box.peek(10)] == [m.message_id for m in rest]
    box.close()


def test_over_the_bound_old_telemetry_is_rolled_up_into_minute_stats(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", OutboxLimits(max_rows=20, rollup_chunk_rows=10))
    base = 1_700_000_040.0  # a minute boundary
    box.append([telemetry([["s1", base + i, float(i)], ["s2", base + i, 100.0 + i]]) for i in range(25)])
    assert box.rows <= 20 and box.dropped_readings == 0 and box.rolled_up_readings > 0
    messages = box.peek(100)
    kinds = [m.kind for m in messages]
    assert kinds[0] == KIND_ROLLUP and KIND_TELEMETRY in kinds
    assert [m.row_id for m in messages] == sorted(m.row_id for m in messages)
    rollup = json.loads(messages[0].payload())
    s1 = next(e for e in rollup["stats"] if e["sensor_id"] == "s1")
    assert s1["t0"] == base and s1["n"] == 10 and s1["min"] == 0.0 and s1["max"] == 9.0 and s1["mean"] == 4.5
    assert rollup["covers"][0] == messages[0].row_id
    # every reading is accounted for: raw, or inside a roll-up
    raw = sum(m.readings for m in messages if m.kind == KIND_TELEMETRY)
    rolled = sum(e["n"] for m in messages if m.kind == KIND_ROLLUP for e in json.loads(m.payload())["stats"])
    assert raw + rolled == 50
    box.close()


def test_when_rolling_up_is_not_enough_the_oldest_is_dropped_counted_and_announced(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", OutboxLimits(max_rows=1000, max_bytes=4096, rollup_chunk_rows=10))
    # one reading per sensor per bucket: a roll-up would be bigger than the raw readings
    rows = [telemetry([[f"s{i}-{k}", 1_700_000_000.0 + 120 * i + 600 * k, 1.0] for k in range(5)])
            for i in range(30)]
    alert = (KIND_ALERT, {"type": KIND_ALERT}, encode_body({"type": KIND_ALERT, "alert": {"alert_id": "A"}}), 0)
    loss = box.append(rows[:15] + [alert] + rows[15:])
    assert loss.messages > 0 and loss.readings == 5 * loss.kinds[KIND_TELEMETRY]
    assert box.bytes <= 4096 + 400  # the bound, plus the loss notice itself
    assert box.rolled_up_readings == 0
    assert box.dropped_readings == loss.readings
    messages = box.peek(100)
    kinds = [m.kind for m in messages]
    assert KIND_ALERT in kinds  # telemetry goes first, the alert is kept
    notice = json.loads(next(m for m in messages if m.kind == KIND_LOSS).payload())
    assert notice["dropped_readings"] == loss.readings and notice["first_ts"] == 1_700_000_000.0
    box.close()
    reopened = Outbox(tmp_path / "o.sqlite3", OutboxLimits(max_rows=1000, max_bytes=4096))
    assert reopened.dropped_readings == loss.readings  # the count survives a restart
    reopened.close()


def test_messages_in_flight_are_never_rolled_up_or_dropped(tmp_path):
    box = Outbox(tmp_path / "o.sqlite3", OutboxLimits(max_rows=10, rollup_chunk_rows=4))
    box.append([telemetry([["s1", 1.0 + i, float(i)]]) for i in range(8)])
    inflight = box.peek(5)
    box.append([telemetry([["s1", 100.0 + i, float(i)]]) for i in range(20)])
    ids = {m.row_id for m in inflight}
    still = box._db.execute(f"SELECT id, kind FROM outbox WHERE id IN ({','.join(map(str, ids))})").fetchall()
    assert sorted(r[0] for r in still) == sorted(ids) and {r[1] for r in still} == {KIND_TELEMETRY}
    box.close()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 8), st.integers(0, 4), st.booleans()), min_size=1, max_size=40),
       st.integers(10, 30), st.sampled_from([4096, 6000, 10**9]))
def test_every_reading_is_delivered_rolled_up_or_counted_as_dropped(tmp_path_factory, steps, max_rows, max_bytes):
    box = Outbox(tmp_path_factory.mktemp("o") / "o.sqlite3", OutboxLimits(
        max_rows=max_rows, max_bytes=max_bytes, rollup_chunk_rows=5, rollup_bucket_s=10))
    produced = delivered_raw = delivered_rolled = 0
    t = 0.0
    for batch, take, fail in steps:
        rows = []
        for _ in range(batch):
            rows.append(telemetry([["s1", t, t], ["s2", t, -t]]))
            produced += 2
            t += 1.0
        box.append(rows)
        window = box.peek(take)
        if fail:
            box.release()
        else:
            box.ack([m.row_id for m in window])
            for m in window:
                if m.kind == KIND_TELEMETRY:
                    delivered_raw += m.readings
                elif m.kind == KIND_ROLLUP:
                    delivered_rolled += sum(e["n"] for e in json.loads(m.payload())["stats"])
        assert box.rows <= max_rows + 1 + take  # bound (+ loss notice, + what was in flight)
    box.release()
    for m in box.peek(10_000):
        if m.kind == KIND_TELEMETRY:
            delivered_raw += m.readings
        elif m.kind == KIND_ROLLUP:
            delivered_rolled += sum(e["n"] for e in json.loads(m.payload())["stats"])
    assert delivered_raw + delivered_rolled + box.dropped_readings == produced
    box.close()
