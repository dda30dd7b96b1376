"""``nvs-gateway archive``: closed school years older than NVS_ARCHIVE_KEEP_YEARS leave the active tables.

For each such year, oldest first: its ended registrations with their funding marks, then its groups
left without registrations, then its club marks, each in batches of ``batch_size`` rows, one
transaction per batch (storage/archive.py). Memory stays flat (a batch's ids at most); an interrupted
run has lost at most its batch under way, and a rerun continues with what is left. Registrations still
active in a closed year stay, with their group: the summary counts them (a data check finding)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.clock import Clock
from gateway.domain.archive import years_to_archive
from gateway.ports import UnitOfWork

BATCH_SIZE = 5000


@dataclass
class ArchiveSummary:
    years: list[int] = field(default_factory=list)
    registrations: int = 0
    groups: int = 0
    club_marks: int = 0
    batches: int = 0
    still_active: int = 0  # registrations of archived years still active: they and their groups stay


def archive(
    uow_factory: Callable[[], UnitOfWork],
    clock: Clock,
    *,
    keep_years: int,
    batch_size: int = BATCH_SIZE,
    progress: Callable[[int, int], None] | None = None,
    max_batches: int | None = None,
) -> ArchiveSummary:
    """Move what is past ``keep_years``; ``progress(done, total)`` after each batch (rows). ``max_batches``
    stops after that many batches (as an interruption would; a rerun continues)."""
    today: dt.date = clock.today()
    with uow_factory() as uow:
        years = years_to_archive(today, keep_years, uow.archive.school_years())
        left = {year: uow.archive.left_to_move(year) for year in years}
    summary = ArchiveSummary(years=years)
    total = sum(v["registrations"] + v["groups"] + v["club_marks"] for v in left.values())
    done = 0
    if progress:
        progress(0, total)
    for year in years:
        with uow_factory() as uow:
            uow.archive.note_archived(year)
            uow.commit()
        for kind, move in (
            ("registrations", lambda u, y: u.archive.move_registrations(y, batch_size)),
            ("groups", lambda u, y: u.archive.move_groups(y, batch_size)),
            ("club_marks", lambda u, y: u.archive.move_club_marks(y, batch_size)),
        ):
            while True:
                if max_batches is not None and summary.batches >= max_batches:
                    return summary
                with uow_factory() as uow:
                    moved = move(uow, year)
                    uow.commit()
                if not moved:
                    break
                summary.batches += 1
                setattr(summary, kind, getattr(summary, kind) + moved)
                done += moved
                if progress:
                    progress(done, total)
        with uow_factory() as uow:
            summary.still_active += uow.archive.left_to_move(year)["still_active"]
    if summary.batches:
        with uow_factory() as uow:
            uow.archive.refresh_statistics()
            uow.commit()
    return summary
