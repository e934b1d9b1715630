# ruff: noqa: N999 - the fake mirrors the .NET namespace names
"""Fake ``System``: the few .NET types the extension touches."""
import threading
import uuid


class Int64(int):
    def __new__(cls, value=0):
        return int.__new__(cls, int(value))


class Guid:
    def __init__(self, text=None):
        self._value = uuid.UUID(str(text)) if text else uuid.UUID(int=0)

    @staticmethod
    def NewGuid():
        return Guid(str(uuid.uuid4()))

    def ToString(self):
        return str(self._value)

    def __str__(self):
        return str(self._value)

    def __eq__(self, other):
        return isinstance(other, Guid) and other._value == self._value

    def __hash__(self):
        return hash(self._value)


class _AppDomain:
    def __init__(self):
        self._data = {}
        self._lock = threading.Lock()

    def GetData(self, name):
        with self._lock:
            return self._data.get(name)

    def SetData(self, name, data):
        with self._lock:
            self._data[name] = data


class AppDomain:
    CurrentDomain = _AppDomain()


class Exception(Exception):
    pass
