"""deploy/gunicorn.conf.py: a ``gunicorn -c`` of an operator's own runs as ``nvs-gateway serve`` does, from the
same NVS_* settings (one truth: ``gateway.server.gunicorn_options``), refuses what ``serve`` refuses, and serves."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from gateway.config import REPOSITORY_ROOT
from tests.processes import free_port

pytestmark = pytest.mark.e2e
CONF = REPOSITORY_ROOT / "deploy" / "gunicorn.conf.py"


def gunicorn(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(CONF), *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def printed(config: str) -> dict[str, str]:
    return {
        name.strip(): value.strip() for name, _, value in (line.partition("=") for line in config.splitlines()) if value
    }


def test_the_conf_file_takes_its_values_from_the_nvs_settings(tmp_path: Path) -> None:
    env = {
        "NVS_HOST": "127.0.0.1",
        "NVS_PORT": "18099",
        "NVS_WORKERS": "3",
        "NVS_THREADS": "5",
        "NVS_GRACEFUL_TIMEOUT": "40",
        "FORWARDED_ALLOW_IPS": "10.0.0.5",
    }
    result = gunicorn(env, "--print-config", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    config = printed(result.stdout)
    assert config["bind"] == "['127.0.0.1:18099']"
    assert (config["workers"], config["threads"]) == ("3", "5")
    assert config["worker_class"] == "gateway.gunicorn_worker.SoapThreadWorker"
    assert (config["graceful_timeout"], config["timeout"]) == ("40", "40")
    assert config["preload_app"] == "False"
    assert config["forwarded_allow_ips"] == "['10.0.0.5']"  # the TLS proxy's address, gunicorn's own variable
    assert config["wsgi_app"] == "gateway.server:site_from_environment()"


def test_the_conf_file_refuses_a_graceful_timeout_shorter_than_the_wait_on_the_population_register(
    tmp_path: Path,
) -> None:
    result = gunicorn({"NVS_GRACEFUL_TIMEOUT": "5", "NVS_GR_DEADLINE": "8"}, "--print-config", cwd=tmp_path)
    assert result.returncode != 0
    assert "NVS_GRACEFUL_TIMEOUT (5 s) must exceed the longest wait on the population register" in result.stderr


def test_gunicorn_with_the_conf_file_serves_the_registry_on_a_migrated_database(tmp_path: Path) -> None:
    port = free_port()
    env = {
        **os.environ,
        "NVS_DATABASE_URL": f"sqlite:///{tmp_path / 'nvs.db'}",
        "NVS_PORT": str(port),
        "NVS_WORKERS": "2",
        "NVS_THREADS": "2",
        "NVS_LOG_LEVEL": "WARNING",
    }
    subprocess.run([sys.executable, "-m", "gateway.cli", "migrate"], env=env, cwd=tmp_path, check=True, timeout=120)
    log = tmp_path / "gunicorn.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(CONF)], env=env, cwd=tmp_path, stdout=out, stderr=out
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, log.read_text()
            try:
                if requests.get(f"{base}/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.25)
        wsdl = requests.get(f"{base}/registry?wsdl", timeout=10)
        assert wsdl.ok and f'location="{base}/registry"'.encode() in wsdl.content
        # From loopback (FORWARDED_ALLOW_IPS' default), the proxy's scheme is believed: the WSDL names https.
        behind_tls = requests.get(f"{base}/registry?wsdl", headers={"X-Forwarded-Proto": "https"}, timeout=10)
        assert f'location="https://127.0.0.1:{port}/registry"'.encode() in behind_tls.content
        # The registry itself answers, with its fault for an unknown user.
        envelope = (
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:nvs="urn:lt:mokiniu-registras:nvs-gateway:v1"><soapenv:Header>'
            '<wsse:Security xmlns:wsse="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd">'
            "<wsse:UsernameToken><wsse:Username>nobody</wsse:Username><wsse:Password>wrong</wsse:Password>"
            "</wsse:UsernameToken></wsse:Security></soapenv:Header><soapenv:Body><nvs:LookupPerson>"
            "<nvs:personalCode>51509150009</nvs:personalCode></nvs:LookupPerson></soapenv:Body></soapenv:Envelope>"
        )
        answer = requests.post(
            f"{base}/registry", data=envelope.encode(), headers={"Content-Type": "text/xml; charset=utf-8"}, timeout=30
        )
        assert answer.status_code == 500 and b"AuthenticationFailed" in answer.content, answer.text
    finally:
        server.send_signal(signal.SIGTERM)  # gunicorn's graceful stop
        assert server.wait(timeout=60) == 0, log.read_text()
