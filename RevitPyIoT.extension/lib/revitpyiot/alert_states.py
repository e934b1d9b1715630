# -*- coding: utf-8 -*-
"""What an Alert means to a Revit user: active, acknowledged, returned-but-unacknowledged or
shelved (ISA-18.2, the additive Alert fields in docs/protocol.md).

Revit-agnostic (the live-sync core, the tags and the Alerts button share it). An older sidecar
sends no ``isa_state``: ``state`` alone then decides, so both generations read the same.
"""
from __future__ import absolute_import

import time

from revitpyiot import protocol as P

# The groups the Alerts button lists, in this order.
GROUP_ACTIVE = "active"              # condition present, not shelved (acknowledged or not)
GROUP_RETURNED = "returned"          # back to normal but nobody acknowledged it yet (unack_rtn)
GROUP_SHELVED = "shelved"            # shelved_until in the future: listed apart, never counted
GROUP_CLEARED = "cleared"            # nothing left to do
GROUPS = (GROUP_ACTIVE, GROUP_RETURNED, GROUP_SHELVED)

SEVERITY_ORDER = {P.SEVERITY_CRITICAL: 0, P.SEVERITY_WARNING: 1, P.SEVERITY_INFO: 2}


def _now(now):
    return time.time() if now is None else now


def is_shelved(alert, now=None):
    until = alert.get("shelved_until")
    return until is not None and until > _now(now)


def is_condition_present(alert):
    """The alarm condition still holds (ISA unack_active / ack_active)."""
    return alert.get("state") in (P.ALERT_ACTIVE, P.ALERT_ACKNOWLEDGED)


def is_returned_unacknowledged(alert):
    """Back to normal, but nobody acknowledged it (state ``cleared``, isa_state ``unack_rtn``)."""
    return alert.get("isa_state") == P.ISA_UNACK_RTN


def needs_acknowledgement(alert):
    """Someone still has to acknowledge it: unack_active or unack_rtn."""
    isa_state = alert.get("isa_state")
    if isa_state is not None:
        return isa_state in (P.ISA_UNACK_ACTIVE, P.ISA_UNACK_RTN)
    return alert.get("state") == P.ALERT_ACTIVE


def is_finished(alert):
    """Nothing left to show or do: normal, or cleared without waiting for an acknowledgement."""
    if alert.get("isa_state") == P.ISA_NORMAL:
        return True
    return alert.get("state") == P.ALERT_CLEARED and not is_returned_unacknowledged(alert)


def group_of(alert, now=None):
    if is_finished(alert):
        return GROUP_CLEARED
    if is_shelved(alert, now):
        return GROUP_SHELVED
    if is_returned_unacknowledged(alert):
        return GROUP_RETURNED
    if is_condition_present(alert):
        return GROUP_ACTIVE
    return GROUP_CLEARED


def is_active(alert, now=None):
    """Counted as active: condition present and not shelved."""
    return group_of(alert, now) == GROUP_ACTIVE


def sort_key(alert):
    """Most severe first, then oldest first."""
    return (SEVERITY_ORDER.get(alert.get("severity"), 3), alert.get("raised_ts") or 0.0,
            alert.get("alert_id") or u"")


def grouped(alerts, now=None):
    """{group: [alert, ...]} for GROUPS, each sorted by ``sort_key``; cleared ones are left out."""
    now = _now(now)
    groups = dict((name, []) for name in GROUPS)
    for alert in alerts:
        name = group_of(alert, now)
        if name in groups:
            groups[name].append(alert)
    for name in GROUPS:
        groups[name].sort(key=sort_key)
    return groups


def newest_per_id(alerts):
    """One alert per ``alert_id``: the most recently updated version wins (later ones on ties)."""
    latest = {}
    for alert in alerts:
        key = alert.get("alert_id")
        if not key:
            continue
        known = latest.get(key)
        if known is None or (alert.get("updated_ts") or 0.0) >= (known.get("updated_ts") or 0.0):
            latest[key] = alert
    return list(latest.values())


def newest_active_by_element(alerts, now=None):
    """{unique_id: the newest active (unshelved, condition present) alert of that element}."""
    now = _now(now)
    latest = {}
    for alert in newest_per_id(alerts):
        key = alert.get("unique_id")
        if not key or not is_active(alert, now):
            continue
        known = latest.get(key)
        if known is None or _newness(alert) > _newness(known):
            latest[key] = alert
    return latest


def _newness(alert):
    # Raised most recently; an acknowledgement or an escalation does not make an alert "newer".
    return (alert.get("raised_ts") or 0.0, alert.get("updated_ts") or 0.0, alert.get("alert_id") or u"")
