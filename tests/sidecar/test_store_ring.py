"""Ring buffers: fixed memory, vectorised append, last-N and time-range queries."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.store.ring import SensorRing


def test_memory_is_fixed_and_under_24_bytes_per_point() -> None:
    ring = SensorRing(500, 1000)
    before = ring.nbytes
    rng = np.random.default_rng(1)
    for k in range(5):
        n = 20_000
        ring.append(rng.integers(0, 500, n).astype(np.int32), np.arange(n) + k * n * 1.0, rng.random(n))
    assert ring.nbytes == before
    assert ring.bytes_per_point <= 24


def test_last_and_between_return_newest_by_time() -> None:
    ring = SensorRing(2, 4)
    ring.append(np.array([0, 0, 1, 0], dtype=np.int32), np.array([1.0, 2.0, 5.0, 3.0]), np.array([10.0, 20, 50, 30]))
    ts, value = ring.last(0, 2)
    assert ts.tolist() == [2.0, 3.0] and value.tolist() == [20.0, 30.0]
    ring.append(np.array([0, 0, 0], dtype=np.int32), np.array([4.0, 5.0, 6.0]), np.array([40.0, 50, 60]))
    ts, value = ring.last(0, 10)
    assert ts.tolist() == [3.0, 4.0, 5.0, 6.0]            # capacity 4: the oldest two are gone
    ts, _ = ring.between(0, 4.0, 5.0)
    assert ts.tolist() == [4.0, 5.0]
    assert ring.last(1, 5)[1].tolist() == [50.0]


def test_late_reading_is_returned_in_time_order() -> None:
    ring = SensorRing(1, 8)
    ring.append(np.zeros(2, dtype=np.int32), np.array([10.0, 20.0]), np.array([1.0, 2.0]))
    ring.append(np.zeros(1, dtype=np.int32), np.array([15.0]), np.array([1.5]))
    assert ring.last(0, 8)[0].tolist() == [10.0, 15.0, 20.0]


def test_carry_over_keeps_sensors_present_in_both_configurations() -> None:
    old = SensorRing(2, 4)
    old.append(np.array([0, 1], dtype=np.int32), np.array([1.0, 2.0]), np.array([3.0, 4.0]))
    new = SensorRing(3, 8)
    new.carry_over(old, ["a", "b"], ["c", "b", "a"])
    assert new.last(2, 9)[1].tolist() == [3.0] and new.last(1, 9)[1].tolist() == [4.0]
    assert new.last(0, 9)[0].size == 0


@settings(max_examples=60, deadline=None)
@given(capacity=st.integers(1, 6),
       batches=st.lists(st.lists(st.tuples(st.integers(0, 2), st.floats(0, 100, allow_nan=False)), max_size=15),
                        max_size=6))
def test_matches_a_per_sensor_list_model(capacity: int, batches: list[list[tuple[int, float]]]) -> None:
    ring = SensorRing(3, capacity)
    model: dict[int, list[tuple[float, float]]] = {0: [], 1: [], 2: []}
    counter = 0.0
    for batch in batches:
        sensor = np.array([s for s, _ in batch], dtype=np.int32)
        ts = np.array([t for _, t in batch], dtype=np.float64)
        value = np.arange(len(batch), dtype=np.float64) + counter
        counter += len(batch)
        order = np.lexsort((ts, sensor))  # what the pipeline passes
        ring.append(sensor, ts, value, order)
        for i in order.tolist():
            model[int(sensor[i])].append((float(ts[i]), float(value[i])))
    for s in range(3):
        kept = model[s][-capacity:]
        expected = sorted(kept, key=lambda p: p[0])
        ts, value = ring.last(s, capacity)
        assert sorted(zip(ts.tolist(), value.tolist())) == sorted(expected)
        assert ts.tolist() == [p[0] for p in expected]
