"""Where things go, on Windows (computed with PureWindowsPath, on Linux) and elsewhere."""
from pathlib import PurePosixPath, PureWindowsPath

import pytest
from revitpyiot_installer.layout import POSIX, WINDOWS, host_platform, layout_for

from shared_schemas import paths

WIN_ENV = {"USERPROFILE": "C:\\Users\\bim", "APPDATA": "C:\\Users\\bim\\AppData\\Roaming",
           "LOCALAPPDATA": "C:\\Users\\bim\\AppData\\Local", "PROGRAMDATA": "C:\\ProgramData"}


def test_windows_layout_from_the_environment():
    layout = layout_for(WINDOWS, WIN_ENV, path_cls=PureWindowsPath)
    assert str(layout.data_dir) == "C:\\Users\\bim\\AppData\\Local\\RevitPyIoT"
    assert str(layout.app_dir) == "C:\\Users\\bim\\AppData\\Local\\RevitPyIoT\\app"
    assert str(layout.extension_dir) == "C:\\Users\\bim\\AppData\\Local\\RevitPyIoT\\app\\RevitPyIoT.extension"
    assert str(layout.venv_pythonw) == "C:\\Users\\bim\\AppData\\Local\\RevitPyIoT\\venv\\Scripts\\pythonw.exe"
    assert str(layout.venv_python) == "C:\\Users\\bim\\AppData\\Local\\RevitPyIoT\\venv\\Scripts\\python.exe"
    assert str(layout.token_file) == "C:\\Users\\bim\\AppData\\Local\\RevitPyIoT\\token"
    assert str(layout.pyrevit_config_file) == "C:\\Users\\bim\\AppData\\Roaming\\pyRevit\\pyRevit_config.ini"
    assert str(layout.autostart_file) == ("C:\\Users\\bim\\AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\"
                                          "Programs\\Startup\\RevitPyIoT tray.cmd")
    assert "C:\\Users\\bim\\AppData\\Roaming\\pyRevit-Master" in [str(p) for p in layout.pyrevit_install_dirs]


def test_windows_layout_matches_where_sidecar_and_extension_look_for_the_token():
    layout = layout_for(WINDOWS, WIN_ENV, path_cls=PureWindowsPath)
    assert str(layout.data_dir) == paths.default_data_dir(WIN_ENV, "win32")
    assert str(layout.token_file) == paths.default_token_path(WIN_ENV, "win32")


def test_windows_layout_for_another_profile_ignores_the_environment():
    layout = layout_for(WINDOWS, WIN_ENV, PureWindowsPath("D:\\Profiles\\anna"), PureWindowsPath)
    assert str(layout.data_dir) == "D:\\Profiles\\anna\\AppData\\Local\\RevitPyIoT"
    assert str(layout.pyrevit_config_dir) == "D:\\Profiles\\anna\\AppData\\Roaming\\pyRevit"


def test_windows_layout_without_localappdata_falls_back_to_the_profile():
    layout = layout_for(WINDOWS, {"USERPROFILE": "C:\\Users\\x"}, path_cls=PureWindowsPath)
    assert str(layout.data_dir) == "C:\\Users\\x\\AppData\\Local\\RevitPyIoT"


@pytest.mark.parametrize("platform, env, cls, expected", [
    (WINDOWS, dict(WIN_ENV, REVITPYIOT_DATA_DIR="E:\\iot"), PureWindowsPath, "E:\\iot"),
    (POSIX, {"HOME": "/home/u", "REVITPYIOT_DATA_DIR": "/srv/iot"}, PurePosixPath, "/srv/iot"),
])
def test_data_dir_override_is_honoured_like_the_sidecar_does(platform, env, cls, expected):
    assert str(layout_for(platform, env, path_cls=cls).data_dir) == expected


def test_posix_layout_follows_xdg():
    env = {"HOME": "/home/u", "XDG_DATA_HOME": "/home/u/data", "XDG_CONFIG_HOME": "/home/u/cfg"}
    layout = layout_for(POSIX, env, path_cls=PurePosixPath)
    assert str(layout.data_dir) == "/home/u/data/RevitPyIoT"
    assert str(layout.data_dir) == paths.default_data_dir(env, "linux")
    assert str(layout.venv_python) == "/home/u/data/RevitPyIoT/venv/bin/python"
    assert layout.venv_pythonw == layout.venv_python
    assert str(layout.autostart_file) == "/home/u/cfg/autostart/revitpyiot.desktop"
    assert layout.pyrevit_config_file is None


def test_posix_layout_defaults_and_other_profile():
    assert str(layout_for(POSIX, {"HOME": "/home/u"}, path_cls=PurePosixPath).data_dir) == \
        "/home/u/.local/share/RevitPyIoT"
    other = layout_for(POSIX, {"HOME": "/home/u", "XDG_DATA_HOME": "/x"}, PurePosixPath("/p/q"), PurePosixPath)
    assert str(other.data_dir) == "/p/q/.local/share/RevitPyIoT"
    assert str(other.autostart_file) == "/p/q/.config/autostart/revitpyiot.desktop"


def test_host_platform_and_unknown_platform():
    assert host_platform("win32") == WINDOWS
    assert host_platform("darwin") == POSIX
    assert host_platform("linux") == POSIX
    with pytest.raises(ValueError, match="unknown platform"):
        layout_for("beos", {})
