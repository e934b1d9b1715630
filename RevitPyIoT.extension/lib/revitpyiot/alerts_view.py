# -*- coding: utf-8 -*-
"""Active alerts: table rows, selecting and zooming to an alert's element, acknowledging."""
from __future__ import absolute_import

import time

from revitpyiot import protocol as P
from revitpyiot import extract
from revitpyiot import revit_compat as rc
from revitpyiot import ui

SEVERITY_ORDER = {P.SEVERITY_CRITICAL: 0, P.SEVERITY_WARNING: 1, P.SEVERITY_INFO: 2}


def active_alerts(alerts):
    """Active alerts, most severe first, then oldest first."""
    active = [a for a in alerts if a.get("state") == P.ALERT_ACTIVE]
    active.sort(key=lambda a: (SEVERITY_ORDER.get(a.get("severity"), 3), a.get("raised_ts") or 0))
    return active


def alert_label(alert, now=None):
    now = time.time() if now is None else now
    return u"[{0}] {1} - {2} ({3} ago) #{4}".format(
        alert.get("severity", u"?").upper(), rc.text(alert.get("sensor_id") or alert.get("unique_id")),
        rc.text(alert.get("message", u"")), ui.age_text(now - (alert.get("raised_ts") or now)),
        alert.get("alert_id"))


def alert_rows(output, alerts, now=None):
    now = time.time() if now is None else now
    rows = []
    for alert in alerts:
        rows.append([alert.get("severity", u""),
                     ui.element_link(output, alert.get("element_id"), alert.get("unique_id")),
                     rc.text(alert.get("sensor_id") or u""),
                     rc.text(alert.get("message", u"")),
                     ui.age_text(now - (alert.get("raised_ts") or now)),
                     rc.text(alert.get("recommended_action") or u"")])
    return rows


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
