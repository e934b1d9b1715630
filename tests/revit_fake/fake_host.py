"""The test's stand-in for Revit + pyRevit: builds documents, runs buttons, pumps ExternalEvents.

Not Revit API: tests import it by this name to drive the fake.
"""
import os
import runpy
import threading
import time

import pyrevit
from Autodesk.Revit import DB
from Autodesk.Revit.ApplicationServices import Application
from Autodesk.Revit.UI import ExternalEvent, UIApplication, UIDocument
from pyrevit import forms as _forms
from pyrevit import output as _output
from pyrevit import script as _script

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXTENSION = os.path.join(ROOT, "RevitPyIoT.extension")


def find_bundle(name):
    """The folder of the button called ``name`` (e.g. 'Export Sensors')."""
    for dirpath, dirnames, _ in os.walk(os.path.join(EXTENSION, "RevitPyIoT.tab")):
        for dirname in dirnames:
            stem, _, kind = dirname.rpartition(".")
            if stem == name and kind in ("pushbutton", "smartbutton"):
                return os.path.join(dirpath, dirname)
    raise LookupError("no button named " + name)


class _Component:
    def __init__(self, directory):
        self.directory = directory


class FakeRevit:
    def __init__(self, version=2025, username="revit.user"):
        DB._STATE["main_thread"] = threading.current_thread()
        DB._STATE["version"] = version
        self.app = Application(username, str(version))
        self.uiapp = UIApplication(self.app)
        ExternalEvent._host["uiapp"] = self.uiapp
        pyrevit.HOST_APP.uiapp = self.uiapp
        _script._STATE.update({"config": {}, "saved": {}, "buttons": {}, "urls": []})
        del _forms._ANSWERS[:]
        del _forms._SHOWN[:]
        del _forms._TOASTS[:]
        del _forms._WINDOWS[:]
        self.outputs = []
        self.handler_ms = []        # how long each ExternalEvent handler held the UI thread (wall clock)
        self.handler_cpu_ms = []    # the UI thread's CPU time in each handler (its own work)
        from pyrevit.revit import ui as _ui
        _ui._THEME["dark"] = False

    # -- documents
    def new_document(self, title, workshared=False, linked=False, path_name=""):
        doc = DB.Document(self.app, title, path_name, workshared, linked)
        # The solid pattern is found by IsSolidFill, so its (localized) name must not matter.
        DB.FillPatternElement(doc, "<Volltonfüllung>", True)
        DB.FillPatternElement(doc, "Diagonal crosshatch", False)
        for name in ("Existing", "New Construction"):
            phase = DB.Phase(doc, name)
            doc.Phases._items.append(phase)
        return doc

    def open(self, doc, view=None):
        uidoc = UIDocument(doc)
        if view is not None:
            doc.ActiveView = view
        self.uiapp.ActiveUIDocument = uidoc
        return uidoc

    @property
    def doc(self):
        return self.uiapp.ActiveUIDocument.Document

    # -- buttons
    def config(self, values):
        from revitpyiot import settings
        section = _script.get_config(settings.CONFIG_SECTION)
        for key, value in values.items():
            section.set_option(key, value)

    def run_button(self, name, settle=True):
        """Click a button: run its script.py as pyRevit would (``__name__ == '__main__'``,
        ``EXEC_PARAMS.executed_from_ui``). ``out.block_ms`` is how long the click held the UI
        thread (``out.block_cpu_ms``: its CPU time, the click's own work). With ``settle`` Revit then idles until the click's background work (worker
        threads, results for the main thread) is done, as a user waiting would see it."""
        bundle = find_bundle(name)
        pyrevit.EXEC_PARAMS.command_path = bundle
        pyrevit.EXEC_PARAMS.command_name = name
        pyrevit.EXEC_PARAMS.script_file = os.path.join(bundle, "script.py")
        out = _output.PyRevitOutputWindow()
        _output._CURRENT["output"] = out
        self.outputs.append(out)
        self.uiapp._in_api_context = True
        pyrevit.EXEC_PARAMS.executed_from_ui = True
        from Autodesk.Revit.UI import _GC
        started, cpu, collected = time.perf_counter(), time.thread_time(), _GC.seconds_on_this_thread()
        try:
            result = runpy.run_path(os.path.join(bundle, "script.py"), run_name="__main__")
        finally:
            self.uiapp._in_api_context = False
            pyrevit.EXEC_PARAMS.executed_from_ui = False
        out.block_ms = (time.perf_counter() - started) * 1000.0
        # the click's own work: CPython's garbage collector of the test process is not part of it
        out.block_cpu_ms = max(0.0, time.thread_time() - cpu - (_GC.seconds_on_this_thread() - collected)) * 1000.0
        out.result = result
        if settle:
            self.settle()
        return out

    def settle(self, timeout_s=60.0):
        """Idle until no extension background job is running or waiting (test helper)."""
        import sys
        jobs = sys.modules.get("revitpyiot.main_thread")
        if jobs is not None:
            self.pump_until(lambda: not jobs.any_busy(), timeout_s)

    def selfinit(self, name):
        """pyRevit's start-up of a smart button, as its C# loader does it: the whole script is
        executed as ``__main__`` (not a click: ``executed_from_ui`` is False), then its
        ``__selfinit__`` is called. Returns the button."""
        bundle = find_bundle(name)
        pyrevit.EXEC_PARAMS.executed_from_ui = False
        out = _output.PyRevitOutputWindow()
        _output._CURRENT["output"] = out
        namespace = runpy.run_path(os.path.join(bundle, "script.py"), run_name="__main__")
        button = _script._Button()
        ok = namespace["__selfinit__"](_Component(bundle), button, self.uiapp)
        button.selfinit_result = ok
        button.output = out
        return button

    def dark_theme(self, on=True):
        from pyrevit.revit import ui
        ui._THEME["dark"] = bool(on)

    def button(self, name):
        return _script._STATE["buttons"].get(find_bundle(name))

    def answer(self, *answers):
        _forms._ANSWERS.extend(answers)

    # -- Revit's idle loop
    def idle(self):
        return self.uiapp._run_external_events(self.handler_ms, self.handler_cpu_ms)

    def pump_until(self, predicate, timeout_s=20.0):
        """Run raised ExternalEvents on this (main) thread until ``predicate()`` holds."""
        deadline = time.monotonic() + timeout_s
        while True:
            self.idle()
            if predicate():
                return True
            if time.monotonic() > deadline:
                raise AssertionError(f"condition not reached in {timeout_s} s")
            self.uiapp._wakeup.wait(0.05)
