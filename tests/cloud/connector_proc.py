"""A connector in its own process, for the kill-during-outage test.

    python connector_proc.py KIND SETTINGS_JSON DATA_DIR FIRST COUNT INTERVAL_S

Feeds readings ``("s1", ts, i)`` for i in [FIRST, FIRST+COUNT) every INTERVAL_S, commits them to
the outbox, prints ``committed <n>`` after each, then ``drained`` once the outbox is empty
(if ever), and keeps running until killed. Logs go to stderr at DEBUG (the test reads them
for secrets).
"""
from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from sidecar.cloud import create_connector


async def no_commands(kind: str, body: dict) -> dict:
    return {}


async def main(argv: list[str]) -> None:
    kind, settings, data_dir = argv[0], json.loads(argv[1]), Path(argv[2])
    first, count, interval = int(argv[3]), int(argv[4]), float(argv[5])
    connector = create_connector(kind, settings, data_dir, no_commands)
    await connector.start()
    print("started", connector.status()["backlog"], flush=True)
    for i in range(first, first + count):
        connector.on_readings([("s1", time.time(), float(i))])
        await connector.flush()
        print("committed", i, flush=True)
        await asyncio.sleep(interval)
    while True:
        status = connector.status()
        if status["backlog"] == 0:
            print("drained", status["delivered"], flush=True)
            break
        await asyncio.sleep(0.05)
    await asyncio.Event().wait()


if __name__ == "__main__":
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    asyncio.run(main(sys.argv[1:]))
