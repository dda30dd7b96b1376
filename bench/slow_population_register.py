"""The gateway with a slow and failing population register (issue 9, "done when").

    python -m bench.slow_population_register [--databases sqlite,postgres] [--postgres URL]
                                             [--latency 7] [--failure-rate 0.3] [--clients 8] [--seconds 30]

``nvs-gateway serve --sandbox`` runs with its sandbox GR answering after ``--latency`` seconds and
failing ``--failure-rate`` of its calls, on a scratch database. From this process, ``--clients``
threads send RegisterStudent calls (new children: GR is asked for each), and as many send calls that
do not need GR (ListGroups, and GetStudent of children registered before GR was slowed). It prints, per operation: calls, answers by fault code,
the longest and p95 wait, and how many calls waited past the documented bound (``NVS_GR_DEADLINE``,
plus a second of slack for the HTTP round trip and the answer); then whether any registration
was stored without its access-log record or feed event (nothing half-written).
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.request_path import (  # noqa: E402
    CLOCK_START,
    Connection,
    call_once,
    child_code,
    create_group,
    free_port,
    get_student,
    percentile,
    register_student,
    scratch_database,
    soap,
    start_server,
)

_CODE = re.compile(rb"<(?:\w+:)?code>([A-Za-z]+)</")


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing listens on port {port}")


def outcome(status: int, body: bytes) -> str:
    if status == 200:
        return "ok"
    found = _CODE.search(body)
    return found.group(1).decode() if found else f"HTTP {status} without a fault code"


def run(kind: str, args: argparse.Namespace, work: Path) -> None:
    database = scratch_database(kind, work, args.postgres, "slowgr")
    env = {
        "NVS_DATABASE_URL": database.url,
        "NVS_CLOCK_START": CLOCK_START,
        "NVS_SANDBOX_GR_LATENCY": "0",
        "NVS_SANDBOX_GR_FAILURE_RATE": "0",
    }
    server = start_server(f"gateway-{kind}-setup", ["gateway", "serve", "--sandbox"], env, work)
    try:
        status, body = call_once(server.port, create_group("Slow GR"))
        found = re.search(rb"groupId>(\d+)<", body)
        if found is None:
            raise RuntimeError(f"CreateGroup answered {status} without a groupId: {body[:500]!r}")
        group_id = int(found.group(1))
        known = [child_code(900_000 + i) for i in range(20)]
        for number, code in enumerate(known):
            assert call_once(server.port, register_student(code, group_id, number))[0] == 200
    finally:
        server.stop()
    # The slow GR in a process of its own, called directly, as a production gateway calls GR on another
    # host (through `serve --sandbox`'s forwarder, each waiting call would also hold a gateway thread).
    gr_port = free_port()
    gr_env = {
        **os.environ,
        "NVS_SANDBOX_GR_LATENCY": str(args.latency),
        "NVS_SANDBOX_GR_FAILURE_RATE": str(args.failure_rate),
        "NVS_LOG_LEVEL": "WARNING",
    }
    gr = subprocess.Popen(
        [sys.executable, "-m", "gateway.cli", "sandbox-gr", "--port", str(gr_port), "--threads", "64"],
        cwd=ROOT,
        env=gr_env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(gr_port)
    env.update(NVS_POPULATION_REGISTER_URL=f"http://127.0.0.1:{gr_port}/population-register")
    server = start_server(f"gateway-{kind}-slow", ["gateway", "serve", "--sandbox"], env, work)
    bound = float(os.environ.get("NVS_GR_DEADLINE", "8")) + 1.0
    waits: dict[str, list[float]] = collections.defaultdict(list)
    answers: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    lock = threading.Lock()
    stop_at = time.monotonic() + args.seconds
    serial = iter(range(1_000_000))

    def client(operation: str) -> None:
        connection = Connection(server.port, "/registry")
        try:
            while time.monotonic() < stop_at:
                with lock:
                    n = next(serial)
                if operation == "RegisterStudent":
                    body = register_student(child_code(1_000_000 + n), group_id, 1000 + n)
                elif n % 2:
                    body = get_student(known[n % len(known)])
                else:
                    body = soap("<nvs:ListGroups><nvs:schoolYear>2026-2027</nvs:schoolYear></nvs:ListGroups>")
                started = time.monotonic()
                status, answer = connection.call(connection.request_bytes(body))
                with lock:
                    waits[operation].append(time.monotonic() - started)
                    answers[operation][outcome(status, answer)] += 1
        finally:
            connection.close()

    threads = [
        threading.Thread(target=client, args=(op,))
        for op in ("RegisterStudent", "without GR")
        for _ in range(args.clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    server.stop()
    gr.terminate()
    gr.wait()
    print(
        f"[{kind}] sandbox GR latency {args.latency:g} s, failure rate {args.failure_rate:.0%}; bound {bound:g} s (NVS_GR_DEADLINE + 1 s)"
    )
    for operation, values in waits.items():
        past = sum(1 for v in values if v > bound)
        print(
            f"  {operation:16} {len(values):5} calls  longest {max(values):6.2f} s  p95 {percentile(values, 0.95):6.2f} s  "
            f"past the bound {past}  answers {dict(answers[operation])}"
        )
    from sqlalchemy import create_engine, text

    engine = create_engine(database.url)
    with engine.connect() as connection:
        half = connection.execute(
            text(
                "SELECT count(*) FROM registration r JOIN person p ON p.id = r.person_id WHERE NOT EXISTS ("
                " SELECT 1 FROM access_log l JOIN access_log_person lp ON lp.access_log_id = l.id"
                " WHERE lp.personal_code = p.personal_code AND l.operation = 'RegisterStudent' AND l.outcome = 'ok')"
                " OR NOT EXISTS (SELECT 1 FROM change_event e WHERE e.registration_id = r.id AND e.kind = 'REGISTERED')"
            )
        ).scalar_one()
        stored = connection.execute(text("SELECT count(*) FROM registration")).scalar_one()
    engine.dispose()
    print(f"  registrations stored {stored}, of them without their access-log record or feed event: {half}")
    database.drop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--postgres", default=os.environ.get("NVS_BENCH_DATABASE_URL", ""))
    parser.add_argument("--latency", type=float, default=7.0)
    parser.add_argument("--failure-rate", type=float, default=0.3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="nvs-slowgr-") as work:
        for kind in args.databases.split(","):
            if kind == "postgres" and not args.postgres:
                print("postgres: skipped (no --postgres or NVS_BENCH_DATABASE_URL)")
                continue
            run(kind, args, Path(work))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
