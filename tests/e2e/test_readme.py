"""The README's instructions, run as a reader would run them: its zeep example (taken from the README
itself, so that the two cannot drift apart) and ``nvs-gateway check population-register`` against the
gateway that ``make serve`` starts."""

from __future__ import annotations

import contextlib
import io
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from gateway.cli import main
from gateway.config import REPOSITORY_ROOT
from tests.conftest import free_port

README = REPOSITORY_ROOT / "README.md"
SANDBOX_ADDRESS = "http://127.0.0.1:8080"  # where the README's examples expect `make serve`


def readme_zeep_example() -> str:
    """The Python block that follows "With [zeep]" in the README."""
    text = README.read_text(encoding="utf-8")
    found = re.search(r"With \[zeep\].*?```python\n(.*?)```", text, re.S)
    assert found, "the README has no zeep example"
    return found.group(1)


def run_readme_example(base_url: str) -> dict[str, Any]:
    """Execute the example against ``base_url`` instead of the README's address; its variables."""
    code = readme_zeep_example()
    assert SANDBOX_ADDRESS in code
    namespace: dict[str, object] = {"__name__": "readme_example"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code.replace(SANDBOX_ADDRESS, base_url), "README.md (zeep example)", "exec"), namespace)  # noqa: S102
    return namespace


def test_the_readme_zeep_example_works_when_run_twice(live_gateway) -> None:
    first = run_readme_example(live_gateway.base_url)
    second = run_readme_example(live_gateway.base_url)  # DuplicateGroupName, then AlreadyRegistered, before

    assert second["group"].groupId == first["group"].groupId
    assert second["registration"].registrationId == first["registration"].registrationId
    assert first["person"].firstName == "Adomas"
    database = live_gateway.database
    assert database.rows("SELECT count(*) FROM nvs_group WHERE name = 'Fortepijonas 1'") == [(1,)]
    assert database.rows("SELECT count(*) FROM registration WHERE status = 'active'") == [(1,)]


# --- `make serve` in one terminal, the GR check in another -----------------------------------
@pytest.fixture
def make_serve(tmp_path: Path) -> Iterator[dict[str, str]]:
    """``nvs-gateway serve --sandbox`` (what ``make serve`` runs) in a process of its own, on a free
    port instead of 8080; yields the environment a second terminal has (NVS_PORT, the database)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NVS_") or k == "NVS_CLOCK_START"}  # the tests' day
    env.update(NVS_PORT=str(port), NVS_DATABASE_URL=f"sqlite:///{tmp_path / 'nvs-gateway.db'}", NVS_LOG_LEVEL="WARNING")
    server = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "serve", "--sandbox"],
        cwd=REPOSITORY_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        while True:
            assert server.poll() is None, f"serve exited: {server.stdout.read() if server.stdout else ''}"
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.RequestException:  # not listening yet, or no worker booted to answer within 1 s
                pass
            assert time.monotonic() < deadline, "serve did not start in 120 s"
            time.sleep(0.25)
        yield env
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        if server.stdout:
            server.stdout.close()


def test_the_gr_check_works_against_make_serve_as_the_readme_shows_it(make_serve) -> None:
    env = make_serve
    run_readme_example(f"http://127.0.0.1:{env['NVS_PORT']}")  # a child to check

    check = subprocess.run(
        [sys.executable, "-m", "gateway.cli", "check", "population-register"],
        cwd=REPOSITORY_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stdout + check.stderr
    assert "completed, 1 persons checked" in check.stdout
    assert f"http://127.0.0.1:{env['NVS_PORT']}/population-register" in check.stderr  # where it asked


def test_a_gr_check_that_reaches_no_gr_says_so_and_fails(live_gateway, monkeypatch, capsys) -> None:
    """Every lookup failing is no result: the summary says GR was not reached, where, and the command fails."""
    run_readme_example(live_gateway.base_url)  # one person stored
    for name in [n for n in os.environ if n.startswith("NVS_") and n != "NVS_CLOCK_START"]:
        monkeypatch.delenv(name)
    nothing_there = free_port()
    monkeypatch.setenv("NVS_DATABASE_URL", live_gateway.database.url)
    monkeypatch.setenv("NVS_HOST", "0.0.0.0")  # a server listening everywhere is called on loopback
    monkeypatch.setenv("NVS_PORT", str(nothing_there))
    monkeypatch.setenv("NVS_GR_RETRIES", "0")
    monkeypatch.setenv("NVS_LOG_LEVEL", "WARNING")
    capsys.readouterr()

    assert main(["check", "population-register"]) == 1
    out = capsys.readouterr().out
    assert "stopped (the population register is unavailable) after 0 of 1 persons" in out
    assert f"could not be reached at http://127.0.0.1:{nothing_there}/population-register" in out
    assert "1 persons not checked" in out
    assert "nothing found" not in out and "completed, " not in out
