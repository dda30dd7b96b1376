"""Request-path benchmark: the gateway against a bare Spyne echo, each in processes of its own.

    python -m bench.request_path [--databases sqlite,postgres] [--postgres URL] [--clients 1,4,8]
                                 [--rounds 3] [--seconds 3] [--large 500000] [--markdown FILE] [--json FILE]
    make bench        # the same, with PostgreSQL at NVS_BENCH_DATABASE_URL (default: the local test server)

What runs where (the machine has few cores, and they are shared: read the ratios):

* the **echo** (bench/echo.py: one ``@rpc``, lxml validation), served by the product's own HTTP
  server (``gateway.server``: gunicorn or waitress as NVS_SERVER says; on a product without it,
  waitress with 8 threads, as its ``serve`` was);
* the **gateway**: ``nvs-gateway serve --sandbox`` itself (its sandbox population register with it),
  on a scratch database: a fresh SQLite file, or a scratch schema of the PostgreSQL server, dropped
  at the end;
* the **load generator**: this process. Raw HTTP/1.1 on keep-alive sockets, one connection per
  client thread, envelopes built before the clock starts, the response read to its last byte and
  checked (HTTP 200, and the answer's registrationId where one is needed).

Setup goes through the product's own API (CreateGroup, RegisterStudent over SOAP). Each round, for
each number of clients: the echo, then each operation of the gateway, for ``--seconds`` each:

* ``LookupPerson``: fresh personal codes (GR is asked for each);
* ``RegisterStudent``: a new child each call, with a fresh valid personal code: first the children
  this client just looked up (a provider's system looks a child up, then registers it), then new ones;
* ``MarkFunding``: the NVS basket for one month (of 2026-09 to 2027-08) of a registration made
  before, a month not marked yet;
* ``GetStudent``: children registered before;
* ``ListLearners``: the first page (100 rows) of the school year's learners of the provider.

Per run it prints req/s, p50/p95 latency, the server's CPU time per request (utime + stime of
every process of the server from /proc, before and after; the sandbox GR's, when it has a process
of its own, apart), SQL statements, transactions and pool checkouts per request (counted in the
server by bench/serve_counted.py: SQLAlchemy events, the same on SQLite and PostgreSQL), and the
echo's req/s divided by the operation's (how many times slower than the echo of the same round).
The summary is the median over the rounds. ``--large N`` (0: skip) then builds a register of N
registrations (bench/datasets.py) and measures 100-row ListLearners pages at 1 client: p50/p95.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TypedDict
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from stdnum.ee.ik import calc_check_digit  # noqa: E402

from bench.echo import echo_envelope  # noqa: E402

OPERATIONS = ("LookupPerson", "RegisterStudent", "MarkFunding", "GetStudent", "ListLearners")
CLOCK_START = "2026-11-16T10:00:00+02:00"  # NVS_CLOCK_START of the gateway: a Monday of school year 2026-2027
SCHOOL_YEAR, FIRST_DAY = "2026-2027", "2026-09-01"
MONTHS = [f"{2026 + (8 + m) // 12}-{(8 + m) % 12 + 1:02d}" for m in range(12)]  # 2026-09 .. 2027-08
PROVIDER, PROGRAM = "300000011", "100000112"
USERNAME, PASSWORD = "sandbox-300000011", "Sandbox-300000011!"
ADMIN_USERNAME, ADMIN_PASSWORD = "sandbox-admin", "Sandbox-admin-central!"
NVS = "urn:lt:mokiniu-registras:nvs-gateway:v1"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
PASSWORD_TEXT = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText"
MAX_RATE = 2500  # envelopes prepared per client and second of a run: more than any server here answers
CLK_TCK = os.sysconf("SC_CLK_TCK")


# --- envelopes ------------------------------------------------------------------------
def child_code(index: int) -> str:
    """A checksum-valid personal code of a child born 2012-2016 (basket age in 2026-2027), unique for
    index < 3,564,000; serials below 990, so never one of the sandbox GR's special persons."""
    born = dt.date(2012, 1, 1) + dt.timedelta(days=index % 1800)
    serial = (index // 1800) % 990
    first10 = f"{5 + (index // 1_782_000) % 2}{born:%y%m%d}{serial:03d}"
    return first10 + calc_check_digit(first10 + "0")


def soap(body: str, username: str = USERNAME, password: str = PASSWORD) -> bytes:
    return (
        f'<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:nvs="{NVS}"><soapenv:Header>'
        f'<wsse:Security xmlns:wsse="{WSSE}"><wsse:UsernameToken><wsse:Username>{escape(username)}</wsse:Username>'
        f'<wsse:Password Type="{PASSWORD_TEXT}">{escape(password)}</wsse:Password></wsse:UsernameToken></wsse:Security>'
        f"</soapenv:Header><soapenv:Body>{body}</soapenv:Body></soapenv:Envelope>"
    ).encode()


def lookup_person(code: str) -> bytes:
    return soap(f"<nvs:LookupPerson><nvs:personalCode>{code}</nvs:personalCode></nvs:LookupPerson>")


def register_student(code: str, group_id: int, number: int) -> bytes:
    return soap(
        f"<nvs:RegisterStudent><nvs:personalCode>{code}</nvs:personalCode><nvs:groupId>{group_id}</nvs:groupId>"
        f"<nvs:firstLearningDate>{FIRST_DAY}</nvs:firstLearningDate><nvs:contract><nvs:typeCode>BILATERAL</nvs:typeCode>"
        f"<nvs:date>2026-08-28</nvs:date><nvs:number>B-{number}</nvs:number></nvs:contract></nvs:RegisterStudent>"
    )


def mark_funding(registration_id: int, month: str) -> bytes:
    return soap(
        f"<nvs:MarkFunding><nvs:registrationId>{registration_id}</nvs:registrationId>"
        f"<nvs:fundingTypeCode>NVS_BASKET</nvs:fundingTypeCode><nvs:fromMonth>{month}</nvs:fromMonth>"
        f"<nvs:toMonth>{month}</nvs:toMonth></nvs:MarkFunding>"
    )


def get_student(code: str) -> bytes:
    return soap(f"<nvs:GetStudent><nvs:personalCode>{code}</nvs:personalCode></nvs:GetStudent>")


def list_learners(cursor: str | None = None, *, username: str = USERNAME, password: str = PASSWORD) -> bytes:
    after = f"<nvs:cursor>{cursor}</nvs:cursor>" if cursor else ""
    return soap(
        f"<nvs:ListLearners><nvs:schoolYear>{SCHOOL_YEAR}</nvs:schoolYear><nvs:pageSize>100</nvs:pageSize>{after}</nvs:ListLearners>",
        username,
        password,
    )


def create_group(name: str) -> bytes:
    return soap(
        f"<nvs:CreateGroup><nvs:schoolYear>{SCHOOL_YEAR}</nvs:schoolYear><nvs:programCode>{PROGRAM}</nvs:programCode>"
        f"<nvs:name>{escape(name)}</nvs:name><nvs:subDirectionCode>MUSIC.PIANO</nvs:subDirectionCode></nvs:CreateGroup>"
    )


_REGISTRATION_ID = re.compile(rb"registrationId>(\d+)<")
_GROUP_ID = re.compile(rb"groupId>(\d+)<")
_NEXT_CURSOR = re.compile(rb"nextCursor>([^<]+)<")
_FAULT_CODE = re.compile(rb"<(?:\w+:)?code>([^<]+)<")


# --- a raw keep-alive HTTP/1.1 client ---------------------------------------------------
class Connection:
    """One keep-alive connection: POST prepared bytes, read the whole answer (Content-Length or chunked).
    An answer with ``Connection: close`` (the gateway's to a batch) is followed by a new connection, as an
    HTTP client does, made before the next request is sent (its time counts in that request's)."""

    def __init__(self, port: int, path: str) -> None:
        self.port = port
        self.sock = self._connect()
        self.closed_by_server = False
        self.head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: text/xml; charset=utf-8\r\n".encode()
        )
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=120)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    def request_bytes(self, body: bytes) -> bytes:
        return self.head + b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body

    def _fill(self) -> None:
        chunk = self.sock.recv(262144)
        if not chunk:
            raise ConnectionError("the server closed the connection")
        self.buffer += chunk

    def _take(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        taken, self.buffer = self.buffer[:size], self.buffer[size:]
        return taken

    def _line(self) -> bytes:
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line

    def call(self, request: bytes) -> tuple[int, bytes]:
        if self.closed_by_server:
            self.sock.close()
            self.sock, self.buffer, self.closed_by_server = self._connect(), b"", False
        self.sock.sendall(request)
        while b"\r\n\r\n" not in self.buffer:
            self._fill()
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers[name.strip().lower()] = value.strip()
        self.closed_by_server = headers.get(b"connection", b"").lower() == b"close"
        if b"content-length" in headers:
            return status, self._take(int(headers[b"content-length"]))
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            parts: list[bytes] = []
            while True:
                size = int(self._line().split(b";")[0], 16)
                if size == 0:
                    while self._line():
                        pass
                    return status, b"".join(parts)
                parts.append(self._take(size))
                self._take(2)
        raise ConnectionError("an answer without Content-Length or chunked encoding")

    def close(self) -> None:
        self.sock.close()


def call_once(port: int, body: bytes, path: str = "/registry") -> tuple[int, bytes]:
    connection = Connection(port, path)
    try:
        return connection.call(connection.request_bytes(body))
    finally:
        connection.close()


# --- server processes -------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    name: str
    port: int
    process: subprocess.Popen
    counts_dir: Path
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            except ProcessLookupError:
                pass

    def cpu(self) -> tuple[float, float, set[int]]:
        """Seconds of CPU of the server's processes (its process group): (server, its sandbox GR), and the pids."""
        server = gr = 0.0
        pids = set()
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                fields_ = stat[stat.rindex(")") + 2 :].split()
                if int(fields_[2]) != self.process.pid:  # pgrp
                    continue
                seconds = (int(fields_[11]) + int(fields_[12])) / CLK_TCK
                is_gr = b"sandbox-gr" in Path(f"/proc/{entry}/cmdline").read_bytes()
            except (OSError, ValueError):
                continue
            pids.add(int(entry))
            if is_gr:
                gr += seconds
            else:
                server += seconds
        return server, gr, pids

    def sql(self) -> dict[str, int]:
        total = {"statements": 0, "transactions": 0, "commits": 0, "checkouts": 0}
        for path in self.counts_dir.glob("*.json"):
            try:
                values = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            for key in total:
                total[key] += values.get(key, 0)
        return total


def start_server(name: str, argv: list[str], env: dict[str, str], work: Path) -> Server:
    port = free_port()
    counts_dir = work / f"sql-{name}-{port}"
    counts_dir.mkdir()
    log_path = work / f"{name}-{port}.log"
    environment = {
        **os.environ,
        **env,
        "NVS_PORT": str(port),
        "NVS_BENCH_SQL_COUNTS": str(counts_dir),
        "NVS_LOG_LEVEL": "WARNING",
    }
    environment["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), environment.get("PYTHONPATH", "")]))
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.serve_counted", *argv],
            cwd=ROOT,
            env=environment,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Server(name, port, process, counts_dir, log_path)
    deadline = time.monotonic() + 180
    probe = "/health" if name != "echo" else "/?wsdl"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{name} exited with {process.returncode}:\n{log_path.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{probe}", timeout=2):
                return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not answer within 180 s:\n{log_path.read_text()[-3000:]}")


# --- one measured run -------------------------------------------------------------------
@dataclass
class Run:
    target: str
    operation: str
    database: str
    clients: int
    round: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    rps: float = 0.0
    p50_ms: float = 0.0
    p95_ms: float = 0.0
    cpu_ms: float = 0.0
    gr_cpu_ms: float | None = None
    statements: float | None = None
    transactions: float | None = None
    checkouts: float | None = None
    first_error: str = ""
    answers: list[list[bytes]] = field(default_factory=list, repr=False)  # per client: the bodies, when kept


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def measure(
    server: Server,
    path: str,
    envelopes: list[list[bytes]],
    *,
    run: Run,
    seconds: float,
    keep: bool = False,
    expect: Callable[[bytes], bool] | None = None,
) -> Run:
    """Each client sends its envelopes in order on its own connection until ``seconds`` pass or they run out."""
    clients = len(envelopes)
    connections = [Connection(server.port, path) for _ in range(clients)]
    prepared = [[c.request_bytes(body) for body in bodies] for c, bodies in zip(connections, envelopes, strict=False)]
    latencies: list[list[float]] = [[] for _ in range(clients)]
    answers: list[list[bytes]] = [[] for _ in range(clients)]
    errors = [0] * clients
    first_error: list[str] = []
    finished = [0.0] * clients
    barrier = threading.Barrier(clients + 1)
    deadline = [0.0]

    def client(i: int) -> None:
        connection, mine, times, kept = connections[i], prepared[i], latencies[i], answers[i]
        barrier.wait()
        end = deadline[0]
        clock = time.perf_counter
        for request in mine:
            started = clock()
            if started >= end:
                break
            try:
                status, body = connection.call(request)
            except OSError as error:
                errors[i] += 1
                first_error.append(f"{type(error).__name__}: {error}")
                break
            times.append(clock() - started)
            if status != 200 or (expect is not None and not expect(body)):
                errors[i] += 1
                if not first_error:
                    code = _FAULT_CODE.search(body)
                    first_error.append(f"HTTP {status} {code.group(1).decode() if code else body[:200]!r}")
            if keep:
                kept.append(body)
        finished[i] = clock()

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    sql_before = server.sql()
    cpu_before, gr_before, pids_before = server.cpu()
    started = time.perf_counter()
    deadline[0] = started + seconds
    barrier.wait()
    for thread in threads:
        thread.join()
    elapsed = max(finished) - started
    cpu_after, gr_after, pids_after = server.cpu()
    for connection in connections:
        connection.close()
    time.sleep(0.3)  # the servers' counters are written ten times a second
    sql_after = server.sql()
    done = sum(len(t) for t in latencies)
    all_latencies = [value for times in latencies for value in times]
    run.requests, run.errors, run.seconds = done, sum(errors), elapsed
    run.rps = done / elapsed if elapsed > 0 else 0.0
    run.p50_ms = statistics.median(all_latencies) * 1000 if all_latencies else 0.0
    run.p95_ms = percentile(all_latencies, 0.95) * 1000
    if done:
        run.cpu_ms = (cpu_after - cpu_before) * 1000 / done
        if gr_after or gr_before:
            run.gr_cpu_ms = (gr_after - gr_before) * 1000 / done
        if server.name != "echo":
            run.statements = (sql_after["statements"] - sql_before["statements"]) / done
            run.transactions = (sql_after["transactions"] - sql_before["transactions"]) / done
            run.checkouts = (sql_after["checkouts"] - sql_before["checkouts"]) / done
    if pids_before != pids_after:
        run.first_error = (
            run.first_error + "; " if run.first_error else ""
        ) + "server processes changed during the run"
    if first_error:
        run.first_error = first_error[0]
    run.answers = answers
    return run


# --- the plan -----------------------------------------------------------------------------
class Codes:
    """Fresh personal codes, never used before in this benchmark's database."""

    def __init__(self) -> None:
        self.next = 0

    def take(self, count: int) -> list[str]:
        codes = [child_code(self.next + i) for i in range(count)]
        self.next += count
        return codes


class Scenario:
    """The gateway's state, as far as the benchmark needs it: the group, registrations, marks, codes."""

    def __init__(self, gateway: Server) -> None:
        self.gateway = gateway
        self.codes = Codes()
        self.group_id = 0
        self.registered: list[tuple[int, str]] = []  # (registration id, personal code)
        self.next_mark = 0  # registrations x months: the next free (registration, month) pair
        self.looked_up: list[list[str]] = []  # per client: codes the last LookupPerson run looked up

    def setup(self, registrations: int) -> None:
        status, body = call_once(self.gateway.port, create_group(f"Bench {uuid.uuid4().hex[:8]}"))
        found = _GROUP_ID.search(body)
        if status != 200 or not found:
            raise RuntimeError(f"CreateGroup failed: HTTP {status} {body[:300]!r}")
        self.group_id = int(found.group(1))
        connection = Connection(self.gateway.port, "/registry")
        try:
            for n, code in enumerate(self.codes.take(registrations)):
                status, body = connection.call(connection.request_bytes(register_student(code, self.group_id, n)))
                found = _REGISTRATION_ID.search(body)
                if status != 200 or not found:
                    raise RuntimeError(f"RegisterStudent failed: HTTP {status} {body[:300]!r}")
                self.registered.append((int(found.group(1)), code))
        finally:
            connection.close()

    def envelopes(self, operation: str, clients: int, seconds: float) -> list[list[bytes]]:
        per_client = max(20, int(MAX_RATE * seconds))
        if operation == "LookupPerson":
            self.looked_up = [self.codes.take(per_client) for _ in range(clients)]
            return [[lookup_person(code) for code in codes] for codes in self.looked_up]
        if operation == "RegisterStudent":
            lists = []
            for i in range(clients):
                primed = self.looked_up[i] if i < len(self.looked_up) else []
                codes = (primed + self.codes.take(per_client))[:per_client]
                lists.append([register_student(code, self.group_id, n) for n, code in enumerate(codes)])
            self.looked_up = []
            return lists
        if operation == "MarkFunding":
            pairs = len(self.registered) * len(MONTHS)
            available = pairs - self.next_mark
            take = min(per_client, available // clients)
            lists = []
            for _ in range(clients):
                lists.append(
                    [
                        mark_funding(self.registered[k // len(MONTHS)][0], MONTHS[k % len(MONTHS)])
                        for k in range(self.next_mark, self.next_mark + take)
                    ]
                )
                self.next_mark += take
            return lists
        if operation == "GetStudent":
            codes = [code for _, code in self.registered]
            return [
                [get_student(codes[(i * 7919 + n) % len(codes)]) for n in range(per_client)] for i in range(clients)
            ]
        if operation == "ListLearners":
            page = list_learners()
            return [[page] * per_client for _ in range(clients)]
        raise ValueError(operation)

    def after(self, operation: str, run: Run, envelopes: list[list[bytes]]) -> None:
        """Learn from the answers (to ``envelopes``) what the next runs need: the registrations made, the marks taken."""
        if operation == "LookupPerson":
            done = [len(answers) for answers in run.answers]
            self.looked_up = [codes[:n] for codes, n in zip(self.looked_up, done, strict=False)]
        if operation == "RegisterStudent":
            for answers, sent in zip(run.answers, envelopes, strict=False):
                for body, envelope in zip(answers, sent, strict=False):
                    found = _REGISTRATION_ID.search(body)
                    code = re.search(rb"personalCode>(\d{11})<", envelope)
                    if found and code:
                        self.registered.append((int(found.group(1)), code.group(1).decode()))


def run_operation(
    scenario: Scenario, operation: str, *, database: str, clients: int, round_number: int, seconds: float
) -> Run:
    envelopes = scenario.envelopes(operation, clients, seconds)
    expect = (lambda body: b"registrationId>" in body) if operation == "RegisterStudent" else None
    run = Run("gateway", operation, database, clients, round_number)
    keep = operation in ("LookupPerson", "RegisterStudent")
    measure(scenario.gateway, "/registry", envelopes, run=run, seconds=seconds, keep=keep, expect=expect)
    scenario.after(operation, run, envelopes)
    run.answers = []
    return run


def run_echo(echo: Server, *, database: str, clients: int, round_number: int, seconds: float) -> Run:
    per_client = max(20, int(MAX_RATE * seconds))
    envelopes = [[echo_envelope(f"client {i} call {n}") for n in range(per_client)] for i in range(clients)]
    run = Run("echo", "Echo", database, clients, round_number)
    return measure(echo, "/", envelopes, run=run, seconds=seconds, expect=lambda body: b"EchoResult>" in body)


def progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def describe(run: Run) -> str:
    sql = f"  {run.statements:5.1f} SQL {run.transactions:4.1f} tx" if run.statements is not None else ""
    errors = f"  {run.errors} ERRORS ({run.first_error})" if run.errors or run.first_error else ""
    return (
        f"  {run.target:7s} {run.operation:15s} {run.clients} client(s): {run.requests:6d} in {run.seconds:4.1f} s "
        f"{run.rps:7.1f}/s  p50 {run.p50_ms:6.1f} ms  p95 {run.p95_ms:6.1f} ms  CPU {run.cpu_ms:5.2f} ms/req{sql}{errors}"
    )


# --- databases --------------------------------------------------------------------------
@dataclass
class Database:
    kind: str
    url: str
    drop: Callable[[], None]


def scratch_database(kind: str, work: Path, postgres: str, label: str) -> Database:
    if kind == "sqlite":
        path = work / f"{label}.db"
        return Database(kind, f"sqlite:///{path}", lambda: None)
    from sqlalchemy import create_engine, text

    schema = f"nvs_bench_{os.getpid()}_{label}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(postgres)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    separator = "&" if "?" in postgres else "?"
    return Database(kind, f"{postgres}{separator}options=-csearch_path%3D{schema}", drop)


def start_gateway(database: Database, work: Path, label: str) -> Server:
    env = {"NVS_DATABASE_URL": database.url, "NVS_CLOCK_START": CLOCK_START}
    return start_server(f"gateway-{label}", ["gateway", "serve", "--sandbox"], env, work)


# --- the large register ---------------------------------------------------------------------
def large_list(kind: str, size: int, requests: int, work: Path, postgres: str) -> list[dict[str, Any]]:
    from sqlalchemy import create_engine

    from bench.datasets import generate

    database = scratch_database(kind, work, postgres, "large")
    gateway = start_gateway(database, work, f"{kind}-large")
    results = []
    try:
        progress(f"[{kind}] generating a register of {size:,} registrations (bench/datasets.py) ...")
        started = time.perf_counter()
        engine = create_engine(database.url)
        generate(engine, size)
        engine.dispose()
        progress(f"[{kind}] generated in {time.perf_counter() - started:.0f} s")
        for who, username, password in (
            ("provider", USERNAME, PASSWORD),
            ("administrator", ADMIN_USERNAME, ADMIN_PASSWORD),
        ):
            cursors: list[str | None] = [None]
            connection = Connection(gateway.port, "/registry")
            for _ in range(24):  # pages 1 to 25: keyset paging costs the same wherever it starts
                status, body = connection.call(
                    connection.request_bytes(list_learners(cursors[-1], username=username, password=password))
                )
                found = _NEXT_CURSOR.search(body)
                if status != 200 or not found:
                    break
                cursors.append(found.group(1).decode())
            connection.close()
            envelopes = [
                [
                    list_learners(cursors[n % len(cursors)], username=username, password=password)
                    for n in range(requests)
                ]
            ]
            measure(
                gateway, "/registry", envelopes[:1], run=Run("gateway", "ListLearners", kind, 1, 0), seconds=1.0
            )  # warm-up
            run = measure(
                gateway,
                "/registry",
                envelopes,
                run=Run("gateway", f"ListLearners:{who}", kind, 1, 0),
                seconds=600.0,
                expect=lambda body: body.count(b"registrationId>") >= 200,  # 100 rows: opening and closing tags
            )
            progress(describe(run))
            results.append(
                {**{k: v for k, v in asdict(run).items() if k != "answers"}, "registrations": size, "scope": who}
            )
    finally:
        gateway.stop()
        database.drop()
    return results


# --- reporting ----------------------------------------------------------------------------
class Summary(TypedDict):
    """One row of the summary table: medians over the rounds (None: not measured)."""

    database: str
    operation: str
    clients: int
    rounds: int
    rps: float | None
    p50_ms: float | None
    p95_ms: float | None
    cpu_ms: float | None
    gr_cpu_ms: float | None
    statements: float | None
    transactions: float | None
    checkouts: float | None
    echo_rps: float | None
    echo_cpu_ms: float | None
    times_echo: float | None
    errors: int
    ratio_range: tuple[float, float] | None


def summarise(runs: list[Run]) -> list[Summary]:
    """Median over the rounds, per database, operation and clients; the ratio to the same round's echo."""
    echoes = {(r.database, r.clients, r.round): r for r in runs if r.target == "echo"}
    groups: dict[tuple[str, str, int], list[Run]] = {}
    for run in runs:
        groups.setdefault((run.database, run.operation, run.clients), []).append(run)
    rows: list[Summary] = []
    for (database, operation, clients), members in groups.items():

        def median(values: Sequence[float | None]) -> float | None:
            present = [v for v in values if v is not None]
            return statistics.median(present) if present else None

        ratios = [echoes[(m.database, m.clients, m.round)].rps / m.rps for m in members if m.target != "echo" and m.rps]
        echo_members = [
            echoes[(m.database, m.clients, m.round)] for m in members if (m.database, m.clients, m.round) in echoes
        ]
        rows.append(
            dict(
                database=database,
                operation=operation,
                clients=clients,
                rounds=len(members),
                rps=median([m.rps for m in members]),
                p50_ms=median([m.p50_ms for m in members]),
                p95_ms=median([m.p95_ms for m in members]),
                cpu_ms=median([m.cpu_ms for m in members]),
                gr_cpu_ms=median([m.gr_cpu_ms for m in members]),
                statements=median([m.statements for m in members]),
                transactions=median([m.transactions for m in members]),
                checkouts=median([m.checkouts for m in members]),
                echo_rps=median([e.rps for e in echo_members]),
                echo_cpu_ms=median([e.cpu_ms for e in echo_members]),
                times_echo=median(ratios) if ratios else None,
                errors=sum(m.errors for m in members),
                ratio_range=(min(ratios), max(ratios)) if ratios else None,
            )
        )
    order = {name: i for i, name in enumerate(("Echo",) + OPERATIONS)}
    return sorted(rows, key=lambda r: (r["database"], order.get(str(r["operation"]), 99), r["clients"]))


def _f(value: object, digits: int = 1) -> str:
    return "–" if value is None else f"{value:,.{digits}f}" if isinstance(value, float) else str(value)


def markdown(rows: list[Summary], large: list[dict[str, Any]], header: str) -> str:
    lines = [header, ""]
    lines.append(
        "| database | operation | clients | req/s | p50 ms | p95 ms | server CPU ms/req | GR CPU ms/req | SQL/req | tx/req | pool checkouts/req | echo req/s | × echo (range) |"
    )
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        times_echo, ratio_range = r["times_echo"], r["ratio_range"]
        ratio = (
            ""
            if times_echo is None or ratio_range is None  # both come from the same ratios: both or neither
            else f"{times_echo:.1f}× ({ratio_range[0]:.1f}–{ratio_range[1]:.1f})"
        )
        errors = f" ⚠ {r['errors']} errors" if r["errors"] else ""
        lines.append(
            f"| {r['database']} | {r['operation']}{errors} | {r['clients']} | {_f(r['rps'], 0)} | {_f(r['p50_ms'])} | {_f(r['p95_ms'])} | "
            f"{_f(r['cpu_ms'], 2)} | {_f(r['gr_cpu_ms'], 2)} | {_f(r['statements'])} | {_f(r['transactions'])} | {_f(r['checkouts'])} | "
            f"{_f(r['echo_rps'], 0)} | {ratio} |"
        )
    if large:
        lines += [
            "",
            "| database | register | ListLearners page of 100, 1 client, as | requests | p50 ms | p95 ms | server CPU ms/req | SQL/req |",
            "|---|---:|---|---:|---:|---:|---:|---:|",
        ]
        for big in large:
            lines.append(
                f"| {big['database']} | {big['registrations']:,} | {big['scope']} | {big['requests']} | {_f(big['p50_ms'])} | {_f(big['p95_ms'])} | "
                f"{_f(big['cpu_ms'], 2)} | {_f(big['statements'])} |"
            )
    return "\n".join(lines) + "\n"


def machine() -> str:
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
    except (OSError, StopIteration):
        model = "?"
    return f"{os.cpu_count()} cores ({model}), load average {os.getloadavg()[0]:.1f} at the start"


def server_kind() -> str:
    """What `nvs-gateway serve` runs, as the product under test says (a product before gateway/server.py: waitress)."""
    if not (ROOT / "gateway" / "server.py").exists():
        threads = os.environ.get("NVS_THREADS", "8")
        return f"waitress, 1 process x {threads} threads (the sandbox GR in the same process)"
    probe = "from gateway.config import Settings\nimport gateway.server as g\nprint(g.describe(Settings.from_env()))\n"
    kind = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    return f"{kind} (the sandbox GR in a process of its own)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--databases", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("NVS_BENCH_DATABASE_URL", ""),
        help="PostgreSQL URL (default: NVS_BENCH_DATABASE_URL)",
    )
    parser.add_argument("--clients", default="1,4,8", help="comma-separated client counts")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per run")
    parser.add_argument("--operations", default=",".join(OPERATIONS))
    parser.add_argument(
        "--setup-registrations", type=int, default=120, help="registrations made through the API before the first round"
    )
    parser.add_argument(
        "--large", type=int, default=500_000, help="registrations of the large register for ListLearners (0: skip)"
    )
    parser.add_argument(
        "--large-requests", type=int, default=200, help="ListLearners pages measured on the large register"
    )
    parser.add_argument("--large-databases", help="the databases of the large register (default: those of --databases)")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown table here")
    parser.add_argument("--json", type=Path, help="also write every run here")
    args = parser.parse_args(argv)

    databases = [d.strip() for d in args.databases.split(",") if d.strip()]
    if "postgres" in databases and not args.postgres:
        progress("no --postgres URL (nor NVS_BENCH_DATABASE_URL): PostgreSQL skipped")
        databases.remove("postgres")
    large_databases = [
        d.strip() for d in (args.large_databases or ",".join(databases)).split(",") if d.strip() in databases
    ]
    clients_levels = [int(c) for c in args.clients.split(",")]
    operations = [o.strip() for o in args.operations.split(",") if o.strip()]
    unknown = set(operations) - set(OPERATIONS)
    if unknown:
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")

    work = Path(tempfile.mkdtemp(prefix="nvs-bench-"))
    kind = server_kind()
    header = (
        f"`python -m bench.request_path --rounds {args.rounds} --seconds {args.seconds:g} --clients {args.clients}` on "
        f"{dt.date.today()}, {machine()}; server: {kind}; medians of {args.rounds} round(s)."
    )
    progress(header)
    runs: list[Run] = []
    large: list[dict[str, Any]] = []
    servers: list[Server] = []
    try:
        echo = start_server("echo", ["echo"], {}, work)
        servers.append(echo)
        for database_kind in databases:
            database = scratch_database(database_kind, work, args.postgres, "matrix")
            gateway = start_gateway(database, work, database_kind)
            servers.append(gateway)
            try:
                scenario = Scenario(gateway)
                progress(
                    f"[{database_kind}] setup: a group and {args.setup_registrations} registrations through the API"
                )
                scenario.setup(args.setup_registrations)
                progress(f"[{database_kind}] warm-up")
                run_echo(echo, database=database_kind, clients=2, round_number=0, seconds=1.0)
                for operation in operations:
                    run_operation(scenario, operation, database=database_kind, clients=2, round_number=0, seconds=0.5)
                for round_number in range(1, args.rounds + 1):
                    for clients in clients_levels:
                        progress(f"[{database_kind}] round {round_number}/{args.rounds}, {clients} client(s)")
                        run = run_echo(
                            echo,
                            database=database_kind,
                            clients=clients,
                            round_number=round_number,
                            seconds=args.seconds,
                        )
                        progress(describe(run))
                        runs.append(run)
                        for operation in operations:
                            run = run_operation(
                                scenario,
                                operation,
                                database=database_kind,
                                clients=clients,
                                round_number=round_number,
                                seconds=args.seconds,
                            )
                            progress(describe(run))
                            runs.append(run)
            finally:
                gateway.stop()
                servers.remove(gateway)
                database.drop()
        for database_kind in large_databases if args.large else []:
            large += large_list(database_kind, args.large, args.large_requests, work, args.postgres)
    finally:
        for server in servers:
            server.stop()
        if args.json:  # also what was measured before a failure
            args.json.write_text(
                json.dumps(
                    dict(
                        header=header,
                        large=large,
                        runs=[{k: v for k, v in asdict(r).items() if k != "answers"} for r in runs],
                    ),
                    indent=2,
                    default=str,
                )
            )
    rows = summarise(runs)
    table = markdown(rows, large, header)
    print(table)
    if args.markdown:
        args.markdown.write_text(table)
    if args.json:
        args.json.write_text(
            json.dumps(
                dict(
                    header=header,
                    summary=rows,
                    large=large,
                    runs=[{k: v for k, v in asdict(r).items() if k != "answers"} for r in runs],
                ),
                indent=2,
                default=str,
            )
        )
    failed = sum(r.errors for r in runs) + sum(int(r["errors"]) for r in large)
    shutil.rmtree(work, ignore_errors=True)
    if failed:
        progress(f"{failed} call(s) failed: the figures of those rows are not to be trusted (see the runs above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
