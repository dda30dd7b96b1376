"""Population-register check benchmark: stored persons against the sandbox GR over real HTTP.

    .venv/bin/python bench/gr_check_throughput.py [--persons 3000] [--concurrency 1 4 8] [--latency 0] [--database URL]

Stores N persons (a tenth of them with a stale surname, so the check has findings to store),
serves the sandbox GR with waitress on a free loopback port (optionally answering after
``--latency`` seconds, as a real register would), and runs the check (``--restart`` each time)
through the zeep client once per concurrency. Prints persons per second. Bounded: N persons per run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import socket
import sys
import tempfile
import threading
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import waitress.server  # noqa: E402
from stdnum.ee.ik import calc_check_digit  # noqa: E402

from clients.population_register.client import ZeepPopulationRegister  # noqa: E402
from clients.population_register.sandbox import build_sandbox_app, generated_person  # noqa: E402
from gateway.bootstrap import prepare_database, unit_of_work_factory  # noqa: E402
from gateway.checks import PopulationRegisterCheck  # noqa: E402
from gateway.clock import SystemClock  # noqa: E402
from storage.db import make_engine  # noqa: E402


def code(n: int) -> str:
    first10 = f"5{10 + n % 9:02d}{1 + n // 28 % 12:02d}{1 + n % 28:02d}{n // 336 % 1000:03d}"
    return first10 + calc_check_digit(first10 + "0")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--persons", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 8])
    parser.add_argument("--latency", type=float, default=0.0, help="seconds the sandbox GR waits before each answer")
    parser.add_argument("--database", help="SQLAlchemy URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    url = args.database or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(url)
    prepare_database(engine)
    uow_factory = unit_of_work_factory(engine)
    now = dt.datetime.now(dt.UTC)
    with uow_factory() as uow:
        codes = sorted({code(n) for n in range(args.persons * 2)})[: args.persons]
        for index, value in enumerate(codes):
            person = generated_person(value)
            assert person is not None
            if index % 10 == 0:
                person = replace(person, last_name=person.last_name + "-Senas")
            uow.persons.save(person, checked_at=now)
        uow.commit()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = waitress.server.create_server(
        build_sandbox_app(latency_seconds=args.latency), host="127.0.0.1", port=port, threads=max(args.concurrency) + 2
    )
    threading.Thread(target=server.run, daemon=True).start()
    print(f"{len(codes)} persons on {url.split('://')[0]}, sandbox GR latency {args.latency * 1000:.0f} ms", flush=True)
    for concurrency in args.concurrency:
        with ZeepPopulationRegister(f"http://127.0.0.1:{port}/population-register", read_timeout=30) as gr:
            summary = PopulationRegisterCheck(uow_factory, gr, concurrency=concurrency, clock=SystemClock()).run(
                restart=True
            )
        assert summary.completed, summary.stopped_by
        print(
            f"  concurrency {concurrency}: {summary.done_now} persons in {summary.seconds:.1f} s = "
            f"{summary.per_second:.0f} persons/s ({sum(summary.findings.values())} findings)",
            flush=True,
        )
    server.close()
    engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
