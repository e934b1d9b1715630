"""Fake ``pyrevit.forms``: answers come from a queue the test fills (``_ANSWERS``).

An answer may be a value or a callable receiving what the dialog showed (its options).
A dialog without a queued answer fails the test: no silent defaults.
"""
_ANSWERS = []
_SHOWN = []
_TOASTS = []


def _answer(kind, shown):
    _SHOWN.append((kind, shown))
    if not _ANSWERS:
        raise AssertionError(f"the extension opened a '{kind}' dialog the test did not expect: {shown!r}"
                             )
    answer = _ANSWERS.pop(0)
    return answer(shown) if callable(answer) else answer


def alert(msg, title=None, sub_msg=None, expanded=None, footer="", ok=True, cancel=False, yes=False, no=False,
          retry=False, warn_icon=True, options=None, exitscript=False):
    return _answer("alert", {"msg": msg, "sub_msg": sub_msg})


def ask_for_string(default=None, prompt=None, title=None, **kwargs):
    return _answer("ask_for_string", {"default": default, "prompt": prompt})


class SelectFromList:
    @classmethod
    def show(cls, context, title="User Input", width=None, height=None, **kwargs):
        return _answer("SelectFromList", list(context))


class CommandSwitchWindow:
    @classmethod
    def show(cls, context, title="User Input", width=None, height=None, exitscript=False, **kwargs):
        return _answer("CommandSwitchWindow", list(context))


def save_file(file_ext="", files_filter="", init_dir="", default_name="", restore_dir=True, unc_paths=False):
    return _answer("save_file", {"file_ext": file_ext, "default_name": default_name})


def toast(message, title="pyRevit", appid=None, icon=None, click=None, actions=None):
    _TOASTS.append((title, message))


_WINDOWS = []


class _NamedElement:
    def __init__(self):
        self.Text = ""


class WPFWindow:
    """pyRevit's XAML window: ``x:Name`` elements become attributes; ``show(modal=False)`` is modeless."""

    def __init__(self, xaml_source, literal_string=False, handle_esc=True, set_owner=True):
        import re
        self._xaml = xaml_source
        self.shown_as = None
        self.closed = False
        for name in re.findall(r'x:Name="(\w+)"', xaml_source):
            setattr(self, name, _NamedElement())
        _WINDOWS.append(self)

    def show(self, modal=False):
        self.shown_as = "modal" if modal else "modeless"

    def Close(self):
        self.closed = True
