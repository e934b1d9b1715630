# -*- coding: utf-8 -*-
"""What each ribbon button does. The buttons' ``script.py`` files call one function here.

Every command runs on Revit's main thread in API context (a button click). Sidecar errors
end the command with a clear message, never a traceback.
"""
from __future__ import absolute_import

import os
import time

from revitpyiot import protocol as P
from revitpyiot import alerts_view
from revitpyiot import extract
from revitpyiot import overlay
from revitpyiot import revit_compat as rc
from revitpyiot import settings as settings_mod
from revitpyiot import tags
from revitpyiot import ui

CLIENT_NAME = "RevitPyIoT.extension"
ICON_STATES = {P.STATE_MONITORING: "on.png", P.STATE_CONFIGURED: "off.png", P.STATE_IDLE: "off.png",
               P.STATE_STOPPING: "off.png", None: "offline.png"}


class Context(object):
    """The pieces of pyRevit a command needs, gathered once per click."""

    def __init__(self):
        from pyrevit import revit, script, forms, HOST_APP
        self.revit = revit
        self.script = script
        self.forms = forms
        self.host = HOST_APP
        self.doc = revit.doc
        self.uidoc = revit.uidoc
        self.output = script.get_output()
        self.settings = settings_mod.load()

    def client(self, timeout_s=None):
        return self.settings.make_client(timeout_s)

    def revit_version(self):
        try:
            return rc.text(self.doc.Application.VersionNumber)
        except Exception:
            return None


def run(command):
    """Run ``command(ctx)`` and turn sidecar errors into messages."""
    from revitpyiot.client import SidecarError, SidecarTimeout, SidecarUnavailable
    ctx = Context()
    try:
        return command(ctx)
    except SidecarUnavailable as error:
        ctx.output.print_md(ui.sidecar_down_message(ctx.settings, error.message))
    except SidecarTimeout as error:
        ctx.output.print_md(u"**The sidecar did not answer in time** ({0}). It may be busy; try again, or "
                            u"restart it from the tray icon.".format(rc.text(error.message)))
    except SidecarError as error:
        ctx.output.print_md(u"**The sidecar refused the request**: `{0}` {1}".format(
            error.code, rc.text(error.message)))
    return None


def _hello(ctx, client):
    import revitpyiot
    body = {"client": CLIENT_NAME, "client_version": revitpyiot.__version__,
            "protocols": list(P.SUPPORTED_VERSIONS)}
    version = ctx.revit_version()
    if version:
        body["revit_version"] = version
    if ctx.doc is not None:
        body["document"] = rc.text(ctx.doc.Title)
    return client.request(P.HELLO, body)


# -- Connect / Status ------------------------------------------------------------------
def connect_status(ctx):
    from revitpyiot.client import SidecarUnavailable
    client = ctx.client()
    try:
        try:
            hello = _hello(ctx, client)
        except SidecarUnavailable:
            if not _offer_to_start(ctx):
                raise
            hello = _hello(ctx, client)
        status = client.request(P.STATUS, {})
    finally:
        client.close()
    out = ctx.output
    out.print_md(u"## RevitPyIoT sidecar {0} (protocol {1})".format(hello.get("sidecar_version"),
                                                                     hello.get("protocol")))
    rows = [[u"state", status.get("state")],
            [u"building", status.get("building_id") or u"-"],
            [u"sensors", status.get("sensors")],
            [u"readings per second", status.get("readings_per_s")],
            [u"active alerts", status.get("active_alerts")],
            [u"uptime", ui.age_text(status.get("uptime_s") or 0)]]
    for name, state in sorted((status.get("sources") or {}).items()):
        rows.append([u"source " + rc.text(name), state])
    out.print_table(rows, columns=[u"", u"value"])
    if status.get("state") == P.STATE_IDLE:
        out.print_md(u"No building is configured yet: click **Export Sensors**.")
    return status


def _offer_to_start(ctx, wait_s=15.0):
    """When the installer registered a sidecar for this user, offer to start it (detached, so
    closing Revit does not stop it) and wait until it answers. False when not installed or the
    user declines."""
    from revitpyiot import launcher
    from revitpyiot.client import SidecarError
    if launcher.find_sidecar_command() is None:
        return False
    if not ctx.forms.alert(u"The RevitPyIoT sidecar is not running. Start it now?", yes=True, no=True):
        return False
    launcher.start_sidecar(tray=True)
    deadline = time.time() + wait_s
    while time.time() < deadline:
        probe = ctx.client(timeout_s=1.0)
        try:
            _hello(ctx, probe)
            return True
        except SidecarError:
            time.sleep(0.5)
        finally:
            probe.close()
    return False


# -- Export Sensors --------------------------------------------------------------------
def export_sensors(ctx):
    result = extract.export_building(ctx.doc, ctx.settings, active_view=ctx.uidoc.ActiveView,
                                     revit_version=ctx.revit_version())
    client = ctx.client(timeout_s=max(ctx.settings.timeout_s, 30.0))
    try:
        reply = client.request(P.CONFIGURE, result.config)
    finally:
        client.close()
    out = ctx.output
    counts = result.counts
    out.print_md(u"## Exported '{0}' to the sidecar".format(result.config["building_id"]))
    out.print_md(u"{0} equipment, {1} sensors ({2} from linked models), {3} levels, {4} rooms/spaces."
                 .format(counts["equipment"], counts["sensors"], counts["linked_elements"], counts["levels"],
                         counts["spaces"]))
    out.print_md(u"The sidecar accepted {0} elements and {1} sensors.".format(reply.get("elements"),
                                                                              reply.get("sensors")))
    ui.print_warnings(out, result.warnings)
    rows = []
    for element in result.config["elements"][:200]:
        sensor = element.get("sensor") or {}
        rows.append([ui.element_link(out, element["element_id"], element["unique_id"]), element["kind"],
                     element["category"], rc.text(element.get("family", u"")), rc.text(element.get("mark", u"")),
                     sensor.get("sensor_id", u""), sensor.get("quantity", u"")])
    out.print_table(rows, columns=[u"Element", u"Kind", u"Category", u"Family", u"Mark", u"Sensor", u"Quantity"],
                    title=u"Exported elements (first 200)")
    for message in reply.get("warnings") or []:
        out.print_md(u"Sidecar: " + rc.text(message))
    return result, reply


# -- Monitoring ------------------------------------------------------------------------
def sidecar_state(settings, timeout_s=1.0):
    """The sidecar's state, or None when it does not answer."""
    from revitpyiot.client import SidecarError
    try:
        client = settings.make_client(timeout_s)
    except SidecarError:
        return None
    try:
        return client.request(P.STATUS, {}).get("state")
    except SidecarError:
        return None
    finally:
        client.close()


def icon_path(bundle_dir, state):
    return os.path.join(bundle_dir, ICON_STATES.get(state, "offline.png"))


def set_button_icon(ctx, state):
    button = ctx.script.get_button()
    if button is not None:
        button.set_icon(icon_path(_bundle_dir(ctx), state))


def _bundle_dir(ctx):
    return os.path.dirname(ctx.script.get_script_path())


def monitoring_toggle(ctx):
    client = ctx.client()
    try:
        state = client.request(P.STATUS, {}).get("state")
        if state == P.STATE_IDLE:
            ctx.output.print_md(u"Nothing to monitor yet: click **Export Sensors** first.")
            new_state = state
        elif state == P.STATE_MONITORING:
            new_state = client.request(P.STOP, {}).get("state")
            ctx.output.print_md(u"Monitoring stopped (sidecar state: {0}).".format(new_state))
        else:
            new_state = client.request(P.START, {}).get("state")
            ctx.output.print_md(u"Monitoring started (sidecar state: {0}).".format(new_state))
    finally:
        client.close()
    set_button_icon(ctx, new_state)
    return new_state


def monitoring_selfinit(ui_button, bundle_dir):
    """Smart-button init: show the sidecar's state without blocking Revit's start-up."""
    state = sidecar_state(settings_mod.load(), timeout_s=0.5)
    ui_button.set_icon(icon_path(bundle_dir, state))
    return True


# -- Live Sync -------------------------------------------------------------------------
def live_sync_toggle(ctx):
    from revitpyiot import live_revit
    session = live_revit.current_session()
    if session is not None and session.running:
        session.stop()
        ctx.output.print_md(u"Live sync stopped after {0} live transactions.".format(session.transactions))
        ctx.script.toggle_icon(False)
        return None
    view = ctx.uidoc.ActiveView
    reason = overlay.refusal_reason(view)
    if reason:
        ctx.output.print_md(u"Live colours are off for this view: " + reason)
        view = None
    client = ctx.client()
    _hello(ctx, client)   # fails fast with a clear message when the sidecar is down
    if ctx.settings.live_write_tags:
        # Bind the tag parameters now, in this click's API context, so live batches only write values.
        tags.ensure_parameters(ctx.doc, _tag_categories(ctx.settings), _data_dir())
    session = live_revit.RevitLiveSession(ctx.host.uiapp, ctx.doc, view, client, ctx.settings)
    session.start()
    ctx.script.toggle_icon(True)
    ctx.output.print_md(u"Live sync started: health and alerts update {0}{1} as they change."
                        .format(u"the colours in '{0}'".format(rc.text(view.Name)) if view is not None
                                else u"", u" and the health tags" if ctx.settings.live_write_tags else u""))
    return session


def live_sync_selfinit(ui_button, bundle_dir):
    from revitpyiot import session_store
    session = session_store.get("RevitPyIoT.LiveSync")
    running = session is not None and session.running
    ui_button.set_icon(os.path.join(bundle_dir, "on.png" if running else "off.png"))
    return True


# -- Colour by Health / Clear Colours --------------------------------------------------
def _snapshot(ctx):
    client = ctx.client()
    try:
        return client.request(P.SNAPSHOT, {})
    finally:
        client.close()


def colour_by_health(ctx):
    snapshot = _snapshot(ctx)
    view = ctx.uidoc.ActiveView
    result = overlay.colour_view(ctx.doc, view, snapshot.get("health") or [], ctx.settings)
    out = ctx.output
    if result.mode == overlay.MODE_REFUSED:
        out.print_md(u"**Cannot colour this view.** " + result.message)
        return result
    counts = dict((status, len(ids)) for status, ids in result.coloured.items())
    out.print_md(u"## Health colours in '{0}'".format(result.view_name))
    if result.message:
        out.print_md(result.message)
    out.print_html(overlay.legend_html(ctx.settings, counts))
    for status in (P.STATUS_CRITICAL, P.STATUS_WARNING, P.STATUS_WATCH):
        ids = result.coloured.get(status) or []
        if ids:
            out.print_md(u"**{0}**: {1}".format(status, u", ".join(
                ui.element_link(out, element_id) for element_id in ids[:100])))
    if result.linked:
        out.print_md(u"{0} elements are in linked models: Revit colours a link only as a whole, so they keep "
                     u"the link's graphics (their status is in the legend counts of their own model)."
                     .format(len(result.linked)))
    if result.missing:
        out.print_md(u"{0} exported elements are no longer in the model: run Export Sensors again."
                     .format(len(result.missing)))
    return result


def clear_colours(ctx):
    view = ctx.uidoc.ActiveView
    reason = overlay.refusal_reason(view)
    if reason:
        ctx.output.print_md(reason)
        return 0
    reset = overlay.clear_view(ctx.doc, view, ctx.settings)
    ctx.output.print_md(u"Removed the health colours from {0} elements in '{1}'.".format(reset,
                                                                                        rc.text(view.Name)))
    return reset


# -- Write Health Tags -----------------------------------------------------------------
def _tag_categories(settings):
    return list(settings.equipment_categories) + list(settings.sensor_categories)


def _data_dir():
    from revitpyiot.protocol import default_data_dir
    return default_data_dir()


def write_health_tags(ctx):
    snapshot = _snapshot(ctx)
    result = tags.ensure_parameters(ctx.doc, _tag_categories(ctx.settings), _data_dir())
    tags.write_tags(ctx.doc, snapshot.get("health") or [], snapshot.get("alerts") or [], result)
    out = ctx.output
    out.print_md(u"## Health tags")
    if result.created:
        out.print_md(u"Created shared parameters: " + u", ".join(result.created))
    out.print_md(u"Wrote health tags on {0} elements; skipped {1}.".format(len(result.written),
                                                                          len(result.skipped)))
    if result.skipped:
        rows = [[ui.element_link(out, element_id, key), rc.text(reason)]
                for key, element_id, reason in result.skipped]
        out.print_table(rows, columns=[u"Element", u"Skipped because"], title=u"Skipped elements")
    return result


# -- Alerts ----------------------------------------------------------------------------
def show_alerts(ctx):
    client = ctx.client()
    try:
        snapshot = client.request(P.SNAPSHOT, {})
        alerts = alerts_view.active_alerts(snapshot.get("alerts") or [])
        out = ctx.output
        now = time.time()
        if not alerts:
            out.print_md(u"No active alerts.")
            return None
        out.print_table(alerts_view.alert_rows(out, alerts, now),
                        columns=[u"Severity", u"Element", u"Sensor", u"Message", u"Age", u"Recommended action"],
                        title=u"Active alerts ({0})".format(len(alerts)))
        labels = dict((alerts_view.alert_label(a, now), a) for a in alerts)
        picked = ctx.forms.SelectFromList.show(sorted(labels.keys(), key=lambda k: alerts.index(labels[k])),
                                               title=u"Active alerts", button_name=u"Show and acknowledge")
        if not picked:
            return None
        alert = labels[picked]
        if not alerts_view.show_element(ctx.uidoc, alert):
            out.print_md(u"The element of this alert is in a linked model or was deleted: it cannot be "
                         u"selected here.")
        if ctx.forms.alert(u"Acknowledge this alert?", sub_msg=rc.text(alert.get("message", u"")),
                           yes=True, no=True):
            user = rc.text(ctx.doc.Application.Username) or u"revit user"
            acked = alerts_view.acknowledge(client, alert, user)
            out.print_md(u"Acknowledged by {0}: {1}".format(user, rc.text(acked.get("message", u""))))
            return acked
        return alert
    finally:
        client.close()


# -- Settings / Dashboard --------------------------------------------------------------
EDITABLE = (
    ("command_endpoint", u"Sidecar command endpoint"),
    ("event_endpoint", u"Sidecar event endpoint"),
    ("dashboard_url", u"Dashboard URL"),
    ("building_id", u"Building id (empty: the model's title)"),
    ("equipment_categories", u"Equipment categories (BuiltInCategory names, comma separated)"),
    ("sensor_categories", u"Sensor categories (BuiltInCategory names, comma separated)"),
    ("exported_parameters", u"Parameters to export (comma separated)"),
    ("colour_scheme", u"Colour scheme (JSON: {\"critical\": [r, g, b], ...}; empty: standard)"),
    ("template_mode", u"Views with a template: filters or message"),
    ("live_write_tags", u"Live sync writes health tags (true/false)"),
    ("live_colour_view", u"Live sync colours the view (true/false)"),
)


def _display(value):
    import json
    if isinstance(value, list):
        return u", ".join(value)
    if isinstance(value, dict):
        return json.dumps(value)
    return rc.text(value)


def edit_settings(ctx):
    labels = [u"{0}: {1}".format(label, _display(ctx.settings.values[key])) for key, label in EDITABLE]
    picked = ctx.forms.CommandSwitchWindow.show(labels, message=u"Which setting?")
    if not picked:
        return None
    key, label = EDITABLE[labels.index(picked)]
    answer = ctx.forms.ask_for_string(default=_display(ctx.settings.values[key]), prompt=label,
                                      title=u"RevitPyIoT settings")
    if answer is None:
        return None
    ctx.settings.set(key, answer)
    settings_mod.save(ctx.settings)
    ctx.output.print_md(u"Saved {0} = {1}".format(key, _display(ctx.settings.values[key])))
    return ctx.settings


def open_dashboard(ctx):
    ctx.script.open_url(ctx.settings.dashboard_url)
    return ctx.settings.dashboard_url
