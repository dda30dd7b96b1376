"""How long GetStatistics' counting takes on a large register, beside the floor of counting its list.

    python -m bench.statistics_timing [--size 200000] [--postgres URL]

Builds a register (``bench/datasets.py``: one school year, registrations, basket months, club marks),
then times, in this process (no HTTP: the counting is the question), the statistics of the school year
and of a month for each dimension, the whole scope and one municipality's, each beside the floor of
the same run: a bare count of the learners list (``Lists.count``). Prints a Markdown table: seconds
(best of three), and the ratio to the floor. Everything is counted in the database: the Python side
only gets one row per key.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial

from bench.export_lists import build, postgres_scratch

DIMENSIONS = ("municipality", "provider", "direction", "purpose", "ageBand", "sex")


def best_of(runs: int, work: Callable[[], object]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def measure(url: str, label: str) -> list[tuple[str, str, str, float, float]]:
    from gateway import lists
    from gateway.bootstrap import unit_of_work_factory
    from gateway.domain.lists import ListName, Scope
    from gateway.statistics import StatisticsReport
    from storage.db import make_engine

    engine = make_engine(url)
    uow_factory = unit_of_work_factory(engine)
    report = StatisticsReport(uow_factory)
    rows = []
    for scope in (Scope.everything(), Scope.of_municipality("13")):
        floor = best_of(
            3, partial(lists.Lists(uow_factory).count, scope, ListName.LEARNERS, lists.learner_filter("2026-2027"))
        )
        for period in ({"school_year": "2026-2027", "month": None}, {"school_year": None, "month": "2026-10"}):
            for dimension in DIMENSIONS:
                seconds = best_of(3, partial(report.of_scope, scope, group_by=[dimension], **period))
                when = period["school_year"] or period["month"]
                rows.append((label, str(scope), f"{when} by {dimension}", seconds, seconds / floor))
                print(
                    f"  {label} {scope} {when} by {dimension}: {seconds:.3f} s ({seconds / floor:.1f}x the list count)",
                    file=sys.stderr,
                    flush=True,
                )
    engine.dispose()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=200_000, help="registrations")
    parser.add_argument("--postgres", help="also on this PostgreSQL server (a scratch schema, dropped afterwards)")
    args = parser.parse_args()
    logging.getLogger("alembic").setLevel(logging.WARNING)
    results = []
    for kind in ["sqlite"] + (["postgresql"] if args.postgres else []):
        drop = None
        url = f"sqlite:///{tempfile.mkdtemp()}/bench.db" if kind == "sqlite" else None
        if url is None:
            url, drop = postgres_scratch(args.postgres)
        try:
            built = build(url, args.size)
            print(
                f"{kind}: {args.size:,} registrations in {built['generate_seconds']:.1f} s", file=sys.stderr, flush=True
            )
            results += measure(url, kind)
        finally:
            if drop is not None:
                drop()
    print(
        f"\n{args.size:,} registrations\n\n| database | scope | statistics | seconds | × the list count |\n|---|---|---|---:|---:|"
    )
    for label, scope, what, seconds, ratio in results:
        print(f"| {label} | {scope} | {what} | {seconds:.3f} | {ratio:.1f}× |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
