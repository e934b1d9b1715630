"""Secrets come from the environment or the profile file, and never show up in logs, status or
error text -- checked on everything logged at DEBUG while real connectors run."""
from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cloud_helpers import DEVICE_KEY, Observer, aws_settings, azure_connection_string, azure_settings, leaks

from sidecar.cloud import SecretError, create_connector
from sidecar.cloud.secrets import RedactingFilter, redact, remember_secret, resolve_secret

PROC = Path(__file__).with_name("connector_proc.py")


def test_redact_masks_known_and_recognisable_secrets():
    remember_secret("HostName=h;DeviceId=d;SharedAccessKey=remembered-key-value")
    assert "remembered-key-value" not in redact("key was remembered-key-value, base64 of it")
    text = redact("HostName=x.azure-devices.net;DeviceId=d;SharedAccessKey=abcDEF123+/=;x=1")
    assert "abcDEF123" not in text and "HostName=x.azure-devices.net" in text
    assert "Zm9v" not in redact("SharedAccessSignature sr=x&sig=Zm9vYmFyYmF6&se=1")
    pem = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx\n-----END EC PRIVATE KEY-----"
    assert "MHcCAQEEIBx" not in redact("oops " + pem)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "connecting with %s", ("sig=abcdefghij",), None)
    RedactingFilter().filter(record)
    assert "abcdefghij" not in record.getMessage()


def test_secret_sources_env_then_profile_and_never_the_config_file(tmp_path):
    settings = {"connection_string_env": "MY_CS"}
    assert resolve_secret(settings, "connection_string", "azure", tmp_path, environ={"MY_CS": " v1 "}) == "v1"
    (tmp_path / "cloud_secrets.toml").write_text('[azure]\nconnection_string = "v2"\n')
    assert resolve_secret(settings, "connection_string", "azure", tmp_path, environ={}) == "v2"
    with pytest.raises(SecretError, match="must not be written in the config file"):
        resolve_secret({"connection_string": "v3"}, "connection_string", "azure", tmp_path, environ={})
    (tmp_path / "cloud_secrets.toml").write_text('[azure]\nconnection_string = "s3cr3t-in-a-broken-file\n')
    with pytest.raises(SecretError) as err:
        resolve_secret(settings, "connection_string", "azure", tmp_path, environ={})
    assert "s3cr3t" not in str(err.value)
    (tmp_path / "cloud_secrets.toml").unlink()
    with pytest.raises(SecretError, match="MY_CS"):
        resolve_secret(settings, "connection_string", "azure", tmp_path, environ={})


async def test_no_key_or_connection_string_in_any_log_status_or_error(
        monkeypatch, caplog, azure_broker, aws_broker, pki, tmp_path, handler, observer_factory):
    caplog.set_level(logging.DEBUG)  # everything, every logger, the SDKs' included
    connection_string = azure_connection_string(azure_broker)
    monkeypatch.setenv("RPIOT_TEST_AZURE_CS", connection_string)
    aws = aws_settings(azure_broker, pki)
    aws.update(endpoint=aws_broker.host, port=aws_broker.mtls_port)
    private_key = Path(aws["private_key_file"]).read_text()
    key_body = "".join(line for line in private_key.splitlines() if "-----" not in line)
    secrets = [connection_string, DEVICE_KEY, key_body, key_body[:40]]
    observer: Observer = await observer_factory(azure_broker)

    azure = create_connector("azure", azure_settings(azure_broker, pki), tmp_path / "a", handler)
    broken = create_connector("azure", azure_settings(azure_broker, pki, server_verification_cert_file=str(
        aws["certificate_file"])), tmp_path / "b", handler, name="azure-broken")  # wrong CA: TLS fails
    amazon = create_connector("aws", aws, tmp_path / "c", handler)
    statuses = []
    try:
        for c in (azure, broken, amazon):
            await c.start()
            c.on_readings([("s1", time.time(), 1.0)])
        for _ in range(100):
            if azure.status()["delivered"]:
                break
            await asyncio.sleep(0.05)
        observer.publish("$iothub/methods/POST/status/?$rid=1", "{}")
        await observer.wait_for(lambda ms: [m for m in ms if m.topic.startswith("$iothub/methods/res/")])
        for _ in range(100):
            statuses = [c.status() for c in (azure, broken, amazon)]
            if statuses[0]["delivered"] and statuses[1]["last_error"] and statuses[2]["delivered"]:
                break
            await asyncio.sleep(0.05)
        assert statuses[0]["delivered"] == 1 and statuses[2]["delivered"] == 1  # the secrets were used
        assert statuses[1]["last_error"]
    finally:
        for c in (azure, broken, amazon):
            await c.stop()

    # the same connector in a process of its own, logging at DEBUG to stderr
    stderr = tmp_path / "proc.stderr"
    await asyncio.to_thread(run_connector_until_drained, azure_settings(azure_broker, pki), tmp_path / "d", stderr)
    texts = {"caplog": caplog.text + "\n".join(r.getMessage() for r in caplog.records),
             "status": repr(statuses), "stderr": stderr.read_text()}
    assert "DEBUG" in texts["stderr"] and len(caplog.records) > 20  # there was plenty to leak into
    for where, text in texts.items():
        assert not leaks(text, secrets), f"secret in {where}: {leaks(text, secrets)}"


def run_connector_until_drained(settings: dict, data_dir: Path, stderr: Path) -> None:
    """The connector in a process of its own (tests/cloud/connector_proc.py) until it has drained."""
    with open(stderr, "wb") as err:
        proc = subprocess.Popen([sys.executable, str(PROC), "azure", json.dumps(settings), str(data_dir),
                                 "0", "3", "0.01"], stdout=subprocess.PIPE, stderr=err, text=True,
                                env=dict(os.environ))
    try:
        assert proc.stdout is not None
        for line in iter(proc.stdout.readline, ""):
            if line.startswith("drained"):
                break
    finally:
        proc.kill()
        proc.wait(5)
