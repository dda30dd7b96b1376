"""Batch benchmark (issue 10): N registrations through RegisterStudents, in batches of 500.

    python -m bench.batch_throughput [--registrations 100000] [--batch 500] [--clients 2]
                                     [--database postgres|sqlite] [--postgres URL] [--markdown FILE]

The gateway (``nvs-gateway serve --sandbox``: its sandbox population register with it) runs in
processes of its own on a scratch database (a scratch schema of the PostgreSQL server, or a fresh
SQLite file); the load generator is this process: raw keep-alive HTTP, every envelope built before
the clock starts, each a batch of new children (so GR is asked about every one of them). Every
answer is checked: HTTP 200 and ``accepted`` equal to the batch's size.

As a floor of the same run, single ``RegisterStudent`` calls are measured first, for
``--single-seconds`` with the same clients: the batch figure is read against it (the machine is
shared, so the ratio is what holds). Printed: registrations/s and the whole run's time, p50/p95
per batch, the server's CPU per registration, SQL statements per registration, and the server's
memory (resident set of its processes) sampled through the run: at the start, the highest, and
at the end; flat memory means the highest stays near the start.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.request_path import (  # noqa: E402
    FIRST_DAY,
    Run,
    Server,
    call_once,
    child_code,
    create_group,
    machine,
    measure,
    register_student,
    scratch_database,
    soap,
    start_gateway,
)

_ACCEPTED = re.compile(rb"accepted>(\d+)<")
_GROUP_ID = re.compile(rb"groupId>(\d+)<")


def register_students(codes: list[str], group_id: int, first_number: int) -> bytes:
    records = "".join(
        f"<nvs:record><nvs:personalCode>{code}</nvs:personalCode><nvs:groupId>{group_id}</nvs:groupId>"
        f"<nvs:firstLearningDate>{FIRST_DAY}</nvs:firstLearningDate><nvs:contract><nvs:typeCode>BILATERAL"
        f"</nvs:typeCode><nvs:date>2026-08-28</nvs:date><nvs:number>P-{first_number + i}</nvs:number></nvs:contract>"
        "</nvs:record>"
        for i, code in enumerate(codes)
    )
    return soap(f"<nvs:RegisterStudents>{records}</nvs:RegisterStudents>")


def resident_kib(server: Server) -> int:
    """The resident set of the server's processes (its process group), in KiB."""
    _, _, pids = server.cpu()
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def new_group(gateway: Server, name: str) -> int:
    status, body = call_once(gateway.port, create_group(name))
    found = _GROUP_ID.search(body)
    if status != 200 or found is None:
        raise RuntimeError(f"CreateGroup: HTTP {status} {body[:300]!r}")
    return int(found.group(1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--registrations", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500, help="records per RegisterStudents (at most 500)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent connections sending batches")
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--postgres", default=os.environ.get("NVS_BENCH_DATABASE_URL", ""))
    parser.add_argument("--single-seconds", type=float, default=5.0, help="the floor: single RegisterStudent calls")
    parser.add_argument("--markdown", type=Path, help="also write the Markdown table here")
    args = parser.parse_args(argv)
    if args.database == "postgres" and not args.postgres:
        parser.error("--postgres URL (or NVS_BENCH_DATABASE_URL) is needed for PostgreSQL")
    kind = "postgresql" if args.database == "postgres" else "sqlite"
    batches = -(-args.registrations // args.batch)

    with tempfile.TemporaryDirectory(prefix="nvs-batch-bench-") as directory:
        work = Path(directory)
        database = scratch_database(kind, work, args.postgres, "batch")
        gateway = start_gateway(database, work, f"{kind}-batch")
        try:
            print(f"# {machine()}; {kind}; {args.clients} client(s)", file=sys.stderr)
            # The floor: single registrations, new children, the same clients.
            floor_group = new_group(gateway, "Pavieniai")
            singles = [
                [register_student(child_code(5_000_000 + c * 100_000 + i), floor_group, i) for i in range(20_000)]
                for c in range(args.clients)
            ]
            single = measure(
                gateway,
                "/registry",
                singles,
                run=Run("gateway", "RegisterStudent", kind, args.clients, 1),
                seconds=args.single_seconds,
            )
            print(f"RegisterStudent one by one: {single.rps:.0f}/s, p95 {single.p95_ms:.0f} ms", file=sys.stderr)

            groups = [new_group(gateway, f"Paketas {g}") for g in range(batches)]
            envelopes: list[list[bytes]] = [[] for _ in range(args.clients)]
            for b in range(batches):
                size = min(args.batch, args.registrations - b * args.batch)
                codes = [child_code(b * args.batch + i) for i in range(size)]
                envelopes[b % args.clients].append(register_students(codes, groups[b], b * args.batch))
            print(f"{batches} batches of {args.batch} prepared; sending", file=sys.stderr)

            memory: list[int] = [resident_kib(gateway)]
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.wait(1.0):
                    memory.append(resident_kib(gateway))

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            sizes = [min(args.batch, args.registrations - b * args.batch) for b in range(batches)]
            run = measure(
                gateway,
                "/registry",
                envelopes,
                run=Run("gateway", "RegisterStudents", kind, args.clients, 1),
                seconds=3600,
                keep=True,
                expect=lambda body: (found := _ACCEPTED.search(body)) is not None and int(found.group(1)) in sizes,
            )
            sampling.set()
            sampler.join()
            memory.append(resident_kib(gateway))
            accepted = sum(int(m.group(1)) for c in run.answers for body in c if (m := _ACCEPTED.search(body)))
            batch_latencies = [run.p50_ms, run.p95_ms]
            registrations_per_second = accepted / run.seconds if run.seconds else 0.0
            per_registration_cpu = run.cpu_ms * run.requests / accepted if accepted else 0.0
            statements = (run.statements or 0.0) * run.requests / accepted if accepted else 0.0
            rows = [
                ("registrations stored", f"{accepted:,} of {args.registrations:,} ({run.errors} batch errors)"),
                ("whole run", f"{run.seconds:.1f} s"),
                ("registrations/s, batches", f"{registrations_per_second:,.0f}"),
                ("registrations/s, one by one (floor, same run)", f"{single.rps:,.0f}"),
                ("batch / one by one", f"{registrations_per_second / single.rps:.1f}x" if single.rps else "-"),
                ("batch p50 / p95", f"{batch_latencies[0]:.0f} / {batch_latencies[1]:.0f} ms"),
                ("server CPU per registration", f"{per_registration_cpu:.2f} ms"),
                ("SQL statements per registration", f"{statements:.3f}"),
                (
                    "server memory: start / highest / end",
                    f"{memory[0] / 1024:.0f} / {max(memory) / 1024:.0f} / {memory[-1] / 1024:.0f} MiB",
                ),
            ]
            if run.first_error:
                rows.append(("first error", run.first_error))
            table = "| measure | value |\n|---|---|\n" + "".join(f"| {name} | {value} |\n" for name, value in rows)
            print(table)
            if args.markdown:
                args.markdown.write_text(f"{machine()}; {kind}; {args.clients} client(s)\n\n{table}", encoding="utf-8")
            return 0 if accepted == args.registrations and not run.errors else 1
        finally:
            gateway.stop()
            database.drop()


if __name__ == "__main__":
    sys.exit(main())
