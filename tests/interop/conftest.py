"""Fixtures of the interop tests: a live gateway on SQLite, and each stack's tools, or a skip that says why.

SQLite only: these tests are about what other SOAP stacks send and read (envelopes, prefixes,
WS-Security headers, dates, faults). Below the HTTP layer a call is the same whichever stack made
it, and tests/e2e runs the same operations through zeep on SQLite and PostgreSQL, so a second
database would only double the time (the JAX-WS run alone takes ~20 s).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import LiveGateway, launch_gateway, open_database

HERE = Path(__file__).resolve().parent
NODE_DIR = HERE / "node"
JAXWS_RUNTIME = Path("/usr/share/java/jaxws-rt.jar")  # Debian libjaxws-java; its manifest names the rest
APT_HINT = "Debian: apt-get install -y php-cli php-soap jaxws libjaxws-java; .ci/run installs them"


def start_sqlite_gateway(request: pytest.FixtureRequest, directory: Path) -> tuple[LiveGateway, Callable[[], None]]:
    database = open_database(request, "sqlite", directory)
    live, stop = launch_gateway(database)

    def stop_all() -> None:
        stop()
        database.engine.dispose()

    return live, stop_all


@pytest.fixture
def gateway(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[LiveGateway]:
    """A fresh sandbox gateway of its own for one stack's scenario."""
    live, stop = start_sqlite_gateway(request, tmp_path)
    yield live
    stop()


def run(
    command: list[str], *, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.fixture(scope="session")
def php() -> str:
    executable = shutil.which("php")
    if executable is None:
        pytest.skip(f"PHP is not installed ({APT_HINT})")
    if "soap" not in run([executable, "-m"], timeout=30).stdout.split():
        pytest.skip(f"PHP has no soap extension ({APT_HINT})")
    return executable


@pytest.fixture(scope="session")
def node() -> str:
    executable = shutil.which("node")
    if executable is None:
        pytest.skip("Node.js is not installed (Node 18 or later; Debian: apt-get install nodejs)")
    if not (NODE_DIR / "node_modules" / "soap" / "package.json").exists():
        pytest.skip(
            f"the npm 'soap' package is not installed: run `npm ci` in {NODE_DIR.relative_to(HERE.parents[1])} (.ci/run does)"
        )
    return executable


@pytest.fixture(scope="session")
def java_tools() -> dict[str, str]:
    tools = {name: shutil.which(name) for name in ("wsimport", "javac", "java")}
    missing = sorted(name for name, path in tools.items() if path is None)
    if missing:
        pytest.skip(f"{', '.join(missing)} not found: JAX-WS needs a JDK and Debian's jaxws ({APT_HINT})")
    if not JAXWS_RUNTIME.exists():
        pytest.skip(f"{JAXWS_RUNTIME} is missing ({APT_HINT})")
    return {name: path for name, path in tools.items() if path is not None}  # all of them: none is missing
