# ruff: noqa: N999 - the fake mirrors the .NET namespace names
"""Fake ``System.Collections.Generic``: ``List[T]()`` and ``List[T](iterable)``."""


class _TypedList(list):
    item_type = object

    def Add(self, item):
        self.append(item)

    def AddRange(self, items):
        self.extend(items)

    def Contains(self, item):
        return item in self

    def Remove(self, item):
        if item in self:
            self.remove(item)
            return True
        return False

    def Clear(self):
        del self[:]

    @property
    def Count(self):
        return len(self)


class _ListFactory:
    def __getitem__(self, item_type):
        return type("List[{}]".format(getattr(item_type, "__name__", item_type)), (_TypedList,),
                    {"item_type": item_type})

    def __call__(self, items=()):
        return _TypedList(items)


List = _ListFactory()
ICollection = _TypedList
IList = _TypedList
