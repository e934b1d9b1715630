# -*- coding: utf-8 -*-
"""Objects that must outlive one pyRevit button click (the live-sync session).

In Revit the AppDomain's data slots survive script scopes; under CPython (tests, the
headless demo) a module dictionary does the same job.
"""
from __future__ import absolute_import

_LOCAL = {}


def _domain():
    try:
        from System import AppDomain
        return AppDomain.CurrentDomain
    except ImportError:
        return None


def get(key):
    domain = _domain()
    if domain is not None:
        return domain.GetData(key)
    return _LOCAL.get(key)


def put(key, value):
    domain = _domain()
    if domain is not None:
        domain.SetData(key, value)
    else:
        _LOCAL[key] = value
