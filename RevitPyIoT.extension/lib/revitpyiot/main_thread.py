# -*- coding: utf-8 -*-
"""Work that must not hold Revit's UI thread: a worker thread does the slow part (network,
starting a process, waiting) and hands each result to a function that runs on Revit's main
thread through an ExternalEvent, a few per call (``MAX_PER_CALL``), the rest in the next raise.

Create the ``MainThreadQueue`` in API context (a button click); ``post`` from any thread.
"""
from __future__ import absolute_import

import threading
import time
import weakref
from collections import deque

from Autodesk.Revit import UI

MAX_PER_CALL = 5
BUDGET_S = 0.02              # stop taking items after this much of Revit's UI thread
STEP_BUDGET_S = 0.025        # main-thread time per step of a long model read (the rest of 100 ms is headroom)
_QUEUES = weakref.WeakSet()     # for hosts that wait until the background work of a click is done


class _Handler(UI.IExternalEventHandler):
    def __init__(self, queue):
        self.queue = queue

    def Execute(self, uiapp):
        self.queue.run_some()

    def GetName(self):
        return "RevitPyIoT background results"


class MainThreadQueue(object):
    def __init__(self, on_error=None):
        self._items = deque()
        self._lock = threading.Lock()
        self.on_error = on_error
        self.event = UI.ExternalEvent.Create(_Handler(self))
        self.errors = []
        self._workers = []
        _QUEUES.add(self)

    def background(self, target, *args):
        """Run ``target(*args)`` on a worker thread that belongs to this queue."""
        thread = in_background(target, *args)
        with self._lock:
            self._workers = [w for w in self._workers if w.is_alive()] + [thread]
        return thread

    def busy(self):
        """True while a worker runs or a result waits for the main thread."""
        with self._lock:
            return bool(self._items) or any(w.is_alive() for w in self._workers)

    def post(self, function, *args):
        """Run ``function(*args)`` on the main thread soon (callable from any thread)."""
        with self._lock:
            self._items.append((function, args))
        self.event.Raise()

    def run_in_steps(self, steps, done, budget_s=STEP_BUDGET_S):
        """Advance the generator ``steps`` on the main thread, ``budget_s`` of it per call (it
        yields None while it has more to do, then its result), and hand the result to
        ``done(result)`` there: long model reads never hold Revit's UI thread."""
        def step():
            deadline = time.time() + budget_s
            for item in steps:
                if item is not None:
                    done(item)
                    return
                if time.time() >= deadline:
                    self.post(step)          # continue in the next call
                    return
        self.post(step)

    def run_some(self):
        """Run what was queued before this call: at most ``MAX_PER_CALL`` items and not past
        ``BUDGET_S`` (an item that queues its own continuation runs it in the next call)."""
        started = time.time()
        with self._lock:
            waiting = len(self._items)
        for _ in range(min(waiting, MAX_PER_CALL)):
            if time.time() - started > BUDGET_S:
                break
            with self._lock:
                if not self._items:
                    return
                function, args = self._items.popleft()
            try:
                function(*args)
            except Exception as error:   # never into Revit's idle loop
                self.errors.append(error)
                if self.on_error is not None:
                    self.on_error(error)
        with self._lock:
            left = bool(self._items)
        if left:
            self.event.Raise()

    def pending(self):
        with self._lock:
            return len(self._items)


def in_background(target, *args):
    """Start ``target(*args)`` on a daemon thread (returns the thread)."""
    thread = threading.Thread(target=target, args=args, name="RevitPyIoT worker")
    thread.daemon = True
    thread.start()
    return thread


def any_busy():
    return any(queue.busy() for queue in list(_QUEUES))
