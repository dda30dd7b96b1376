"""Export benchmark: rows per second and peak memory of `nvs-gateway export`, at two sizes.

    .venv/bin/python bench/export_lists.py [--sizes 50000,200000] [--postgres URL]

For each size it builds a scratch register (a fresh SQLite file; with --postgres also a scratch
schema of that server, dropped afterwards): migrations, the sandbox institutions and programs,
then ``size`` registrations and what goes with them, written with Core bulk inserts
(bench/datasets.py). Then it exports the lists, each export in a process of its own so that its
peak RSS (VmHWM, or getrusage's maxrss elsewhere) is its own, once plainly (time, rows/s, RSS) and once under
tracemalloc (the peak of Python allocations). Flat memory: the peaks at 50,000 and 200,000
registrations are about the same. "learners@13" is the learners list in Vilnius city's scope (the
municipality predicate). Prints a table; --json for machine-readable output.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# label: (list, filters, scope: "" for everything or a municipality code)
EXPORTS = {
    "learners": ("learners", ["--school-year", "2026-2027"], ""),
    "arrivals": ("arrivals", ["--from-date", "2026-09-01", "--to-date", "2026-11-30"], ""),
    "basket-recipients": ("basket-recipients", ["--month", "2026-10"], ""),
    "club-attendance": ("club-attendance", ["--school-year", "2026-2027"], ""),
    "learners@13": ("learners", ["--school-year", "2026-2027"], "13"),  # a municipality's scope
}


def _maxrss_mb() -> float:
    """Peak RSS of this process image. On Linux, VmHWM: getrusage's ru_maxrss is carried over from
    the parent across fork and exec, so a child would report the (large) benchmark driver's peak."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kilobytes on Linux


def run_one(url: str, label: str, fmt: str, traced: bool) -> dict[str, object]:
    """In a child process: one export; what it cost. Only what an export needs is imported (not the
    SOAP stack), so that the peak RSS is mostly the export's."""
    import datetime as dt

    from gateway import lists as use_cases
    from gateway.clock import SystemClock
    from gateway.domain.lists import ListFilter, ListName, Scope
    from gateway.exports import export_list
    from storage.db import make_engine, make_session_factory
    from storage.unit_of_work import SqlAlchemyUnitOfWork

    list_name, options, municipality = EXPORTS[label]
    rss_start = _maxrss_mb()
    engine = make_engine(url)
    session_factory = make_session_factory(engine)
    lists = use_cases.Lists(lambda: SqlAlchemyUnitOfWork(session_factory))
    name = ListName(list_name)
    scope = Scope.of_municipality(municipality) if municipality else Scope.everything()
    values = dict(zip(options[::2], options[1::2], strict=False))
    filters: dict[ListName, Callable[[], ListFilter]] = {
        ListName.LEARNERS: lambda: use_cases.learner_filter(values["--school-year"]),
        ListName.ARRIVALS: lambda: use_cases.arrival_filter(
            dt.date.fromisoformat(values["--from-date"]), dt.date.fromisoformat(values["--to-date"])
        ),
        ListName.BASKET_RECIPIENTS: lambda: use_cases.basket_filter(values["--month"]),
        ListName.CLUB_ATTENDANCE: lambda: use_cases.club_filter(values["--school-year"]),
    }
    list_filter = filters[name]()
    output = Path(tempfile.mkdtemp()) / f"{list_name}.{fmt}"
    rss_before = _maxrss_mb()
    if traced:
        tracemalloc.start()
    started = time.perf_counter()
    summary = export_list(lists, scope, name, list_filter, fmt, output, clock=SystemClock())
    seconds = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] if traced else None
    if traced:
        tracemalloc.stop()
    size = output.stat().st_size
    output.unlink()
    engine.dispose()
    return {
        "rows": summary.rows,
        "seconds": seconds,
        "rows_per_second": summary.rows / seconds if seconds else 0,
        "maxrss_start_mb": rss_start,
        "maxrss_before_mb": rss_before,
        "maxrss_after_mb": _maxrss_mb(),
        "tracemalloc_peak_mb": peak / 1e6 if peak is not None else None,
        "file_mb": size / 1e6,
    }


class Built(TypedDict):
    registrations: int
    generate_seconds: float
    counts: dict[str, int]


def sandbox_engine(url: str):
    """A migrated database at ``url`` with the sandbox's institutions, programs and users: what
    ``bench.datasets.generate`` builds on."""
    from gateway.bootstrap import prepare_database, unit_of_work_factory
    from gateway.sandbox import install_sandbox
    from storage.db import make_engine

    engine = make_engine(url)
    prepare_database(engine)
    uow_factory = unit_of_work_factory(engine)
    with uow_factory() as uow:
        classifiers = uow.classifiers.load()
    install_sandbox(uow_factory, classifiers)
    return engine


def build(url: str, size: int) -> Built:
    from bench.datasets import generate

    engine = sandbox_engine(url)
    started = time.perf_counter()
    counts = generate(engine, size)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"registrations": counts.registrations, "generate_seconds": seconds, "counts": counts.__dict__}


def child(url: str, label: str, fmt: str, traced: bool) -> dict[str, object]:
    command = [sys.executable, __file__, "--child", url, label, fmt, "traced" if traced else "plain"]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def postgres_scratch(base: str) -> tuple[str, Callable[[], None]]:
    from sqlalchemy import text

    from storage.db import make_engine

    schema = f"nvs_bench_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = make_engine(base)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))

    def drop() -> None:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()

    separator = "&" if "?" in base else "?"
    return f"{base}{separator}options=-csearch_path%3D{schema}", drop


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        url, label, fmt, mode = sys.argv[2:6]
        print(json.dumps(run_one(url, label, fmt, mode == "traced")))
        return 0
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50000,200000", help="registrations per data set, comma-separated")
    parser.add_argument("--postgres", help="also on this PostgreSQL server (a scratch schema, dropped afterwards)")
    parser.add_argument("--formats", default="xml,csv")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    import logging

    logging.getLogger("alembic").setLevel(logging.WARNING)
    results = []
    databases = ["sqlite"] + (["postgresql"] if args.postgres else [])
    for kind in databases:
        for size in (int(s) for s in args.sizes.split(",")):
            drop = None
            if kind == "sqlite":
                url = f"sqlite:///{tempfile.mkdtemp()}/bench.db"
            else:
                url, drop = postgres_scratch(args.postgres)
            try:
                built = build(url, size)
                print(
                    f"{kind}: {size:,} registrations generated in {built['generate_seconds']:.1f} s "
                    f"({size / built['generate_seconds']:,.0f}/s)",
                    file=sys.stderr,
                    flush=True,
                )
                for label in EXPORTS:
                    for fmt in args.formats.split(","):
                        plain = child(url, label, fmt, traced=False)
                        traced = child(url, label, fmt, traced=True)
                        row = {
                            "database": kind,
                            "registrations": size,
                            "list": label,
                            "format": fmt,
                            **plain,
                            "tracemalloc_peak_mb": traced["tracemalloc_peak_mb"],
                        }
                        results.append(row)
                        print(
                            f"  {label:18} {fmt}: {plain['rows']:>7,} rows {plain['rows_per_second']:>9,.0f} rows/s  "
                            f"peak RSS {plain['maxrss_start_mb']:.0f} at start, {plain['maxrss_before_mb']:.0f} before, "
                            f"{plain['maxrss_after_mb']:.0f} after  tracemalloc peak {traced['tracemalloc_peak_mb']:.1f} MB",
                            file=sys.stderr,
                            flush=True,
                        )
            finally:
                if drop is not None:
                    drop()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(
            "\n| database | registrations | list | format | rows | rows/s | peak RSS MB (before export -> after) | tracemalloc peak MB |"
        )
        print("|---|---:|---|---|---:|---:|---:|---:|")
        for r in results:
            print(
                f"| {r['database']} | {r['registrations']:,} | {r['list']} | {r['format']} | {r['rows']:,} | "
                f"{r['rows_per_second']:,.0f} | {r['maxrss_before_mb']:.0f} -> {r['maxrss_after_mb']:.0f} | {r['tracemalloc_peak_mb']:.1f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
