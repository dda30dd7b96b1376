"""Request-path benchmark: real HTTP, zeep clients, the sandbox GR, SQLite or PostgreSQL.

    .venv/bin/python bench/registry_throughput.py [--clients 4] [--requests 200] [--database URL]

Starts the gateway in-process on a free loopback port with a fresh SQLite file (or the
given database, which must be empty or a scratch one), then has N zeep clients call
LookupPerson and RegisterStudent. Prints throughput and latency percentiles. Bounded:
it stops after clients x requests calls.
"""
from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import waitress.server  # noqa: E402
import zeep  # noqa: E402
from stdnum.ee.ik import calc_check_digit  # noqa: E402
from zeep.transports import Transport  # noqa: E402
from zeep.wsse.username import UsernameToken  # noqa: E402

from gateway.bootstrap import build_gateway, prepare_database, unit_of_work_factory  # noqa: E402
from gateway.cli import _start_private_sandbox_gr  # noqa: E402
from gateway.config import Settings  # noqa: E402
from gateway.domain.calendar import SchoolYear  # noqa: E402
from gateway.sandbox import install_sandbox  # noqa: E402
from storage.db import make_engine  # noqa: E402


def child(n: int) -> str:
    first10 = f"5{10 + n % 9:02d}0{1 + n % 9}{10 + n % 18:02d}{n % 1000:03d}"
    return first10 + calc_check_digit(first10 + "0")


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--requests", type=int, default=200, help="calls per client, per operation")
    parser.add_argument("--database", help="SQLAlchemy URL (default: a fresh SQLite file)")
    args = parser.parse_args()

    url = args.database or f"sqlite:///{tempfile.mkdtemp()}/bench.db"
    engine = make_engine(url)
    prepare_database(engine)
    uow_factory = unit_of_work_factory(engine)
    with uow_factory() as uow:
        classifiers = uow.classifiers.load()
    users = install_sandbox(uow_factory, classifiers)
    with __import__("socket").socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # The registry calls its sandbox GR on a server of its own, as `nvs-gateway serve --sandbox` does.
    settings = Settings(database_url=url, port=port, threads=8, population_register_url=_start_private_sandbox_gr(Settings()))
    gateway = build_gateway(settings, sandbox=True, engine=engine)
    server = waitress.server.create_server(gateway.site, host="127.0.0.1", port=port, threads=8)
    threading.Thread(target=server.run, daemon=True).start()

    wsdl = f"http://127.0.0.1:{port}/registry?wsdl"
    providers = [u for u in users if u.institution_code == "300000011"]
    year = SchoolYear.containing(dt.date.today())
    setup = zeep.Client(wsdl, wsse=UsernameToken(providers[0].username, providers[0].password)).service
    groups = [
        setup.CreateGroup(schoolYear=str(year), programCode="100000112", name=f"Bench {i}", subDirectionCode=["MUSIC.PIANO"]).groupId
        for i in range(args.clients)
    ]
    latencies: dict[str, list[float]] = {"LookupPerson": [], "RegisterStudent": []}
    lock = threading.Lock()

    def client(index: int) -> None:
        service = zeep.Client(
            wsdl, wsse=UsernameToken(providers[0].username, providers[0].password), transport=Transport(operation_timeout=30)
        ).service
        for n in range(args.requests):
            code = child(index * args.requests + n)
            started = time.perf_counter()
            service.LookupPerson(personalCode=code)
            looked = time.perf_counter()
            service.RegisterStudent(
                personalCode=code,
                groupId=groups[index],
                firstLearningDate=year.starts_on,
                contract={"typeCode": "BILATERAL", "date": year.starts_on, "number": f"B-{n}"},
            )
            done = time.perf_counter()
            with lock:
                latencies["LookupPerson"].append(looked - started)
                latencies["RegisterStudent"].append(done - looked)

    print(f"{args.clients} clients x {args.requests} x (LookupPerson + RegisterStudent) on {url.split('://')[0]}", flush=True)
    started = time.perf_counter()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    total = sum(len(v) for v in latencies.values())
    print(f"{total} calls in {elapsed:.1f} s: {total / elapsed:.0f} calls/s")
    for operation, values in latencies.items():
        print(
            f"  {operation:16s} p50 {statistics.median(values) * 1000:6.1f} ms   "
            f"p95 {percentile(values, 0.95) * 1000:6.1f} ms   max {max(values) * 1000:6.1f} ms"
        )
    server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
