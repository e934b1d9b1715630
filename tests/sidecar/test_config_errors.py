"""Bad settings are refused before anything starts: ``python -m sidecar serve --config BAD.toml`` as a
real subprocess exits non-zero with one line naming the setting, no traceback, no ``ready``.
Unknown keys are named in a warning, and refused with ``--strict``."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.sidecar_process import ROOT, running_sidecar

from sidecar.config import ConfigError, config_from_mapping, load_config

FREE = ["--command-endpoint", "tcp://127.0.0.1:*", "--event-endpoint", "tcp://127.0.0.1:*"]


def serve(tmp_path: Path, config: bytes | str, *args: str, endpoints: bool = True) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "bad.toml"
    path.write_bytes(config.encode("utf-8") if isinstance(config, str) else config)
    data = tmp_path / "data"
    command = [sys.executable, "-m", "sidecar", "serve", "--config", str(path), "--data-dir", str(data),
               *(FREE if endpoints else []), *args]
    env = dict(os.environ, PYTHONUNBUFFERED="1", REVITPYIOT_DATA_DIR=str(data))
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False,
                          stdin=subprocess.DEVNULL)


def assert_refused(result: subprocess.CompletedProcess[str], *words: str) -> str:
    output = (result.stdout + result.stderr).strip()
    assert result.returncode == 2, output
    assert "Traceback" not in output and "ready" not in output, output
    lines = output.splitlines()
    assert len(lines) == 1, output
    for word in words:
        assert word in lines[0], output
    return lines[0]


@pytest.mark.parametrize(("config", "words"), [
    ('[historian]\nflush_rows = "many"\n', ("historian.flush_rows", "expected int/float, got str")),
    ('[historian]\nbackend = "oracle"\n', ("historian.backend", "must be one of sqlite, postgresql, none")),
    ('[historian]\nring_points = -5\n', ("historian.ring_points",)),
    ('[dashboard]\nport = "http"\n', ("dashboard.port", "expected int, got str")),
    ("[dashboard]\nport = 99999\n", ("dashboard.port", "[0, 65535]", "99999")),
    ('[sidecar]\nlog_level = "LOUD"\n', ("sidecar.log_level", "LOUD")),
    ("[mqtt]\nport = 70000\n", ("mqtt.port", "70000")),
    ('[modbus.hosts."10.0.0.1:502"]\ntimeout_s = "soon"\n', ('modbus.hosts."10.0.0.1:502".timeout_s',)),
    ('[[mqtt.topics]]\nfilter = "site/a#"\n', ("mqtt.topics[0].filter", "'#' must be a whole last topic level")),
    ("[cloud.gcp]\nenabled = true\n", ("cloud.gcp", "unknown cloud connector")),
    ('[cloud.aws]\nendpoint = "x.iot.amazonaws.com"\n', ("cloud.aws", "thing_name is required")),
])
def test_a_bad_setting_is_one_line_naming_it_before_ready(tmp_path: Path, config: str,
                                                          words: tuple[str, ...]) -> None:
    assert_refused(serve(tmp_path, config), *words)


def test_dashboard_port_out_of_range_on_the_command_line(tmp_path: Path) -> None:
    assert_refused(serve(tmp_path, "", "--dashboard-port", "99999"), "dashboard.port", "99999")


def test_log_level_on_the_command_line(tmp_path: Path) -> None:
    assert_refused(serve(tmp_path, "", "--log-level", "loud"), "log_level", "loud")


def test_an_endpoint_port_beyond_65535_is_refused_not_wrapped(tmp_path: Path) -> None:
    # libzmq would bind 70000 & 0xFFFF = 4464 and the sidecar would say ready on the wrong port
    line = assert_refused(serve(tmp_path, '[sidecar]\ncommand_endpoint = "tcp://127.0.0.1:70000"\n', endpoints=False),
                          "sidecar.command_endpoint", "70000")
    assert "4464" not in line
    assert_refused(serve(tmp_path, "", "--event-endpoint", "tcp://127.0.0.1:65536", "--command-endpoint",
                         "tcp://127.0.0.1:*", endpoints=False), "sidecar.event_endpoint", "65536")


def test_a_file_that_is_not_utf8(tmp_path: Path) -> None:
    assert_refused(serve(tmp_path, b'[sidecar]\nlog_level = "INFO"\n# caf\xe9 au lait\n'), "bad.toml", "not UTF-8",
                   "line 3")


def test_a_utf8_file_with_a_byte_order_mark_is_read(tmp_path: Path) -> None:
    path = tmp_path / "bom.toml"
    path.write_bytes(b'\xef\xbb\xbf[sidecar]\nlog_level = "DEBUG"\n')   # what Notepad may save
    assert load_config(path).log_level == "DEBUG"


def test_unknown_keys_are_a_warning_and_an_error_with_strict(tmp_path: Path) -> None:
    config = '[sidecar]\nlog_levl = "DEBUG"\n\n[mqtt.brokers.plant]\nhots = "10.0.0.2"\n\n[historain]\nx = 1\n'
    with running_sidecar(config_text=config) as handle:
        log = handle.log()
    warnings = [line for line in log.splitlines() if " WARNING " in line and "unknown" in line]
    assert any("sidecar.log_levl" in line for line in warnings), log
    assert any("mqtt.brokers.plant.hots" in line for line in warnings), log
    assert any("[historain]" in line for line in warnings), log
    assert log.index("sidecar.log_levl") < log.index(" ready ")
    assert_refused(serve(tmp_path, config, "--strict"), "sidecar.log_levl", "unknown setting", "(and 2 more)")


def test_sections_that_always_refused_unknown_keys_still_do(tmp_path: Path) -> None:
    assert_refused(serve(tmp_path, "[historian]\nflush_row = 5\n"), "[historian]: unknown key(s) flush_row")
    assert_refused(serve(tmp_path, "[analytics]\nintervall_s = 5\n"), "intervall_s")


# -- in process: the reader behind those lines ------------------------------------------------------
def test_every_section_is_parsed_when_the_file_is_read(tmp_path: Path) -> None:
    config = config_from_mapping({
        "historian": {"flush_interval_ms": 250, "ring_points": 100},
        "dashboard": {"port": 0, "allowed_origins": ["http://localhost:3000"]},
        "mqtt": {"qos": 1, "brokers": {"plant": {"host": "10.0.0.2", "port": 8883}}},
        "modbus": {"sensors": {"ahu1.sat": {"data_type": "int16", "scale": 0.1}}},
        "http": {"interval_s": 30},
    })
    assert config.historian.flush_interval_s == 0.25 and config.historian.ring_points == 100
    assert config.dashboard.port == 0 and config.dashboard.allowed_origins == ("http://localhost:3000",)
    mqtt = config.sources["mqtt"]
    assert mqtt.brokers["plant"].port == 8883 and mqtt.brokers["plant"].route.qos == 1
    assert config.sources["modbus"].sensors["ahu1.sat"].scale == 0.1
    assert config.sources["https"] is config.sources["http"] and config.sources["http"].default.interval_s == 30
    assert config.warnings == []


def test_ports_are_range_checked() -> None:
    for bad in ({"dashboard": {"port": -1}}, {"mqtt": {"port": 0}}, {"notifications": {"m": {
            "type": "email", "host": "h", "from": "a@b", "to": "c@d", "port": 70000}}},
                {"cloud": {"aws": {"port": 65536}}}, {"sidecar": {"event_endpoint": "tcp://127.0.0.1:99999"}},
                {"sidecar": {"command_endpoint": "tcp://127.0.0.1:http"}}):
        with pytest.raises(ConfigError, match="port"):
            config_from_mapping(bad)
    assert config_from_mapping({"sidecar": {"command_endpoint": "tcp://127.0.0.1:*"}}).command_endpoint.endswith("*")


def test_strict_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text('[sidecar]\nlog_level = "debug"\n[dashboard]\nprot = 1\n', encoding="utf-8")
    config = load_config(path, {"dashboard": {"port": 0}, "sidecar": {"data_dir": str(tmp_path / "d")}})
    assert config.log_level == "DEBUG" and config.dashboard.port == 0 and config.data_dir == tmp_path / "d"
    assert config.warnings == ["dashboard.prot: unknown setting (ignored)"]
    with pytest.raises(ConfigError, match="dashboard.prot: unknown setting"):
        load_config(path, strict=True)
