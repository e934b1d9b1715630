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
from revitpyiot import live_overlay
from revitpyiot import overlay
from revitpyiot import revit_compat as rc
from revitpyiot import session_store
from revitpyiot import settings as settings_mod
from revitpyiot import tags
from revitpyiot import ui

CLIENT_NAME = "RevitPyIoT.extension"
ICON_STATES = {P.STATE_MONITORING: "on.png", P.STATE_CONFIGURED: "off.png", P.STATE_IDLE: "off.png",
               P.STATE_STOPPING: "off.png", None: "offline.png"}
ICON_LARGE = 32          # pyRevit's ribbon.ICON_LARGE: the panel's buttons are large buttons
LIVE_VIEW_NAME = u"RevitPyIoT Live"
OVERLAY_KEY = "RevitPyIoT.Overlays"
CONNECT_KEY = "RevitPyIoT.Connect"


def clicked():
    """True only when the user clicked the button. pyRevit's loader also executes a smart
    button's whole script (as ``__main__``) at start-up and on reload, before it calls
    ``__selfinit__``: only a click has ``EXEC_PARAMS.executed_from_ui`` set."""
    try:
        from pyrevit import EXEC_PARAMS
    except ImportError:
        return False
    return bool(getattr(EXEC_PARAMS, "executed_from_ui", False))


def on_click(command):
    """What every script.py calls at its end: run ``command`` on a click, nothing otherwise."""
    if clicked():
        return run(command)
    return None


def resolve_icon(bundle_dir, name):
    """``name`` (``on.png``) in the bundle, its ``.dark`` variant under a dark Revit theme."""
    try:
        from pyrevit.revit import ui as pyrevit_ui
        return pyrevit_ui.resolve_icon_file(bundle_dir, name)
    except Exception:
        return os.path.join(bundle_dir, name)


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
            if self.doc is not None:
                return rc.text(self.doc.Application.VersionNumber)
            return rc.text(self.host.app.VersionNumber)
        except Exception:
            return None

    def hello_body(self):
        """The ``hello`` body, read from Revit here (main thread) so workers can send it."""
        import revitpyiot
        body = {"client": CLIENT_NAME, "client_version": revitpyiot.__version__,
                "protocols": list(P.SUPPORTED_VERSIONS)}
        version = self.revit_version()
        if version:
            body["revit_version"] = version
        if self.doc is not None:
            body["document"] = rc.text(self.doc.Title)
        return body


def run(command):
    """Run ``command(ctx)`` and turn sidecar errors into messages."""
    from revitpyiot.transport.client import SidecarError
    ctx = Context()
    try:
        return command(ctx)
    except SidecarError as error:
        ctx.output.print_md(error_text(ctx.settings, error))
    return None


def error_text(settings, error, what=None):
    """What the user reads when a request failed (never a traceback)."""
    from revitpyiot.transport.client import SidecarError, SidecarTimeout, SidecarUnavailable
    if isinstance(error, SidecarUnavailable):
        return ui.sidecar_down_message(settings, error.message)
    if isinstance(error, SidecarTimeout):
        return (u"**The sidecar did not answer in time** ({0}). It may be busy; try again, or "
                u"restart it from the tray icon.".format(rc.text(error.message)))
    if isinstance(error, SidecarError):
        return u"**The sidecar refused the request**: `{0}` {1}".format(error.code, rc.text(error.message))
    return u"**{0} failed**: {1}".format(what or u"The command", rc.text(error))


class SidecarJob(object):
    """A button's sidecar requests without holding Revit: each ``request(work, apply)`` runs
    ``work()`` (the network) on a worker thread and ``apply(reply)`` (the Revit API, a
    transaction, a modal form) on Revit's main thread through an ExternalEvent. ``apply`` may
    start the next request (Alerts: list, pick, then acknowledge). Errors end up in the
    click's output window; ``done`` once nothing runs or waits."""

    def __init__(self, ctx, what):
        from revitpyiot import main_thread
        self.output = ctx.output
        self.settings = ctx.settings
        self.what = what
        self.result = None
        self.error = None
        self.applied = 0
        self._running = 0
        self.queue = main_thread.MainThreadQueue(on_error=self._apply_failed)

    @property
    def done(self):
        return self._running == 0

    def request(self, work, apply, progress=None):
        if progress:
            self.output.print_md(progress)
        if self._running == 0:
            _show_progress(self.output, True)
        self._running += 1
        self.queue.background(self._work, work, apply)
        return self

    # worker thread
    def _work(self, work, apply):
        try:
            reply = work()
        except Exception as error:          # shown on the main thread, never lost on the worker
            self.queue.post(self._request_failed, error)
            return
        self.queue.post(self._apply, apply, reply)

    # main thread
    def _apply(self, apply, reply):
        try:
            self.result = apply(reply)
            self.applied += 1
        finally:
            self._finished()

    def _finished(self):
        self._running -= 1
        if self._running == 0:
            _show_progress(self.output, False)

    def _request_failed(self, error):
        self.error = error
        self._finished()
        self.output.print_md(error_text(self.settings, error, self.what))

    def _apply_failed(self, error):
        self.error = error
        self.output.print_md(error_text(self.settings, error, self.what))


def _show_progress(output, busy):
    """The output window's progress bar, moving (indeterminate) while the sidecar is asked."""
    try:
        output.indeterminate_progress(busy)
    except Exception:       # an older pyRevit without it: the printed line is the progress
        pass


def _requesting(settings, request_type, body=None, timeout_s=None):
    """A worker-thread function: one request on a fresh client, closed after."""
    def work():
        client = settings.make_client(timeout_s)
        try:
            return client.request(request_type, body or {})
        finally:
            client.close()
    return work


def _hello(body, client):
    return client.request(P.HELLO, body)


# -- Connect / Status ------------------------------------------------------------------
def connect_status(ctx):
    """Find (or offer to start) the sidecar without holding Revit: the probing, starting and
    waiting run on a worker thread; the status table, the question and the progress lines are
    delivered to this click's output window on Revit's main thread (``main_thread``)."""
    job = ConnectJob(ctx.settings, ctx.output, ctx.forms, ctx.hello_body())
    ctx.output.print_md(u"Connecting to the RevitPyIoT sidecar on `{0}`...".format(ctx.settings.command_endpoint))
    job.start()
    session_store.put(CONNECT_KEY, job)
    return job


class ConnectJob(object):
    def __init__(self, settings, output, forms, hello_body, wait_s=30.0):
        from revitpyiot import main_thread
        self.settings = settings
        self.output = output
        self.forms = forms
        self.body = hello_body
        self.wait_s = wait_s
        self.done = False
        self.status = None
        self.queue = main_thread.MainThreadQueue(on_error=self._failed)

    def start(self):
        self.queue.background(self._probe, True)

    # -- worker thread
    def _probe(self, may_offer):
        from revitpyiot import launcher
        from revitpyiot.transport.client import SidecarError, SidecarTimeout, SidecarUnavailable
        try:
            hello, status = _hello_and_status(self.settings, self.body)
        except SidecarUnavailable as error:
            command = None
            if may_offer:
                try:
                    command = launcher.find_sidecar_command()
                except launcher.LauncherError as bad:
                    self._post_md(u"The RevitPyIoT install record cannot be read ({0}): run the installer "
                                  u"again.".format(rc.text(bad)))
            if command is None:
                self._finish(ui.sidecar_down_message(self.settings, error.message))
            else:
                self.queue.post(self._offer, command)
            return
        except SidecarTimeout as error:
            self._finish(u"**The sidecar did not answer in time** ({0}). It may be busy; try again, or "
                         u"restart it from the tray icon.".format(rc.text(error.message)))
            return
        except SidecarError as error:
            self._finish(u"**The sidecar refused the request**: `{0}` {1}".format(error.code, rc.text(error.message)))
            return
        except Exception as error:      # never die silently on the worker
            self._finish(u"Connect failed: {0}".format(rc.text(error)))
            return
        self.queue.post(self._show, hello, status)

    def _start_and_wait(self, command):
        from revitpyiot import launcher
        from revitpyiot.transport.client import SidecarError, SidecarTimeout, SidecarUnavailable
        try:
            process = launcher.start_sidecar(tray=self.settings.start_with_tray,
                                             extra_args=sidecar_start_args(self.settings))
        except (launcher.LauncherError, OSError) as error:
            self._give_up(u"Could not start the sidecar: {0}".format(rc.text(error)))
            return
        started = time.time()
        shown = started
        while time.time() - started < self.wait_s:
            if process.poll() is not None:
                self._give_up(u"The sidecar stopped right after starting (exit code {0}): see its log in "
                             u"`{1}`.".format(process.returncode, _sidecar_data_dir(command)))
                return
            try:
                probe = self.settings.make_client(1.0)
            except SidecarError:       # no token file yet: the sidecar writes it when it starts
                time.sleep(0.25)
                continue
            try:
                _hello(self.body, probe)
                return self._probe(False)
            except (SidecarUnavailable, SidecarTimeout):
                time.sleep(0.25)
            except SidecarError:       # it answers, but refuses: the probe reports the refusal
                return self._probe(False)
            finally:
                probe.close()
            if time.time() - shown >= 2.0:
                shown = time.time()
                self._post_md(u"Waiting for the sidecar to start ({0:.0f} s)...".format(shown - started))
        self._give_up(u"Started the sidecar, but it did not answer on `{0}` within {1:.0f} s: see its log in "
                     u"`{2}`.".format(self.settings.command_endpoint, self.wait_s, _sidecar_data_dir(command)))

    def _post_md(self, text):
        self.queue.post(self.output.print_md, text)

    def _finish(self, text):
        self.queue.post(self._end, text)

    def _give_up(self, text):
        """The started sidecar did not come up: say why, and how to start it by hand."""
        self._post_md(text)
        self._finish(ui.sidecar_down_message(self.settings, u"it did not start"))

    # -- main thread
    def _end(self, text):
        self.output.print_md(text)
        self.done = True

    def _failed(self, error):
        self.output.print_md(u"Connect failed: {0}".format(rc.text(error)))
        self.done = True

    def _offer(self, command):
        if not self.forms.alert(u"The RevitPyIoT sidecar is not running. Start it now?", yes=True, no=True):
            self._end(ui.sidecar_down_message(self.settings, u"not started"))
            return
        self.output.print_md(u"Starting the sidecar...")
        self.queue.background(self._start_and_wait, command)

    def _show(self, hello, status):
        print_status(self.output, hello, status)
        self.status = status
        self.done = True


def print_status(out, hello, status):
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
    if status.get("dashboard_url"):
        rows.append([u"dashboard", status.get("dashboard_url")])
    for name, state in sorted((status.get("sources") or {}).items()):
        rows.append([u"source " + rc.text(name), state])
    out.print_table(rows, columns=[u"", u"value"])
    if status.get("state") == P.STATE_IDLE:
        out.print_md(u"No building is configured yet: click **Export Sensors**.")


def _hello_and_status(settings, body):
    # A fresh client each time: it reads the token file, which a sidecar started just now wrote.
    client = settings.make_client()
    try:
        return _hello(body, client), client.request(P.STATUS, {})
    finally:
        client.close()


def sidecar_start_args(settings):
    """Endpoints for a sidecar the extension starts: it must listen where the extension looks."""
    return ["--command-endpoint", settings.command_endpoint, "--event-endpoint", settings.event_endpoint]


def _sidecar_data_dir(command):
    """The data folder the started sidecar logs into (``logs/launcher.log``, ``sidecar.log``)."""
    return command[command.index("--data-dir") + 1]


# -- Export Sensors --------------------------------------------------------------------


def export_sensors(ctx):
    """Read the model a few elements per idle call on Revit's main thread (never holding it),
    send the ``configure`` request from a worker thread, print the result on the main thread."""
    from revitpyiot import main_thread
    out = ctx.output
    settings = ctx.settings
    queue = main_thread.MainThreadQueue(on_error=lambda error: out.print_md(
        u"**Export failed**: {0}".format(rc.text(error))))
    steps = extract.export_steps(ctx.doc, settings, active_view=ctx.uidoc.ActiveView,
                                 revit_version=ctx.revit_version())
    job = {"result": None, "reply": None}

    def read(result):
        job["result"] = result
        out.print_md(u"Read {0} elements from the model; sending them to the sidecar...".format(
            len(result.config["elements"])))
        queue.background(send, result)

    def send(result):
        from revitpyiot.transport.client import SidecarError
        try:
            client = settings.make_client(max(settings.timeout_s, 30.0))
            try:
                reply = client.request(P.CONFIGURE, result.config)
            finally:
                client.close()
        except SidecarError as error:
            queue.post(out.print_md, ui.sidecar_down_message(settings, error.message))
            return
        except Exception as error:          # never die silently on the worker
            queue.post(out.print_md, u"**Export failed**: {0}".format(rc.text(error)))
            return
        job["reply"] = reply
        queue.post(print_export, out, result, reply)

    out.print_md(u"Reading equipment and sensors from the model...")
    queue.run_in_steps(steps, read)
    return job


def print_export(out, result, reply):
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


# -- Monitoring ------------------------------------------------------------------------
def icon_path(bundle_dir, state):
    return resolve_icon(bundle_dir, ICON_STATES.get(state, "offline.png"))


def set_icon(button, path):
    if button is not None:
        button.set_icon(path, icon_size=ICON_LARGE)


def _bundle_dir(ctx):
    return os.path.dirname(ctx.script.get_script_path())


def monitoring_toggle(ctx):
    """Start or stop monitoring: the requests run on a worker thread, the answer and the icon
    come back on the main thread."""
    from revitpyiot import main_thread
    queue = main_thread.MainThreadQueue(on_error=lambda error: ctx.output.print_md(rc.text(error)))
    button = ctx.script.get_button()
    bundle_dir = _bundle_dir(ctx)
    settings = ctx.settings
    out = ctx.output

    def shown(state, text):
        out.print_md(text)
        set_icon(button, icon_path(bundle_dir, state))

    def work():
        from revitpyiot.transport.client import SidecarError
        try:
            client = settings.make_client()
            try:
                state = client.request(P.STATUS, {}).get("state")
                if state == P.STATE_IDLE:
                    queue.post(shown, state, u"Nothing to monitor yet: click **Export Sensors** first.")
                elif state == P.STATE_MONITORING:
                    new_state = client.request(P.STOP, {}).get("state")
                    queue.post(shown, new_state, u"Monitoring stopped (sidecar state: {0}).".format(new_state))
                else:
                    new_state = client.request(P.START, {}).get("state")
                    queue.post(shown, new_state, u"Monitoring started (sidecar state: {0}).".format(new_state))
            finally:
                client.close()
        except SidecarError as error:
            queue.post(shown, None, ui.sidecar_down_message(settings, error.message))
        except Exception as error:      # never die silently on the worker: say it in the output
            queue.post(shown, None, u"Monitoring: {0}".format(rc.text(error)))
    out.print_md(u"Asking the sidecar...")
    queue.background(work)
    return queue


def monitoring_selfinit(ui_button, bundle_dir):
    """Smart-button init (Revit start-up, reload): only the icon, no network, no side effect.
    The first click shows the sidecar's state."""
    set_icon(ui_button, resolve_icon(bundle_dir, "icon.png"))
    return True


# -- Live Sync -------------------------------------------------------------------------
def live_sync_toggle(ctx):
    from revitpyiot import live_revit
    from revitpyiot import notify
    session = live_revit.current_session()
    bundle_dir = _bundle_dir(ctx)
    button = ctx.script.get_button()
    if session is not None and session.running:
        session.stop(clear=False)
        if session.overlay is not None:
            live_revit.clear_overlay_later(session.overlay)
        ctx.output.print_md(u"Live sync stopped ({0} transactions on the model: overlay set-up and scheduled "
                            u"tags).".format(session.transactions))
        set_icon(button, resolve_icon(bundle_dir, "off.png"))
        return None
    view = ctx.uidoc.ActiveView if ctx.uidoc is not None else None
    if ctx.doc is None:
        ctx.output.print_md(u"Open a model first: live sync shows health in its views.")
        return None
    reason = live_overlay.refusal_reason(view)
    if reason:
        ctx.output.print_md(u"The live overlay is off for this view: " + reason)
        view = None
    dark = resolve_icon(bundle_dir, "on.png").endswith(".dark.png")
    notifier = notify.Notifier(ctx.output, button, bundle_dir, ctx.forms, dark)
    # No hello here: a sidecar that is down is reported by the session itself (once, visibly).
    session = live_revit.RevitLiveSession(ctx.host.uiapp, ctx.doc, view, ctx.client(), ctx.settings,
                                          _data_dir(), notifier=notifier)
    session.start()
    set_icon(button, resolve_icon(bundle_dir, "on.png"))
    what = []
    if session.overlay is not None:
        what.append(u"health markers in '{0}' ({1})".format(rc.text(view.Name), session.overlay.backend))
    if session.heat is not None:
        what.append(u"a {0} heat map of its rooms and spaces".format(session.heat.quantity))
    ctx.output.print_md(u"Live sync started: {0}. Nothing is written to the model while it runs{1}.".format(
        u" and ".join(what) or u"alerts and health in the background",
        u", except health tags every {0:g} min".format(session.tags.interval_s / 60.0) if session.tags.interval_s
        else u""))
    if session.overlay is not None:
        ctx.output.print_html(overlay.legend_html(ctx.settings))
    if session.heat is not None:
        ctx.output.print_html(live_overlay.heat_legend_html(session.heat.quantity, {}))
    return session


def live_sync_selfinit(ui_button, bundle_dir):
    """Smart-button init: the icon of the session that is running (a reload keeps it), no side effect."""
    from revitpyiot import session_store as store
    session = store.get("RevitPyIoT.LiveSync")
    running = session is not None and session.running
    set_icon(ui_button, resolve_icon(bundle_dir, "on.png" if running else "off.png"))
    return True


# -- Colour by Health / Live View / Clear Colours -------------------------------------
SNAPSHOT_PROGRESS = u"Asking the sidecar for the current health..."


def _snapshot_then(ctx, what, apply):
    """The ``snapshot`` request on a worker thread, ``apply(snapshot)`` on the main thread."""
    return SidecarJob(ctx, what).request(_requesting(ctx.settings, P.SNAPSHOT), apply, SNAPSHOT_PROGRESS)


def is_live_view(view):
    return view is not None and not view.IsTemplate and rc.text(view.Name) == LIVE_VIEW_NAME \
        and not overlay.has_template(view)


def _overlays():
    found = session_store.get(OVERLAY_KEY)
    if found is None:
        found = {}
        session_store.put(OVERLAY_KEY, found)
    return found


def view_overlay(ctx, view):
    """The transient overlay of ``view``: live sync's when it runs there, else one kept per view."""
    from revitpyiot import live_revit
    session = live_revit.current_session()
    if session is not None and session.running and session.overlay is not None and session.view_id == view.Id:
        return session.overlay
    key = (rc.text(ctx.doc.Title), rc.element_id_value(view.Id))
    found = _overlays().get(key)
    if found is None or not found.doc.IsValidObject:
        found = live_overlay.LiveOverlay(ctx.doc, view, ctx.settings, _data_dir()).setup()
        _overlays()[key] = found
    return found


def colour_by_health(ctx):
    """Colour the active view by health. In the "RevitPyIoT Live" view with element overrides
    (printable; one transaction), everywhere else with the transient overlay (no change to the
    model, the view or its template). The snapshot is asked on a worker thread; the colours
    are drawn on the main thread when it arrives (returns the ``SidecarJob``)."""
    view = ctx.uidoc.ActiveView
    out = ctx.output
    if is_live_view(view) or (overlay.has_template(view) and ctx.settings.template_mode ==
                              settings_mod.TEMPLATE_MODE_FILTERS and not view.IsTemplate):
        return _snapshot_then(ctx, u"Colour by Health", lambda snapshot: _colour_with_overrides(
            ctx, view, snapshot.get("health") or []) if _still_open(ctx, view) else None)
    reason = live_overlay.refusal_reason(view)
    if reason:
        out.print_md(u"**Cannot colour this view.** " + reason)
        return None
    return _snapshot_then(ctx, u"Colour by Health", lambda snapshot: _colour_transient(
        ctx, view, snapshot.get("health") or []) if _still_open(ctx, view) else None)


def _still_open(ctx, view):
    """The document and view of the click are still there when the reply arrives."""
    try:
        if ctx.doc is not None and ctx.doc.IsValidObject and (view is None or view.IsValidObject):
            return True
    except Exception:
        pass
    ctx.output.print_md(u"The model or the view was closed before the sidecar answered: nothing drawn or written.")
    return False


def _colour_transient(ctx, view, records):
    out = ctx.output
    shown = view_overlay(ctx, view)
    shown.show_records(records)
    out.print_md(u"## Health in '{0}'".format(rc.text(view.Name)))
    out.print_md(u"Shown as a transient overlay ({0}): nothing in the model, the view or its template changes, "
                 u"and nothing is saved. For a printable copy click **Live View**.".format(shown.backend))
    out.print_html(overlay.legend_html(ctx.settings, shown.counts()))
    if shown.linked:
        out.print_md(u"{0} elements are in linked models: they are marked in their own model."
                     .format(len(shown.linked)))
    if shown.missing:
        out.print_md(u"{0} exported elements are no longer in the model: run Export Sensors again."
                     .format(len(shown.missing)))
    return shown


def _colour_with_overrides(ctx, view, records):
    result = overlay.colour_view(ctx.doc, view, records, ctx.settings)
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


TXN_LIVE_VIEW = u"RevitPyIoT: live view"


def find_live_view(doc):
    DB = rc._db()
    for view in DB.FilteredElementCollector(doc).OfClass(DB.View):
        if is_live_view(view):
            return view
    return None


def live_view(ctx):
    """Build (or refresh) the dedicated "RevitPyIoT Live" view: a duplicate of the active view
    without its template, coloured with element overrides, for printing and screenshots. One
    named transaction; the user's view and its template stay as they are."""
    DB = rc._db()
    source = ctx.uidoc.ActiveView
    existing = find_live_view(ctx.doc)
    if existing is None:
        if source is None or not source.CanViewBeDuplicated(DB.ViewDuplicateOption.Duplicate):
            ctx.output.print_md(u"**This view cannot be duplicated**: open a plan, section, elevation or 3D view.")
            return None
    return _snapshot_then(ctx, LIVE_VIEW_NAME, lambda snapshot: _make_live_view(ctx, source, existing, snapshot)
                          if _still_open(ctx, None) else None)


def _make_live_view(ctx, source, existing, snapshot):
    """Main thread, with the snapshot: the one named transaction of Live View."""
    DB = rc._db()
    if existing is not None and not existing.IsValidObject:
        existing = None
    with rc.transaction(ctx.doc, TXN_LIVE_VIEW):
        view = existing
        if view is None:
            view = ctx.doc.GetElement(source.Duplicate(DB.ViewDuplicateOption.Duplicate))
            view.ViewTemplateId = rc.invalid_element_id()
            view.Name = LIVE_VIEW_NAME
        result = overlay.colour_view(ctx.doc, view, snapshot.get("health") or [], ctx.settings)
    ctx.uidoc.ActiveView = view
    out = ctx.output
    out.print_md(u"## {0}".format(LIVE_VIEW_NAME))
    out.print_md(u"{0} '{1}' (a copy of '{2}' without its view template) with element colours for printing; "
                 u"your views and templates are unchanged. **Clear Colours** removes the colours, **Live View** "
                 u"refreshes them.".format(u"Refreshed" if existing is not None else u"Created", LIVE_VIEW_NAME,
                                          rc.text(source.Name) if source is not None else u"?"))
    counts = dict((status, len(ids)) for status, ids in result.coloured.items())
    out.print_html(overlay.legend_html(ctx.settings, counts))
    return view


def clear_colours(ctx):
    """Remove everything RevitPyIoT drew: the transient overlays and heat maps (no transaction)
    and the element colours of the "RevitPyIoT Live" view (one transaction when there are any)."""
    from revitpyiot import live_revit
    cleared = 0
    session = live_revit.current_session()
    if session is not None and session.overlay is not None:
        session.overlay.clear()
        cleared += 1
    for key, shown in list(_overlays().items()):
        if shown.doc.IsValidObject:
            shown.clear()
            cleared += 1
        del _overlays()[key]
    reset = 0
    view = ctx.uidoc.ActiveView if ctx.uidoc is not None else None
    live = find_live_view(ctx.doc) if ctx.doc is not None else None
    if live is not None:
        reset += overlay.clear_view(ctx.doc, live, ctx.settings)
    if view is not None and not is_live_view(view) and overlay.refusal_reason(view) is None and \
            ctx.settings.template_mode == settings_mod.TEMPLATE_MODE_FILTERS:
        reset += overlay.clear_view(ctx.doc, view, ctx.settings)    # colours of the opt-in filters mode
    ctx.output.print_md(u"Removed the live overlay from {0} view(s) and the colours of {1} elements{2}.".format(
        cleared, reset, u" in '{0}'".format(LIVE_VIEW_NAME) if live is not None else u""))
    return reset


REPLAY_KEY = "RevitPyIoT.Replay"


def replay(ctx):
    """Open the modeless Replay window for the active view: step back through the stored
    history (heat map and sensor markers), then back to live. Nothing is written to the model."""
    from revitpyiot import heat_feed
    from revitpyiot import live_revit
    from revitpyiot import main_thread
    from revitpyiot import replay as replay_mod
    view = ctx.uidoc.ActiveView if ctx.uidoc is not None else None
    reason = live_overlay.refusal_reason(view)
    if reason:
        ctx.output.print_md(u"**Replay needs a plan, section, elevation or 3D view.** " + reason)
        return None
    shown = view_overlay(ctx, view)
    session = live_revit.current_session()
    if session is None or not session.running or session.overlay is not shown:
        session = None
    client = ctx.client()
    queue = main_thread.MainThreadQueue(on_error=lambda error: ctx.output.print_md(
        u"Replay: {0}".format(rc.text(error))))
    quantity = ctx.settings.heatmap_quantity
    heat = None
    if quantity in live_overlay.HEAT_QUANTITIES:
        if shown.heat is None:
            shown.setup(quantity)             # the heat-map style, once per document
        heat = session.heat if session is not None and session.heat is not None else None
        if heat is None:
            heat = heat_feed.HeatFeed(ctx.doc, client, quantity)
            heat.collect()

            def lay_out():                    # a few elements per main-thread call
                heat._layout_step(time.time() + 0.04)
                if not heat.laid_out:
                    queue.post(lay_out)
            queue.post(lay_out)
    controller = replay_mod.ReplayController(ctx.doc, shown, heat, client, queue, session=session)
    controller.collect_sensors()
    session_store.put(REPLAY_KEY, controller)
    try:
        window = replay_mod.make_window(controller)
        window.show(modal=False)
        controller.window = window
    except Exception as error:               # no WPF (headless): the controller still works
        ctx.output.print_md(u"The replay window could not open: {0}".format(rc.text(error)))
    ctx.output.print_md(u"## Replay of '{0}'".format(rc.text(view.Name)))
    ctx.output.print_md(u"Step back with the buttons or the slider (up to 24 h); **Back to live** returns. "
                        u"Heat map: {0}; sensor markers: their reading against their limits.".format(
                            quantity or u"off"))
    return controller


# -- Write Health Tags -----------------------------------------------------------------
def _tag_categories(settings):
    return list(settings.equipment_categories) + list(settings.sensor_categories)


def _data_dir():
    from revitpyiot.protocol import default_data_dir
    return default_data_dir()


def write_health_tags(ctx):
    """On demand: one named transaction, only the values that changed; in a workshared model
    nothing is borrowed (elements you do not own are skipped and listed). The snapshot comes on
    a worker thread; the transaction runs on the main thread when it has arrived."""
    return _snapshot_then(ctx, u"Write Health Tags", lambda snapshot: _write_tags(ctx, snapshot)
                          if _still_open(ctx, None) else None)


def _write_tags(ctx, snapshot):
    result = tags.TagResult()
    with rc.transaction(ctx.doc, tags.TXN_WRITE):
        tags.ensure_parameters(ctx.doc, _tag_categories(ctx.settings), _data_dir(), result)
        tags.write_tags(ctx.doc, snapshot.get("health") or [], snapshot.get("alerts") or [], result,
                        only_changed=True)
    out = ctx.output
    out.print_md(u"## Health tags")
    if result.created:
        out.print_md(u"Created shared parameters: " + u", ".join(result.created))
    out.print_md(u"Wrote health tags on {0} elements (only changed values); skipped {1}.".format(
        len(result.written), len(result.skipped)))
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
    acknowledge it, shelve it for a chosen time or unshelve it (with the Revit user's name).
    Every request runs on a worker thread; the tables, the forms (modal), the selection and
    the answers come on the main thread between them."""
    job = SidecarJob(ctx, u"Alerts")
    return job.request(_requesting(ctx.settings, P.SNAPSHOT), lambda snapshot: _pick_alert(ctx, job, snapshot),
                       u"Asking the sidecar for the standing alerts...")


def _pick_alert(ctx, job, snapshot):
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
    if ctx.uidoc is None or not alerts_view.show_element(ctx.uidoc, alert):
        out.print_md(u"The element of this alert is in a linked model or was deleted: it cannot be "
                     u"selected here.")
    action = ctx.forms.CommandSwitchWindow.show(alerts_view.actions_for(alert, now),
                                                message=rc.text(alert.get("message", u"")))
    if action == alerts_view.ACTION_ACK:
        return _acknowledge(ctx, job, alert)
    if action == alerts_view.ACTION_SHELVE:
        return _shelve(ctx, job, alert)
    if action == alerts_view.ACTION_UNSHELVE:
        user = _user_name(ctx)

        def unshelved(reply):
            out.print_md(u"Unshelved by {0}: {1}".format(user, rc.text(reply.get("message", u""))))
            return reply
        job.request(_with_client(ctx.settings, alerts_view.unshelve, alert, user), unshelved)
        return alert
    return alert


def _with_client(settings, function, *args):
    """A worker-thread function: ``function(client, *args)`` on a fresh client."""
    def work():
        client = settings.make_client()
        try:
            return function(client, *args)
        finally:
            client.close()
    return work


def _acknowledge(ctx, job, alert):
    user = _user_name(ctx)

    def acknowledged(acked):
        ctx.output.print_md(u"Acknowledged by {0}: {1}".format(user, rc.text(acked.get("message", u""))))
        return acked
    job.request(_with_client(ctx.settings, alerts_view.acknowledge, alert, user), acknowledged)
    return alert


def _shelve(ctx, job, alert):
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

    def shelved_(shelved):
        ctx.output.print_md(u"Shelved by {0} until {1}: {2}. It stays listed under *Shelved alerts* and is not "
                            u"counted as active until then.".format(
                                user, rc.utc_text(shelved.get("shelved_until") or 0.0),
                                rc.text(shelved.get("message", u""))))
        return shelved
    job.request(_with_client(ctx.settings, alerts_view.shelve, alert, user, duration_s, reason.strip() or None),
                shelved_)
    return alert


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
    ("template_mode", u"Views with a template: message (never changed) or filters (adds filters to the template)"),
    ("tag_interval_min", u"Live sync writes changed health tags every ... minutes (0: never)"),
    ("heatmap_quantity", u"Room heat map quantity: temperature, co2, humidity (empty: none)"),
    ("live_colour_view", u"Live sync shows the health overlay in the view (true/false)"),
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


def dashboard_url(settings, status, unique_id=None):
    """The sidecar's own dashboard address (``status.dashboard_url``; Settings' URL only when
    the sidecar does not say), with the element's page when one is given."""
    url = (status or {}).get("dashboard_url") or settings.dashboard_url
    if unique_id:
        url = url.split("#")[0].rstrip("/") + u"/#/element/" + unique_id
    return url


def _selected_unique_id(ctx):
    if ctx.uidoc is None:
        return None
    for element_id in ctx.uidoc.Selection.GetElementIds():
        element = ctx.doc.GetElement(element_id)
        if element is not None:
            return rc.text(element.UniqueId)
    return None


def open_dashboard(ctx):
    """Open the sidecar's dashboard (the selected element's page when one is selected). The
    ``status`` request runs on a worker thread; the browser opens from the main thread."""
    unique_id = _selected_unique_id(ctx)          # the Revit API: read here, on the main thread
    settings = ctx.settings
    out = ctx.output
    box = {"url": None}
    job = SidecarJob(ctx, u"Open Dashboard")

    def work():
        from revitpyiot.transport.client import SidecarError
        try:
            return _requesting(settings, P.STATUS, timeout_s=0.5)(), None
        except SidecarError as error:
            return None, error

    def opened(reply):
        status, error = reply
        if error is not None:
            out.print_md(u"The sidecar does not answer ({0}): opening the dashboard URL from Settings."
                         .format(rc.text(error.message)))
        box["url"] = dashboard_url(settings, status, unique_id)
        ctx.script.open_url(box["url"])
        return box["url"]
    return job.request(work, opened)
