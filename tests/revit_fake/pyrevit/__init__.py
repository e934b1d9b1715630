"""Fake pyRevit core: HOST_APP and EXEC_PARAMS, driven by ``fake_host.FakeRevit``."""


class _HostApp:
    def __init__(self):
        self.uiapp = None

    @property
    def app(self):
        return self.uiapp.Application if self.uiapp is not None else None

    @property
    def uidoc(self):
        return self.uiapp.ActiveUIDocument if self.uiapp is not None else None

    @property
    def doc(self):
        uidoc = self.uidoc
        return uidoc.Document if uidoc is not None else None

    @property
    def username(self):
        return self.app.Username

    @property
    def version(self):
        return self.app.VersionNumber


class _ExecParams:
    def __init__(self):
        self.command_path = None
        self.command_name = None
        self.script_file = None
        self.exec_id = "fake"
        # pyRevit sets this only when the user clicked the button (not at start-up/__selfinit__).
        self.executed_from_ui = False


HOST_APP = _HostApp()
EXEC_PARAMS = _ExecParams()
