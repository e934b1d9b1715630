# -*- coding: utf-8 -*-
"""RevitPyIoT: the Revit side of live building monitoring.

Everything here runs in pyRevit's IronPython 2.7 engine and under CPython 3
(tests, the headless demo client): no f-strings, no type hints, no C extensions.
"""
import os
import sys


def _project_root():
    # lib/revitpyiot/__init__.py -> lib -> RevitPyIoT.extension -> folder holding shared_schemas
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.dirname(os.path.dirname(os.path.dirname(here)))


def _ensure_shared_schemas():
    """Make ``shared_schemas`` importable.

    The extension folder always ships next to ``shared_schemas/`` (in the
    repository, the release zip and the installed copy), so the contract both
    sides obey is imported, never copied.
    """
    try:
        import shared_schemas.protocol  # noqa: F401
        return
    except ImportError:
        pass
    root = _project_root()
    if os.path.isdir(os.path.join(root, "shared_schemas")) and root not in sys.path:
        sys.path.append(root)


_ensure_shared_schemas()

__version__ = __import__("shared_schemas.protocol", fromlist=["__version__"]).__version__
