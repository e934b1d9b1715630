"""The ``ingest`` reply: how many readings were accepted, and the rejected ones, capped.

Protocol v1 answered with one ``{index, reason}`` per rejected reading: 2 million readings for
unknown sensors made a 78-168 MB reply. The reply now keeps ``rejected`` as the first
``MAX_REJECTED_EXAMPLES`` rejections (in index order) and adds, when anything was rejected,
``rejected_total`` and ``rejected_by_reason`` (``{reason: count}``, the ``MAX_REASONS`` most
frequent reasons; the rest summed under ``OTHER_REASONS``). Old clients keep working: every
rejection they are shown is real, and a batch with at most 100 rejections is answered exactly
as before (plus the two new keys).
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any, Protocol

MAX_REJECTED_EXAMPLES = 100
MAX_REASONS = 50
OTHER_REASONS = "(other reasons)"


class RejectedReading(Protocol):
    @property
    def index(self) -> int: ...

    @property
    def reason(self) -> str: ...


def ingest_reply(accepted: int, rejected: Sequence[RejectedReading],
                 max_examples: int = MAX_REJECTED_EXAMPLES, max_reasons: int = MAX_REASONS) -> dict[str, Any]:
    """The reply body for ``accepted`` readings and the ``rejected`` ones (in index order)."""
    reply: dict[str, Any] = {"accepted": accepted,
                             "rejected": [{"index": r.index, "reason": r.reason} for r in rejected[:max_examples]]}
    if not rejected:
        return reply
    counts = Counter(r.reason for r in rejected)
    by_reason = dict(counts.most_common(max_reasons))
    others = len(rejected) - sum(by_reason.values())
    if others:
        by_reason[OTHER_REASONS] = by_reason.get(OTHER_REASONS, 0) + others
    reply["rejected_total"] = len(rejected)
    reply["rejected_by_reason"] = by_reason
    return reply
