"""Work orders on the wire (the additive ``workorders`` request) and read back from the log.

``workorders.jsonl`` is append-only: an order appears once when raised and again when closed
(same ``work_order_id``, ``status`` closed, ``extra.closed_ts``). Reading folds the lines by id,
last line wins, and skips torn or foreign lines (a crash must not stop the request).
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

STATUSES = ("open", "closed", "all")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000


def order_to_wire(record: dict[str, Any], labels: dict[str, tuple[int, str]] | None = None) -> dict[str, Any]:
    """A logged order as the WorkOrder record of the protocol (absent, never nil, when unknown)."""
    wire: dict[str, Any] = {
        "work_order_id": str(record["work_order_id"]), "unique_id": str(record["unique_id"]),
        "status": "closed" if record.get("status") == "closed" else "open",
        "priority": str(record.get("priority", "medium")),
        "failure_probability": min(1.0, max(0.0, float(record.get("failure_probability", 0.0)))),
        "recommended_action": str(record.get("recommended_action", "")),
        "evidence": [str(e) for e in record.get("evidence", [])],
        "created_ts": float(record["created_ts"]), "due_ts": float(record["due_ts"]),
    }
    ttf = record.get("ttf_hours")
    if isinstance(ttf, (int, float)) and math.isfinite(ttf) and ttf >= 0:
        wire["ttf_hours"] = float(ttf)
    extra = record.get("extra") or {}
    closed = extra.get("closed_ts") if isinstance(extra, dict) else None
    if wire["status"] == "closed" and isinstance(closed, (int, float)):
        wire["closed_ts"] = float(closed)
    if labels and wire["unique_id"] in labels:
        element_id, label = labels[wire["unique_id"]]
        wire["element_id"] = element_id
        wire["title"] = f"{label}: {wire['recommended_action']}"
    return wire


def read_orders(path: Path) -> list[dict[str, Any]]:
    """Every order in the log (its latest line), oldest first."""
    orders: dict[str, dict[str, Any]] = {}
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    for line in text.splitlines():
        try:
            record = json.loads(line)
            key = str(record["work_order_id"])
            float(record["created_ts"]), float(record["due_ts"]), str(record["unique_id"])
        except (ValueError, TypeError, KeyError):
            continue
        orders.pop(key, None)
        orders[key] = record
    return sorted(orders.values(), key=lambda r: float(r["created_ts"]))


def select_orders(path: Path, status: str = "open", limit: int = DEFAULT_LIMIT,
                  labels: dict[str, tuple[int, str]] | None = None) -> list[dict[str, Any]]:
    """The ``workorders`` reply: newest first, filtered by status, at most ``limit``."""
    wanted = [r for r in read_orders(path) if status == "all" or
              (r.get("status") == "closed") == (status == "closed")]
    wanted.reverse()
    return [order_to_wire(r, labels) for r in wanted[:max(1, min(limit, MAX_LIMIT))]]
