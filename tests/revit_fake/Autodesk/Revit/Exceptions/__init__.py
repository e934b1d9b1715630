# ruff: noqa: N999 - the fake mirrors the .NET namespace names
"""Autodesk.Revit.Exceptions (the subset the fake raises)."""


class ApplicationException(Exception):
    pass


class InvalidOperationException(ApplicationException):
    pass


class ArgumentException(ApplicationException):
    pass


class ArgumentNullException(ArgumentException):
    pass


class ModificationOutsideTransactionException(InvalidOperationException):
    pass


class ModificationForbiddenException(InvalidOperationException):
    pass
