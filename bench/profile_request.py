"""Profile one operation on the live gateway: where its server CPU goes, by function.

Starts ``nvs-gateway serve --sandbox`` (one worker, so one process to sample) on a scratch
database, prepares the state the operation needs as ``bench/request_path.py`` does, then samples
the worker with py-spy while one client sends the operation's envelopes over keep-alive HTTP.
Prints the functions with the most samples, by their own time and with their callees; writes the
collapsed stacks (flame-graph input) beside them. py-spy comes from PyPI (``pip install py-spy``);
it is a profiling tool, not a dependency of the product.

    python -m bench.profile_request RegisterStudent --database postgres --requests 2000
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.request_path import (
    CLOCK_START,
    MAX_RATE,
    Connection,
    Scenario,
    scratch_database,
    start_server,
)

OPERATIONS = ("LookupPerson", "RegisterStudent", "MarkFunding", "GetStudent", "ListLearners", "RegisterStudents")


def worker_pid(master: int) -> int:
    """The gateway's worker: the descendant of the master that runs the registry (gunicorn's worker,
    not the sandbox GR's process, whose command line names its own entry point)."""
    pending, found = [master], []
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    for pid in reversed(found):
        command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        if b"sandbox-gr" not in command:
            return pid
    return master


def summarise(collapsed: Path, top: int) -> str:
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        count = int(count_text)
        frames = stack.split(";")
        total += count
        own[frames[-1]] += count
        for frame in set(frames):
            inclusive[frame] += count
    lines = [f"{total} samples", "", "own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in own.most_common(top)]
    lines += ["", "with callees:"]
    lines += [f"  {100 * n / total:5.1f}%  {frame}" for frame, n in inclusive.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("operation", choices=OPERATIONS)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument(
        "--postgres",
        default=os.environ.get("NVS_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("var/profile"))
    parser.add_argument(
        "--gil", action="store_true", help="sample only the thread holding the GIL: CPU spent in Python, not waits"
    )
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        parser.error("py-spy is not installed: pip install py-spy")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="nvs-profile-") as scratch:
        work = Path(scratch)
        database = scratch_database(args.database, work, args.postgres, "profile")
        env = {
            "NVS_DATABASE_URL": database.url,
            "NVS_CLOCK_START": CLOCK_START,
            "NVS_WORKERS": "1",
            "NVS_THREADS": "2",
        }
        gateway = start_server("gateway", ["gateway", "serve", "--sandbox"], env, work)
        try:
            scenario = Scenario(gateway)
            scenario.setup(200)
            seconds = max(1.0, args.requests / MAX_RATE)
            if args.operation == "RegisterStudent":  # primed by a LookupPerson each, as in the benchmark
                warm = Connection(gateway.port, "/registry")
                for envelope in scenario.envelopes("LookupPerson", 1, seconds)[0][: args.requests]:
                    warm.call(warm.request_bytes(envelope))
                warm.close()
            if args.operation == "RegisterStudents":  # batches of 500 new children, each into a group of its own
                from bench.batch_throughput import new_group, register_students
                from bench.request_path import child_code

                envelopes = [
                    register_students(
                        [child_code(1_000_000 + b * 500 + i) for i in range(500)], new_group(gateway, f"P{b}"), b * 500
                    )
                    for b in range(args.requests + 20)
                ]
            else:
                envelopes = scenario.envelopes(args.operation, 1, seconds)[0][: args.requests]
            pid = worker_pid(gateway.process.pid)
            collapsed = args.out / f"{args.operation}-{args.database}.collapsed"
            connection = Connection(gateway.port, "/registry")
            warm_up = 2 if args.operation == "RegisterStudents" else 20
            for envelope in envelopes[:warm_up]:  # warm up outside the samples
                connection.call(connection.request_bytes(envelope))
            profiler = subprocess.Popen(
                [py_spy, "record", "--pid", str(pid), "--format", "raw", "--rate", "500", "-o", str(collapsed)]
                + (["--gil"] if args.gil else []),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            time.sleep(1.0)
            started = time.monotonic()
            failed = 0
            for envelope in envelopes[warm_up : warm_up + args.requests]:
                status, _ = connection.call(connection.request_bytes(envelope))
                failed += status != 200
            elapsed = time.monotonic() - started
            profiler.send_signal(2)
            profiler.wait(timeout=60)
            connection.close()
            count = len(envelopes[warm_up : warm_up + args.requests])
            print(f"{args.operation} on {args.database}: {count} calls in {elapsed:.1f} s, {failed} failed")
            print(summarise(collapsed, args.top))
            print(f"\ncollapsed stacks: {collapsed}")
        finally:
            gateway.stop()
            database.drop()
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
