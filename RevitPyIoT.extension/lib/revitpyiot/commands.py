# -*- coding: utf-8 -*-
"""What each ribbon button does. The buttons' ``script.py`` files call one function here.

Every command runs on Revit's main thread in API context (a button click). Sidecar errors
end the command with a clear message, never a traceback.
"""
from __future__ import absolute_import

import os
import time

from revitpyiot import protocol as P
from revitpyiot import alert_states
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
    from revitpyiot.transport.client import SidecarError, SidecarTimeout, SidecarUnavailable
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
    from revitpyiot.transport.client import SidecarUnavailable
    try:
        hello, status = _hello_and_status(ctx)
    except SidecarUnavailable:
        if not _offer_to_start(ctx):
            raise
        hello, status = _hello_and_status(ctx)
    out = ctx.output
    out.print_md(u"## RevitPyIoT sidecar {0} (protocol {1})".format(hello.get("sidecar_version"),
                                                                     hello.get("protocol")))
    rows = [[u"state", status.get("state")],
            [u"building", status.get("building_id") or u"-"],
            [u"sensors", status.get("sensors")],
            [u"readings per second", status.get("readings_per_s")],
            [u"active alerts", status.get("active_alerts")]]
    metrics = status.get("alarm_metrics") or {}
    for key, label in ((u"unacknowledged", u"unacknowledged alerts"),
                       (u"returned_unacknowledged", u"returned to normal, unacknowledged"),
                       (u"shelved", u"shelved alerts")):
        if metrics.get(key) is not None:
            rows.append([label, metrics.get(key)])
    rows.append([u"uptime", ui.age_text(status.get("uptime_s") or 0)])
    for name, state in sorted((status.get("sources") or {}).items()):
        rows.append([u"source " + rc.text(name), state])
    out.print_table(rows, columns=[u"", u"value"])
    if status.get("state") == P.STATE_IDLE:
        out.print_md(u"No building is configured yet: click **Export Sensors**.")
    return status


def _hello_and_status(ctx):
    # A fresh client each time: it reads the token file, which a sidecar started just now wrote.
    client = ctx.client()
    try:
        return _hello(ctx, client), client.request(P.STATUS, {})
    finally:
        client.close()


def sidecar_start_args(settings):
    """Endpoints for a sidecar the extension starts: it must listen where the extension looks."""
    return ["--command-endpoint", settings.command_endpoint, "--event-endpoint", settings.event_endpoint]


def _offer_to_start(ctx, wait_s=30.0):
    """When the installer registered a sidecar for this user, offer to start it (detached, so
    closing Revit does not stop it) and wait until it answers. False when not installed, the
    user declines, or it does not come up (the output window then says why)."""
    from revitpyiot import launcher
    from revitpyiot.transport.client import SidecarError, SidecarTimeout, SidecarUnavailable
    try:
        command = launcher.find_sidecar_command()
        if command is None:
            return False
    except launcher.LauncherError as error:
        ctx.output.print_md(u"The RevitPyIoT install record cannot be read ({0}): run the installer again."
                            .format(rc.text(error)))
        return False
    if not ctx.forms.alert(u"The RevitPyIoT sidecar is not running. Start it now?", yes=True, no=True):
        return False
    try:
        process = launcher.start_sidecar(tray=ctx.settings.start_with_tray,
                                         extra_args=sidecar_start_args(ctx.settings))
    except (launcher.LauncherError, OSError) as error:
        ctx.output.print_md(u"Could not start the sidecar: {0}".format(rc.text(error)))
        return False
    deadline = time.time() + wait_s
    while time.time() < deadline:
        if process.poll() is not None:
            ctx.output.print_md(u"The sidecar stopped right after starting (exit code {0}): see its log in "
                                u"`{1}`.".format(process.returncode, _sidecar_data_dir(command)))
            return False
        try:
            probe = ctx.client(timeout_s=1.0)
        except SidecarError:       # no token file yet: the sidecar writes it when it starts
            time.sleep(0.5)
            continue
        try:
            _hello(ctx, probe)
            return True
        except (SidecarUnavailable, SidecarTimeout):
            time.sleep(0.5)
        except SidecarError:       # it answers, but refuses: the caller reports the refusal
            return True
        finally:
            probe.close()
    ctx.output.print_md(u"Started the sidecar, but it did not answer on `{0}` within {1:.0f} s: see its log "
                        u"in `{2}`.".format(ctx.settings.command_endpoint, wait_s, _sidecar_data_dir(command)))
    return False


def _sidecar_data_dir(command):
    """The data folder the started sidecar logs into (``logs/launcher.log``, ``sidecar.log``)."""
    return command[command.index("--data-dir") + 1]


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
    from revitpyiot.transport.client import SidecarError
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
def _user_name(ctx):
    try:
        return rc.text(ctx.doc.Application.Username) or u"revit user"
    except Exception:
        return u"revit user"


def show_alerts(ctx):
    """List the standing alerts by group, then act on one: select and zoom to its element,
    acknowledge it, shelve it for a chosen time or unshelve it (with the Revit user's name)."""
    client = ctx.client()
    try:
        snapshot = client.request(P.SNAPSHOT, {})
        now = time.time()
        groups = alert_states.grouped(snapshot.get("alerts") or [], now)
        active = groups[alert_states.GROUP_ACTIVE]
        returned = groups[alert_states.GROUP_RETURNED]
        shelved = groups[alert_states.GROUP_SHELVED]
        out = ctx.output
        if active:
            out.print_table(alerts_view.alert_rows(out, active, now), columns=alerts_view.TABLE_COLUMNS,
                            title=u"Active alerts ({0})".format(len(active)))
        else:
            out.print_md(u"No active alerts.")
        if returned:
            out.print_table(alerts_view.alert_rows(out, returned, now), columns=alerts_view.TABLE_COLUMNS,
                            title=u"Returned to normal, waiting for acknowledgement ({0})".format(len(returned)))
        if shelved:
            out.print_table(alerts_view.alert_rows(out, shelved, now), columns=alerts_view.TABLE_COLUMNS,
                            title=u"Shelved alerts ({0}, not counted as active)".format(len(shelved)))
        listed = active + returned + shelved
        if not listed:
            return None
        labels = [alerts_view.alert_label(a, now) for a in listed]
        by_label = dict(zip(labels, listed))
        picked = ctx.forms.SelectFromList.show(labels, title=u"Alerts", button_name=u"Show and act")
        if not picked:
            return None
        alert = by_label[picked]
        if not alerts_view.show_element(ctx.uidoc, alert):
            out.print_md(u"The element of this alert is in a linked model or was deleted: it cannot be "
                         u"selected here.")
        action = ctx.forms.CommandSwitchWindow.show(alerts_view.actions_for(alert, now),
                                                    message=rc.text(alert.get("message", u"")))
        if action == alerts_view.ACTION_ACK:
            return _acknowledge(ctx, client, alert)
        if action == alerts_view.ACTION_SHELVE:
            return _shelve(ctx, client, alert)
        if action == alerts_view.ACTION_UNSHELVE:
            user = _user_name(ctx)
            unshelved = alerts_view.unshelve(client, alert, user)
            out.print_md(u"Unshelved by {0}: {1}".format(user, rc.text(unshelved.get("message", u""))))
            return unshelved
        return alert
    finally:
        client.close()


def _acknowledge(ctx, client, alert):
    user = _user_name(ctx)
    acked = alerts_view.acknowledge(client, alert, user)
    ctx.output.print_md(u"Acknowledged by {0}: {1}".format(user, rc.text(acked.get("message", u""))))
    return acked


def _shelve(ctx, client, alert):
    labels = [label for label, _ in alerts_view.SHELVE_DURATIONS]
    picked = ctx.forms.CommandSwitchWindow.show(labels, message=u"Shelve this alert for how long?")
    if not picked:
        return alert
    duration_s = dict(alerts_view.SHELVE_DURATIONS)[picked]
    reason = ctx.forms.ask_for_string(default=u"", prompt=u"Why is it shelved? (kept with the alert)",
                                      title=u"Shelve alert")
    if reason is None:     # cancelled
        return alert
    user = _user_name(ctx)
    shelved = alerts_view.shelve(client, alert, user, duration_s, reason.strip() or None)
    ctx.output.print_md(u"Shelved by {0} until {1}: {2}. It stays listed under *Shelved alerts* and is not "
                        u"counted as active until then.".format(user, rc.utc_text(shelved.get("shelved_until")
                                                                                  or 0.0),
                                                                 rc.text(shelved.get("message", u""))))
    return shelved


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
    ("start_with_tray", u"Connect starts the sidecar with its tray icon (true/false)"),
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
