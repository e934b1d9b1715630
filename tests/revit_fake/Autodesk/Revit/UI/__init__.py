# ruff: noqa: N999 - the fake mirrors the .NET namespace names
"""Fake Autodesk.Revit.UI: UIApplication, UIDocument, ExternalEvent."""
import gc
import threading
import time

from Autodesk.Revit.DB import ElementId, _api, _enum
from Autodesk.Revit.Exceptions import InvalidOperationException


class _CollectorTime:
    """Seconds CPython's cyclic garbage collector ran, per thread. The handlers' CPU time excludes
    it: a full collection of a long test process's heap is the test runner's cost, not the
    handler's own work (in Revit, .NET's background collector runs on threads of its own)."""

    def __init__(self):
        self._seconds = {}
        self._started = {}

    def __call__(self, phase, info):
        thread = threading.get_ident()
        if phase == "start":
            self._started[thread] = time.perf_counter()
        elif thread in self._started:
            self._seconds[thread] = self._seconds.get(thread, 0.0) + time.perf_counter() - self._started.pop(thread)

    def seconds_on_this_thread(self):
        return self._seconds.get(threading.get_ident(), 0.0)


# The fake is imported afresh for each test: this tracker replaces the one an earlier import installed.
gc.callbacks[:] = [callback for callback in gc.callbacks if type(callback).__name__ != "_CollectorTime"]
_GC = _CollectorTime()
gc.callbacks.append(_GC)

ExternalEventRequest = _enum("ExternalEventRequest", {"Accepted": 0, "Pending": 1, "Denied": 2,
                                                      "TimedOut": 3})


class IExternalEventHandler:
    def Execute(self, app):
        raise NotImplementedError

    def GetName(self):
        raise NotImplementedError


class ExternalEvent:
    _host = {"uiapp": None}  # noqa: RUF012 - the fake host sets it

    def __init__(self, handler, uiapp):
        self._handler = handler
        self._uiapp = uiapp
        self._pending = False
        self._disposed = False

    @staticmethod
    def Create(handler):
        _api()
        uiapp = ExternalEvent._host["uiapp"]
        if uiapp is None or not uiapp._in_api_context:
            raise InvalidOperationException("ExternalEvent.Create must be called in API context.")
        event = ExternalEvent(handler, uiapp)
        return event

    def Raise(self):
        # Callable from any thread: Revit queues the request for its next idle moment.
        if self._disposed:
            return ExternalEventRequest.Denied
        with self._uiapp._lock:
            if self._pending:
                return ExternalEventRequest.Pending
            self._pending = True
            self._uiapp._raised.append(self)
            self._uiapp._raise_count += 1
            self._uiapp._wakeup.set()
        return ExternalEventRequest.Accepted

    @property
    def IsPending(self):
        return self._pending

    def Dispose(self):
        self._disposed = True


class Selection:
    def __init__(self):
        self._ids = []

    def SetElementIds(self, elementIds):
        _api()
        self._ids = list(elementIds)

    def GetElementIds(self):
        return list(self._ids)


class UIDocument:
    def __init__(self, document):
        self.Document = document
        self.Selection = Selection()
        self._shown = []

    @property
    def ActiveView(self):
        return self.Document.ActiveView

    @ActiveView.setter
    def ActiveView(self, view):
        self.Document.ActiveView = view

    def ShowElements(self, elementIds):
        _api()
        ids = [elementIds] if isinstance(elementIds, ElementId) else list(elementIds)
        self._shown.append(ids)


class UIApplication:
    def __init__(self, application):
        self.Application = application
        self.ActiveUIDocument = None
        self._lock = threading.Lock()
        self._raised = []
        self._raise_count = 0
        self._wakeup = threading.Event()
        self._in_api_context = False

    def _run_external_events(self, durations=None, cpu_durations=None):
        """Revit's idle loop (test helper): run every raised handler on this (main) thread;
        each handler's duration (ms, how long it held the UI thread) goes to ``durations``,
        the CPU time this thread spent in it (the handler's own work, whatever else the
        machine runs meanwhile) to ``cpu_durations``."""
        _api()
        with self._lock:
            raised, self._raised = self._raised, []
            self._wakeup.clear()
        for event in raised:
            event._pending = False
            if event._disposed:
                continue
            self._in_api_context = True
            started, cpu, collected = time.perf_counter(), time.thread_time(), _GC.seconds_on_this_thread()
            try:
                event._handler.Execute(self)
            finally:
                self._in_api_context = False
                if durations is not None:
                    durations.append((time.perf_counter() - started) * 1000.0)
                if cpu_durations is not None:
                    own = time.thread_time() - cpu - (_GC.seconds_on_this_thread() - collected)
                    cpu_durations.append(max(0.0, own) * 1000.0)
        return len(raised)
