"""Fake ``clr``: references resolve to the fake modules already on sys.path."""


def AddReference(name):
    return None


def AddReferenceByName(name):
    return None


def AddReferenceToFileAndPath(path):
    return None
