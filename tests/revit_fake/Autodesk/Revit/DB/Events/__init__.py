# ruff: noqa: N999 - the fake mirrors the .NET namespace names
"""Fake Autodesk.Revit.DB.Events."""


class RevitAPIEventArgs:
    pass


class DocumentClosingEventArgs(RevitAPIEventArgs):
    def __init__(self, document):
        self.Document = document
