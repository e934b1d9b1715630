"""Extension tests run against the fake Revit API in tests/revit_fake.

The fake is put first on sys.path only for the duration of a test that asks for it (the
``fake_revit`` fixture), and every module it (or the extension code importing it) loaded is
removed again afterwards, so other test folders keep importing the real packages.
"""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
FAKE = os.path.join(os.path.dirname(HERE), "revit_fake")
FAKE_TOP = ("Autodesk", "System", "clr", "pyrevit", "fake_host")
# Extension modules that bind Revit/pyRevit names at import time.
REVIT_BOUND = ("revitpyiot.live_revit", "revitpyiot.main_thread")


def _is_fake(name):
    return name.split(".")[0] in FAKE_TOP or name in REVIT_BOUND


def _forget(name):
    """Drop a module from sys.modules and from its parent package's attributes (``from pkg
    import mod`` would otherwise hand back the stale one)."""
    sys.modules.pop(name, None)
    parent, _, child = name.rpartition(".")
    if parent and parent in sys.modules and getattr(sys.modules[parent], child, None) is not None:
        try:
            delattr(sys.modules[parent], child)
        except AttributeError:
            pass


@pytest.fixture
def fake_paths():
    saved_path = list(sys.path)
    saved = {name: module for name, module in sys.modules.items() if _is_fake(name)}
    for name in saved:
        _forget(name)
    sys.path.insert(0, FAKE)
    try:
        yield FAKE
    finally:
        for name in [n for n in sys.modules if _is_fake(n)]:
            _forget(name)
        sys.modules.update(saved)
        sys.path[:] = saved_path


@pytest.fixture
def fake_revit(fake_paths, tmp_path, monkeypatch):
    """A FakeRevit host (main thread = the test's thread) with a private data dir."""
    monkeypatch.setenv("REVITPYIOT_DATA_DIR", str(tmp_path / "data"))
    import fake_host
    host = fake_host.FakeRevit()
    yield host
    from revitpyiot import live_revit
    session = live_revit.current_session()
    if session is not None:
        session.stop()
