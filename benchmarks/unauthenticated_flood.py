"""What a request without the token costs the sidecar (issue 15.1).

Sends one large request without a valid token, whose body is a msgpack array of N empty arrays
(the most objects per byte msgpack allows), to a real ``python -m sidecar serve`` process, while
another client sends ``hello`` after ``hello``. Three orders of the request map: envelope first
and no token; body first then a wrong token of the right length (the whole map must be walked);
body first and no token (only the first MiB is looked at). Prints per case the peak RSS growth
(VmHWM minus VmRSS before), the time to the ``unauthorized`` reply and the bystander's worst
``hello`` round trip during the flood, with a quiet ``hello`` round trip as the reference. Before
the fix a 29 MiB request peaked at 2.19 GB and stalled ``hello`` for 2.8-4 s.

    python benchmarks/unauthenticated_flood.py [--quick]      # --quick: 29 MiB only
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import msgpack
import zmq
from support.protocol_client import CommandClient
from support.sidecar_process import running_sidecar

MiB = 1 << 20


def status_kib(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def flood(size: int, order: str, token_length: int) -> bytes:
    n = size - 120
    body = b"\x81" + msgpack.packb("readings") + b"\xdd" + n.to_bytes(4, "big") + b"\x90" * n
    head = [(b"v", 1), (b"type", "ingest"), (b"id", "flood"), (b"ts", time.time())]
    encoded = [msgpack.packb(k.decode()) + msgpack.packb(v) for k, v in head]
    body_entry = msgpack.packb("body") + body
    if order == "envelope first, no token":
        entries = encoded + [body_entry]
    elif order == "body first, wrong token":
        entries = [body_entry] + encoded + [msgpack.packb("token") + msgpack.packb("x" * token_length)]
    else:
        entries = [body_entry] + encoded
    return bytes([0x80 | len(entries)]) + b"".join(entries)


def one_case(size: int, order: str) -> dict[str, Any]:
    with running_sidecar("[simulator]\ndemo_faults = false\n") as handle:
        pid = handle.process.pid
        context: zmq.Context[Any] = zmq.Context()
        bystander = CommandClient(handle.command_endpoint, handle.token, context)
        hello = {"client": "bystander", "client_version": "1", "protocols": [1]}
        quiet = []
        for _ in range(20):
            t0 = time.perf_counter()
            bystander.call("hello", hello)
            quiet.append(time.perf_counter() - t0)
        payload = flood(size, order, len(handle.token))
        done = threading.Event()
        during: list[float] = []

        def keep_asking() -> None:
            while not done.is_set():
                t0 = time.perf_counter()
                bystander.call("hello", hello)
                during.append(time.perf_counter() - t0)

        rss_before = status_kib(pid, "VmRSS")
        attacker = context.socket(zmq.DEALER)
        attacker.setsockopt(zmq.LINGER, 0)
        attacker.setsockopt(zmq.RCVTIMEO, 120_000)
        attacker.connect(handle.command_endpoint)
        asker = threading.Thread(target=keep_asking)
        asker.start()
        t0 = time.perf_counter()
        attacker.send_multipart([b"", payload])
        reply = msgpack.unpackb(attacker.recv_multipart()[1], raw=False)
        answered = time.perf_counter() - t0
        time.sleep(0.1)
        done.set()
        asker.join()
        growth = (status_kib(pid, "VmHWM") - rss_before) * 1024
        attacker.close(0)
        bystander.close()
        context.term()
    assert reply["error"]["code"] == "unauthorized", reply
    return {"request_mib": len(payload) / MiB, "rss_growth_mib": growth / MiB, "growth_ratio": growth / len(payload),
            "reply_ms": answered * 1000, "bystander_worst_hello_ms": max(during) * 1000,
            "bystander_hellos": len(during), "quiet_hello_ms": statistics.median(quiet) * 1000}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    sizes = [29 * MiB] if args.quick else [29 * MiB, 63 * MiB]
    orders = ["envelope first, no token", "body first, wrong token", "body first, no token"]
    print(f"{platform.machine()} {platform.python_version()} cpus={os.cpu_count()} load={os.getloadavg()[0]:.1f}")
    results = {}
    for size in sizes:
        for order in orders:
            r = one_case(size, order)
            print(f"  {r['request_mib']:5.1f} MiB {order:26s} RSS +{r['rss_growth_mib']:6.1f} MiB "
                  f"({r['growth_ratio']:.2f}x)  unauthorized in {r['reply_ms']:6.1f} ms  bystander hello worst "
                  f"{r['bystander_worst_hello_ms']:6.1f} ms ({r['bystander_hellos']} during; quiet "
                  f"{r['quiet_hello_ms']:.2f} ms)")
            results[f"{size // MiB}MiB {order}"] = {k: round(v, 3) for k, v in r.items()}
    print(json.dumps(results))


if __name__ == "__main__":
    main()
