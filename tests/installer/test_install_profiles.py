"""install.py end to end on fake profiles, without the (slow) venv: a Windows-style profile with a
real pyRevit config, and a Linux one. The venv and the running sidecar are in test_release.py."""
import functools
import json
import operator
import os
import stat
from pathlib import Path

from conftest import PYREVIT_CONFIG, ROOT, clean_env, run_install, snapshot, step_lines
from revitpyiot_installer import pyrevit_config as ini

WIN = ["--platform", "windows", "--no-venv"]
# config.toml is made from the sidecar's example config when the source has one
HAS_EXAMPLE = (ROOT / "sidecar" / "sidecar.example.toml").is_file()
USER_FILES = (["config.toml"] if HAS_EXAMPLE else []) + ["token"]


def win_paths(home):
    local = home / "AppData" / "Local" / "RevitPyIoT"
    return {
        "data": local, "app": local / "app", "record": local / "install.json",
        "config": home / "AppData" / "Roaming" / "pyRevit" / "pyRevit_config.ini",
        "startup": home / "AppData" / "Roaming" / "Microsoft" / "Windows" / "Start Menu" / "Programs"
        / "Startup" / "RevitPyIoT tray.cmd",
    }


def test_windows_profile_install_registers_the_extension_and_keeps_every_other_setting(windows_profile):
    p = win_paths(windows_profile)
    result = run_install(WIN + ["--user-dir", windows_profile, "--autostart"])
    steps = step_lines(result.stdout)
    assert steps["files"] == ["created"] and steps["pyrevit"] == ["updated"]
    assert steps["token"] == ["created"] and steps["autostart"] == ["created"] and steps["record"] == ["created"]
    assert steps["config"] == (["created"] if HAS_EXAMPLE else ["skipped"])
    assert steps["venv"] == ["skipped"]

    # pyRevit's config: exactly one line differs, the rest is byte for byte the same
    after = p["config"].read_bytes().decode("utf-8")
    before_lines = PYREVIT_CONFIG.splitlines(keepends=True)
    after_lines = after.splitlines(keepends=True)
    assert len(after_lines) == len(before_lines)
    changed = [(b, a) for b, a in zip(before_lines, after_lines) if b != a]
    assert len(changed) == 1
    assert ini.read_user_extensions(after) == [
        "C:\\BIM\\Extensions", "%APPDATA%\\pyRevit\\Extensions\\Team", str(p["app"])]
    assert changed[0][1].endswith("\r\n")

    # the backup is the original, and it is not beside pyRevit's config
    record = json.loads(p["record"].read_text())
    backup = Path(record["pyrevit"]["backup"])
    assert backup.read_bytes() == PYREVIT_CONFIG.encode("utf-8")
    assert backup.parent == p["data"] / "backups"
    assert sorted(x.name for x in p["config"].parent.iterdir()) == ["Extensions", "pyRevit_config.ini"]

    # the extension and the contract it imports sit side by side; the installer copies itself
    assert (p["app"] / "RevitPyIoT.extension" / "lib" / "revitpyiot" / "launcher.py").is_file()
    assert (p["app"] / "shared_schemas" / "protocol.py").is_file()
    assert (p["app"] / "installer" / "install.py").is_file()
    assert not list(p["app"].rglob("__pycache__"))

    token = (p["data"] / "token").read_text()
    assert len(token) >= 40 and token.strip() == token
    assert stat.S_IMODE((p["data"] / "token").stat().st_mode) == 0o600

    cmd = p["startup"].read_bytes()
    assert cmd.endswith(b"\r\n") and b'-I -m sidecar tray --data-dir "' in cmd
    assert str(p["data"] / "venv" / "Scripts" / "pythonw.exe").encode() in cmd
    assert set(record["app_files"]) == {str(f) for f in p["app"].rglob("*") if f.is_file()}


def test_second_install_changes_nothing(windows_profile):
    run_install(WIN + ["--user-dir", windows_profile, "--autostart"])
    before = snapshot(windows_profile)
    result = run_install(WIN + ["--user-dir", windows_profile])
    steps = step_lines(result.stdout)
    for step in ("files", "pyrevit", "token", "autostart", "record") + (("config",) if HAS_EXAMPLE else ()):
        assert steps[step] == ["unchanged"], (step, result.stdout)
    assert "created" not in result.stdout and "updated" not in result.stdout
    assert snapshot(windows_profile) == before   # same bytes, same mtimes


def test_uninstall_restores_pyrevit_config_byte_for_byte_and_keeps_user_data(windows_profile):
    p = win_paths(windows_profile)
    run_install(WIN + ["--user-dir", windows_profile, "--autostart"])
    installed = Path(p["app"] / "installer" / "install.py")
    result = run_install(["--platform", "windows", "--user-dir", windows_profile, "--uninstall"],
                         script=installed)
    steps = step_lines(result.stdout)
    assert steps["pyrevit"] == ["updated"] and steps["autostart"] == ["removed"]
    assert p["config"].read_bytes() == PYREVIT_CONFIG.encode("utf-8")
    assert not p["app"].exists() and not p["record"].exists() and not p["startup"].exists()
    assert not (windows_profile / "AppData" / "Roaming" / "Microsoft").exists()
    left = sorted(x.relative_to(windows_profile).as_posix() for x in windows_profile.rglob("*") if x.is_file())
    assert left == ["AppData/Local/RevitPyIoT/backups/" + next((p["data"] / "backups").iterdir()).name] + \
        ["AppData/Local/RevitPyIoT/" + name for name in USER_FILES] + [
                    "AppData/Roaming/pyRevit/Extensions/Team/Team.extension/extension.json",
                    "AppData/Roaming/pyRevit/pyRevit_config.ini"]
    assert "--purge removes it" in result.stdout
    again = run_install(["--platform", "windows", "--user-dir", windows_profile, "--uninstall"])
    assert "nothing was installed" in again.stdout


def test_uninstall_after_the_user_changed_pyrevit_settings_removes_only_our_entry(windows_profile):
    p = win_paths(windows_profile)
    run_install(WIN + ["--user-dir", windows_profile])
    text = p["config"].read_bytes().decode("utf-8")
    text = text.replace('"]\r\nrocketmode = true', '","E:\\\\Later"]\r\nrocketmode = false')
    p["config"].write_bytes(text.encode("utf-8"))
    run_install(["--platform", "windows", "--user-dir", windows_profile, "--uninstall"])
    expected = PYREVIT_CONFIG.replace('Team"]\r\nrocketmode = true', 'Team","E:\\\\Later"]\r\nrocketmode = false')
    assert p["config"].read_bytes() == expected.encode("utf-8")


def test_purge_removes_user_data_and_the_extension_settings_only(windows_profile):
    p = win_paths(windows_profile)
    run_install(WIN + ["--user-dir", windows_profile])
    (p["data"] / "logs").mkdir()
    (p["data"] / "logs" / "sidecar.log").write_text("x")
    result = run_install(["--platform", "windows", "--user-dir", windows_profile, "--purge"])
    assert "purge] removed" in result.stdout
    assert not p["data"].exists()
    assert (windows_profile / "AppData" / "Local").is_dir()       # existed before: kept
    expected = PYREVIT_CONFIG.split("\r\n\r\n[RevitPyIoT]")[0] + "\r\n"
    assert p["config"].read_bytes() == expected.encode("utf-8")
    assert (windows_profile / "AppData/Roaming/pyRevit/Extensions/Team/Team.extension/extension.json").exists()


def test_dry_run_changes_nothing(windows_profile):
    before = snapshot(windows_profile)
    result = run_install(WIN + ["--user-dir", windows_profile, "--dry-run", "--autostart"])
    assert "would be created" in result.stdout and "would be updated" in result.stdout
    assert snapshot(windows_profile) == before
    run_install(WIN + ["--user-dir", windows_profile])
    before = snapshot(windows_profile)
    result = run_install(["--platform", "windows", "--user-dir", windows_profile, "--uninstall", "--dry-run"])
    assert "would be removed" in result.stdout
    assert snapshot(windows_profile) == before


def test_without_pyrevit_nothing_is_registered_and_the_user_is_told(tmp_path):
    home = tmp_path / "nopyrevit"
    home.mkdir()
    result = run_install(WIN + ["--user-dir", home])
    assert "[pyrevit] skipped: pyRevit not found" in result.stdout
    assert not (home / "AppData" / "Roaming" / "pyRevit").exists()
    run_install(["--platform", "windows", "--user-dir", home, "--uninstall"])
    assert sorted(x.name for x in home.rglob("*")) == sorted(["AppData", "Local", "RevitPyIoT"] + USER_FILES)


def test_pyrevit_without_config_gets_one_and_uninstall_deletes_it_and_cli_hint_is_printed(tmp_path):
    home = tmp_path / "fresh"
    (home / "AppData" / "Roaming" / "pyRevit-Master").mkdir(parents=True)
    bindir = tmp_path / "bin"
    bindir.mkdir()
    cli = bindir / "pyrevit"
    cli.write_text("#!/bin/sh\nexit 0\n")
    cli.chmod(0o755)
    env = clean_env(PATH=str(bindir) + os.pathsep + os.environ["PATH"])
    result = run_install(WIN + ["--user-dir", home], env=env)
    config = home / "AppData" / "Roaming" / "pyRevit" / "pyRevit_config.ini"
    app = home / "AppData" / "Local" / "RevitPyIoT" / "app"
    assert "[pyrevit] created" in result.stdout
    assert ini.read_user_extensions(config.read_text()) == [str(app)]
    assert f'pyrevit extensions paths add "{app}"' in result.stdout
    run_install(["--platform", "windows", "--user-dir", home, "--uninstall"], env=env)
    assert not config.exists()


def test_an_unreadable_userextensions_value_is_left_alone(windows_profile):
    p = win_paths(windows_profile)
    weird = PYREVIT_CONFIG.replace('userextensions = ["C:', 'userextensions = [C:')
    p["config"].write_bytes(weird.encode("utf-8"))
    result = run_install(WIN + ["--user-dir", windows_profile], check=False)
    assert result.returncode == 1
    assert "[pyrevit] failed" in result.stdout and "Custom Extension Directories" in result.stdout
    assert p["config"].read_bytes() == weird.encode("utf-8")


def test_linux_profile_without_venv(linux_profile):
    result = run_install(["--platform", "posix", "--no-venv", "--user-dir", linux_profile, "--autostart"])
    data = linux_profile / ".local" / "share" / "RevitPyIoT"
    assert "[pyrevit] skipped: pyRevit runs on Windows only" in result.stdout
    desktop = (linux_profile / ".config" / "autostart" / "revitpyiot.desktop").read_text()
    assert "Exec={} -I -m sidecar tray --data-dir {}".format(data / "venv" / "bin" / "python", data) in desktop
    before = snapshot(linux_profile)
    again = run_install(["--platform", "posix", "--no-venv", "--user-dir", linux_profile])
    assert set(functools.reduce(operator.iadd, step_lines(again.stdout).values(), [])) <= {"unchanged", "skipped", "info"}
    assert snapshot(linux_profile) == before
    removed = run_install(["--platform", "posix", "--no-autostart", "--no-venv", "--user-dir", linux_profile])
    assert "[autostart] removed" in removed.stdout
    run_install(["--platform", "posix", "--user-dir", linux_profile, "--purge"])
    assert sorted(x.relative_to(linux_profile).as_posix() for x in linux_profile.rglob("*")) == \
        [".config", ".config/user-dirs.dirs"]


def test_an_update_replaces_changed_files_and_removes_files_no_longer_shipped(windows_profile, tmp_path):
    p = win_paths(windows_profile)
    run_install(WIN + ["--user-dir", windows_profile])
    record = json.loads(p["record"].read_text())
    stale = p["app"] / "RevitPyIoT.extension" / "old_module.py"
    stale.write_text("# shipped by an older release\n")
    record["app_files"][str(stale)] = "0" * 64
    p["record"].write_text(json.dumps(record))
    edited = p["app"] / "shared_schemas" / "protocol.py"
    edited.write_text("# changed\n")
    result = run_install(WIN + ["--user-dir", windows_profile])
    assert "[files] updated" in result.stdout and "1 changed, 1 removed" in result.stdout
    assert not stale.exists()
    assert "__version__" in edited.read_text()
