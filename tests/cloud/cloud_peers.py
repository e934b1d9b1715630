"""Real peers for the cloud-connector tests and benchmark: a throw-away PKI made with the
``openssl`` CLI and Mosquitto brokers that play IoT Hub (TLS on <addr>:8883) and IoT Core
(mutual TLS), each with a plain listener for the test's own observer client.

Mosquitto started as root drops to user ``mosquitto``: everything it reads lives in a
world-readable directory made here (pytest's tmp_path is private to root).
"""
from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from sidecar.client.launcher import stop_process

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"
AZURE_PORT = 8883  # the Azure device SDK cannot use any other port


def require_tools() -> None:
    missing = [p for p in (MOSQUITTO, OPENSSL) if not Path(p).exists()]
    if missing:
        raise RuntimeError(
            f"cloud tests need {missing}: install the Debian packages 'mosquitto' and 'openssl' "
            "(python installer/dev.py test does it as root)")


def world_readable_dir(prefix: str) -> Path:
    path = Path(tempfile.mkdtemp(prefix=prefix))
    path.chmod(0o755)
    return path


def _run(*args: str) -> None:
    subprocess.run([OPENSSL, *args], check=True, capture_output=True)


@dataclass
class Pki:
    dir: Path
    ca_cert: Path
    ca_key: Path

    def server(self, name: str, ip: str) -> tuple[Path, Path]:
        return self._issue(name, f"/CN={name}", f"subjectAltName=IP:{ip},DNS:localhost\n"
                           "extendedKeyUsage=serverAuth\n")

    def client(self, name: str) -> tuple[Path, Path]:
        return self._issue(name, f"/CN={name}", "extendedKeyUsage=clientAuth\n")

    def _issue(self, name: str, subject: str, ext: str) -> tuple[Path, Path]:
        key, csr, cert = (self.dir / f"{name}.key", self.dir / f"{name}.csr", self.dir / f"{name}.pem")
        extfile = self.dir / f"{name}.ext"
        extfile.write_text("basicConstraints=CA:FALSE\n" + ext)
        _run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(key))
        _run("req", "-new", "-key", str(key), "-subj", subject, "-out", str(csr))
        _run("x509", "-req", "-in", str(csr), "-CA", str(self.ca_cert), "-CAkey", str(self.ca_key),
             "-CAcreateserial", "-days", "2", "-sha256", "-extfile", str(extfile), "-out", str(cert))
        for p in (key, cert):
            p.chmod(0o644)  # test-only keys: mosquitto (another user) must read them
        return cert, key


def make_pki(directory: Path) -> Pki:
    ca_key, ca_cert = directory / "ca.key", directory / "ca.pem"
    _run("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", str(ca_key))
    _run("req", "-x509", "-new", "-key", str(ca_key), "-subj", "/CN=RevitPyIoT test CA", "-days", "2",
         "-sha256", "-out", str(ca_cert))
    ca_cert.chmod(0o644)
    return Pki(directory, ca_cert, ca_key)


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def free_loopback_address(port: int = AZURE_PORT) -> str:
    """A 127.x.y.z nobody else (parallel test runs) listens on at ``port``."""
    rng = random.Random()
    for _ in range(200):
        host = f"127.{rng.randint(20, 250)}.{rng.randint(0, 255)}.{rng.randint(2, 250)}"
        if _port_free(host, port):
            return host
    raise RuntimeError("no free loopback address for a test broker")


class Mosquitto:
    """One broker: TLS (server auth) listener, optional mTLS listener, plain observer listener."""

    def __init__(self, pki: Pki, workdir: Path, host: str, tls_port: int | None = AZURE_PORT,
                 mtls_port: int | None = None) -> None:
        require_tools()
        self.host = host
        self.tls_port = tls_port
        self.mtls_port = mtls_port
        self.plain_port = free_port(host)
        self.workdir = workdir
        cert, key = pki.server(f"broker-{host.replace('.', '-')}", host)
        # persistence: the observer's session (subscriptions, queued QoS 1 messages) survives a
        # broker restart in the outage tests, as a real cloud's would
        store = workdir / f"store-{host}"
        store.mkdir(exist_ok=True)
        store.chmod(0o777)
        lines = ["per_listener_settings false", "allow_anonymous true", "persistence true",
                 f"persistence_location {store}/", "autosave_interval 1",
                 "log_dest stderr", "log_type error", "log_type warning", "log_type notice",
                 "max_queued_messages 100000", "max_inflight_messages 0", ""]
        if tls_port is not None:
            lines += [f"listener {tls_port} {host}", f"cafile {pki.ca_cert}", f"certfile {cert}",
                      f"keyfile {key}", ""]
        if mtls_port is not None:
            lines += [f"listener {mtls_port} {host}", f"cafile {pki.ca_cert}", f"certfile {cert}",
                      f"keyfile {key}", "require_certificate true", "use_identity_as_username true", ""]
        lines += [f"listener {self.plain_port} {host}", ""]
        self.conf = workdir / f"mosquitto-{host}.conf"
        self.conf.write_text("\n".join(lines))
        self.conf.chmod(0o644)
        self.log = workdir / f"mosquitto-{host}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 10.0) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([MOSQUITTO, "-c", str(self.conf)], stdout=log, stderr=log)
        deadline = time.monotonic() + timeout
        ports = [p for p in (self.tls_port, self.mtls_port, self.plain_port) if p is not None]
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.log.read_text()[-2000:]}")
            if all(self._listening(p) for p in ports):
                return
            time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen in time: {self.log.read_text()[-2000:]}")

    def _listening(self, port: int) -> bool:
        with socket.socket() as s:
            s.settimeout(0.2)
            return s.connect_ex((self.host, port)) == 0

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def restart_after(self, seconds: float) -> None:
        self.stop()
        time.sleep(seconds)
        self.start()


def cleanup(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def env_without_proxies() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
