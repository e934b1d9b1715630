# -*- coding: utf-8 -*-
"""The Alerts button's pieces: table rows per group (active, returned unacknowledged, shelved),
selecting and zooming to an alert's element, acknowledging, shelving and unshelving."""
from __future__ import absolute_import

import time

from revitpyiot import protocol as P
from revitpyiot import alert_states
from revitpyiot import extract
from revitpyiot import revit_compat as rc
from revitpyiot import ui

SEVERITY_ORDER = alert_states.SEVERITY_ORDER

# Shelving choices offered (the sidecar refuses more than its shelve_max_s, 24 h by default).
SHELVE_DURATIONS = (
    (u"15 minutes", 15 * 60),
    (u"1 hour", 3600),
    (u"4 hours", 4 * 3600),
    (u"8 hours (a shift)", 8 * 3600),
    (u"24 hours", 24 * 3600),
)

ACTION_ACK = u"Acknowledge"
ACTION_SHELVE = u"Shelve..."
ACTION_UNSHELVE = u"Unshelve"

TABLE_COLUMNS = [u"Severity", u"Element", u"Sensor", u"Message", u"Age", u"State", u"Recommended action"]


def active_alerts(alerts, now=None):
    """Active alerts (condition present, not shelved), most severe first, then oldest first."""
    return alert_states.grouped(alerts, now)[alert_states.GROUP_ACTIVE]


def state_text(alert, now=None):
    """What a user must know about the alert's state, in words."""
    now = time.time() if now is None else now
    parts = []
    if alert_states.is_shelved(alert, now):
        parts.append(u"shelved for {0}{1}{2}".format(
            ui.age_text(alert["shelved_until"] - now),
            u" by " + rc.text(alert["shelved_by"]) if alert.get("shelved_by") else u"",
            u" (" + rc.text(alert["shelve_reason"]) + u")" if alert.get("shelve_reason") else u""))
    if alert_states.is_returned_unacknowledged(alert):
        parts.append(u"returned to normal, needs acknowledgement")
    elif alert_states.needs_acknowledgement(alert):
        parts.append(u"unacknowledged")
    elif alert.get("acknowledged_ts") is not None or alert.get("state") == P.ALERT_ACKNOWLEDGED:
        parts.append(acknowledged_text(alert, now))
    if alert.get("escalated"):
        parts.append(u"escalated")
    return u"; ".join(parts)


def acknowledged_text(alert, now=None):
    now = time.time() if now is None else now
    text = u"acknowledged"
    if alert.get("acknowledged_by"):
        text += u" by " + rc.text(alert["acknowledged_by"])
    if alert.get("acknowledged_ts") is not None:
        text += u" {0} ago".format(ui.age_text(now - alert["acknowledged_ts"]))
    if alert.get("ack_note"):
        text += u": " + rc.text(alert["ack_note"])
    return text


def alert_label(alert, now=None):
    now = time.time() if now is None else now
    return u"[{0}] {1} - {2} ({3} ago; {4}) #{5}".format(
        alert.get("severity", u"?").upper(), rc.text(alert.get("sensor_id") or alert.get("unique_id")),
        ui.alert_message(alert), ui.age_text(now - (alert.get("raised_ts") or now)),
        state_text(alert, now), alert.get("alert_id"))


def alert_rows(output, alerts, now=None):
    now = time.time() if now is None else now
    rows = []
    for alert in alerts:
        rows.append([alert.get("severity", u""),
                     ui.element_link(output, alert.get("element_id"), alert.get("unique_id")),
                     rc.text(alert.get("sensor_id") or u""),
                     ui.alert_message(alert),
                     ui.age_text(now - (alert.get("raised_ts") or now)),
                     state_text(alert, now),
                     rc.text(alert.get("recommended_action") or u"")])
    return rows


def actions_for(alert, now=None):
    """The actions the Alerts button offers for one alert, in this order."""
    actions = []
    if alert_states.needs_acknowledgement(alert):
        actions.append(ACTION_ACK)
    if alert_states.is_shelved(alert, now):
        actions.append(ACTION_UNSHELVE)
    else:
        actions.append(ACTION_SHELVE)
    return actions


def show_element(uidoc, alert):
    """Select the alert's element and zoom to it; False when it lives in a link or is gone."""
    link_uid, element_uid = extract.split_key(alert.get("unique_id") or u"")
    if link_uid is not None:
        return False
    doc = uidoc.Document
    element = doc.GetElement(element_uid)
    if element is None:
        return False
    ids = rc.id_list([element.Id])
    uidoc.Selection.SetElementIds(ids)
    uidoc.ShowElements(ids)
    return True


def acknowledge(client, alert, user, note=None):
    body = {"alert_id": alert["alert_id"], "user": user}
    if note:
        body["note"] = note
    return client.request(P.ACK, body)["alert"]


def shelve(client, alert, user, duration_s, reason=None):
    """Shelve the alert's point for ``duration_s`` (additive ``shelve`` request)."""
    body = {"alert_id": alert["alert_id"], "duration_s": float(duration_s), "user": user}
    if reason:
        body["reason"] = reason
    return client.request(P.SHELVE, body)["alert"]


def unshelve(client, alert, user, note=None):
    body = {"alert_id": alert["alert_id"], "user": user}
    if note:
        body["note"] = note
    return client.request(P.UNSHELVE, body)["alert"]
