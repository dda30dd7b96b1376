"""``nvs-gateway serve`` as real OS processes, for the tests that need more than one gateway or
that kill one: started on a free port against a test database, in a process group of their own
(gunicorn's master, its workers and the sandbox GR), so that a test can interrupt them (Ctrl+C),
kill them all at once (kill -9, as a crash would), and make sure none is left behind.

Their clocks are pinned as the tests' are: NVS_CLOCK_START is ``E2E_START`` (which conftest.py sets
for every test too, but a module's fixture starts before that), so they start where the test's
``e2e_clock()`` does, and run on from there.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.clock import E2E_START

REPOSITORY = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# `nvs-gateway serve --sandbox`, with Ctrl+C's default meaning restored: a shell starts background
# jobs with SIGINT ignored, and a test run may be one (a Python started so would ignore it too).
_SERVE = (
    "import signal, sys\n"
    "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
    "from gateway.cli import main\n"
    "sys.exit(main(['serve', '--sandbox']))\n"
)


class GatewayProcess:
    def __init__(
        self, database_url: str, log_dir: Path, *, server: str = "gunicorn", workers: int = 1, **settings: str
    ) -> None:
        self.database_url = database_url
        self.port = free_port()
        self.log_path = log_dir / f"gateway-{self.port}.log"
        self.environment = {
            **os.environ,
            "NVS_DATABASE_URL": database_url,
            "NVS_PORT": str(self.port),
            "NVS_SERVER": server,
            "NVS_WORKERS": str(workers),
            "NVS_VALIDATE_RESPONSES": "true",
            "NVS_LOG_LEVEL": "WARNING",
            "NVS_CLOCK_START": E2E_START.isoformat(),
            **settings,
        }
        self.process: subprocess.Popen | None = None
        self.starts = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def registry_url(self) -> str:
        return f"{self.base_url}/registry"

    @property
    def wsdl_url(self) -> str:
        return f"{self.base_url}/registry?wsdl"

    def start(self, timeout: float = 180.0) -> GatewayProcess:
        """``nvs-gateway serve --sandbox``; returns once the registry and the sandbox GR answer."""
        assert self.process is None or self.process.poll() is not None, "already running"
        self.starts += 1
        with open(self.log_path, "ab") as log:
            log.write(f"\n--- start {self.starts} ---\n".encode())
            log.flush()
            self.process = subprocess.Popen(
                [sys.executable, "-c", _SERVE],
                cwd=REPOSITORY,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"nvs-gateway serve exited with {self.process.returncode}:\n{self.log()}")
            try:
                if (
                    requests.get(f"{self.base_url}/health", timeout=2).ok
                    and requests.get(f"{self.base_url}/population-register?wsdl", timeout=5).ok
                ):
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.25)
        self.kill()
        raise AssertionError(f"nvs-gateway serve did not answer within {timeout:.0f} s:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def group(self) -> list[int]:
        """The pids of every process of this gateway: master, workers, sandbox GR."""
        if self.process is None:
            return []
        found = []
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    stat = Path(f"/proc/{entry}/stat").read_text()
                except OSError:
                    continue
                fields = stat[stat.rindex(")") + 2 :].split()
                if int(fields[2]) == self.process.pid and fields[0] != "Z":
                    found.append(int(entry))
        return found

    def _signal_group(self, signum: int) -> None:
        assert self.process is not None
        try:
            os.killpg(self.process.pid, signum)
        except ProcessLookupError:
            pass

    def interrupt(self, timeout: float = 60.0) -> int:
        """Ctrl+C in the terminal: SIGINT to every process of the group. Returns the exit status."""
        self._signal_group(signal.SIGINT)
        assert self.process is not None
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """kill -9 of every process at once, as a crash or a power cut would."""
        if self.process is None:
            return
        self._signal_group(signal.SIGKILL)
        self.process.wait(timeout=30)
        deadline = time.monotonic() + 10
        while self.group() and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            if self.process is not None and self.group():
                self.kill()
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        self.kill()
