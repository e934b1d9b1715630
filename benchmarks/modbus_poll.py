"""Modbus polling: registers per second the real ``ModbusSource`` reads and decodes from a local
pymodbus ``ModbusTcpServer`` (in its own process), with grouped reads (contiguous registers in
one request of up to 125) and ungrouped (one request per sensor).

Each run polls S sensors (a mix of uint16, int16, float32 and int32 maps over contiguous
registers) as fast as the server answers (``interval_s`` 1 ms) for D seconds; the rate is
registers decoded and handed to the sink per second. Figures are medians of several runs.

Usage: ``python benchmarks/modbus_poll.py [--quick]``; the last line is a JSON object.
"""
from __future__ import annotations

import asyncio
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np
import pymodbus
from bench_support import free_port, machine_line, run_quick_or_full

from sidecar.model import build_model
from sidecar.sources.modbus import ModbusSource

SERVER = r"""
import asyncio, sys
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice
async def main(port):
    bits = [SimData(0, count=16, values=False, datatype=DataType.BITS)]
    regs = [SimData(0, count=2000, values=1234, datatype=DataType.REGISTERS)]
    server = ModbusTcpServer(SimDevice(id=1, simdata=(bits, bits, regs, regs)), address=("127.0.0.1", int(port)))
    await server.serve_forever()
asyncio.run(main(sys.argv[1]))
"""
TYPES = ("uint16", "int16", "float32", "int32")


async def run(port: int, sensors: int, grouped: bool, seconds: float) -> tuple[float, float]:
    elements = []
    address = 0
    for i in range(sensors):
        data_type = TYPES[i % len(TYPES)]
        elements.append({"unique_id": f"m-{i}", "element_id": i, "kind": "sensor", "category": "Data Devices",
                         "name": f"Register {i}", "location": [0.0, 0.0, 0.0], "parameters": {},
                         "sensor": {"sensor_id": f"m{i}", "quantity": "power", "unit": "kW",
                                    "source": f"modbus://127.0.0.1:{port}/1/{address}?type={data_type}"}})
        address += 2 if data_type in ("float32", "int32") else 1
    model = build_model({"building_id": "bench", "model": {"title": "bench"}, "exported_ts": 0.0,
                         "levels": [], "spaces": [], "elements": elements})
    registers = 0
    readings = 0
    widths = np.array([2 if TYPES[i % len(TYPES)] in ("float32", "int32") else 1 for i in range(sensors)])

    def sink(sensor: np.ndarray, ts: np.ndarray, value: np.ndarray) -> None:
        nonlocal registers, readings
        registers += int(widths[sensor].sum())
        readings += len(sensor)

    source = ModbusSource(model, np.arange(sensors, dtype=np.int32), sink,
                          {"interval_s": 0.001, "timeout_s": 2.0, "grouped": grouped})
    task = asyncio.create_task(source.run())
    while readings == 0:
        await asyncio.sleep(0.01)
    start_registers, start_readings, started = registers, readings, time.perf_counter()
    await asyncio.sleep(seconds)
    elapsed = time.perf_counter() - started
    done_registers, done_readings = registers - start_registers, readings - start_readings
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return done_registers / elapsed, done_readings / elapsed


async def main_async(quick: bool) -> dict[str, object]:
    sensors = 400
    seconds = 1.5 if quick else 4.0
    runs = 2 if quick else 5
    port = free_port()
    server = subprocess.Popen([sys.executable, "-c", SERVER, str(port)])  # noqa: ASYNC220 - before any polling
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise SystemExit("pymodbus server did not start") from None
                await asyncio.sleep(0.05)
        grouped: list[tuple[float, float]] = []
        single: list[tuple[float, float]] = []
        for _ in range(runs):
            grouped.append(await run(port, sensors, True, seconds))
            single.append(await run(port, sensors, False, seconds))
    finally:
        server.terminate()
        server.wait()
    g_regs = statistics.median(r for r, _ in grouped)
    s_regs = statistics.median(r for r, _ in single)
    return {"modbus_grouped_registers_per_s": round(g_regs), "modbus_ungrouped_registers_per_s": round(s_regs),
            "modbus_grouped_readings_per_s": round(statistics.median(r for _, r in grouped)),
            "modbus_ungrouped_readings_per_s": round(statistics.median(r for _, r in single)),
            "modbus_grouping_speedup": round(g_regs / s_regs, 2), "sensors": sensors, "runs": runs,
            "seconds_per_run": seconds}


def main() -> None:
    figures = run_quick_or_full(__doc__, main_async)
    print(machine_line(f"pymodbus {pymodbus.__version__} (server in its own process)"))
    print(f"{'mode':<12}{'registers/s':>16}{'readings/s':>14}")
    print(f"{'grouped':<12}{figures['modbus_grouped_registers_per_s']:>16,}{figures['modbus_grouped_readings_per_s']:>14,}")
    print(f"{'ungrouped':<12}{figures['modbus_ungrouped_registers_per_s']:>16,}"
          f"{figures['modbus_ungrouped_readings_per_s']:>14,}")
    print(f"grouping speed-up x{figures['modbus_grouping_speedup']}; {figures['sensors']} sensors, medians of "
          f"{figures['runs']} runs of {figures['seconds_per_run']} s")
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
