"""Which school years leave the active tables: pure rules over the clock's day and the setting
(gateway/archive.py applies them).

A school year is *closed* once its last day (31 August) has passed. The ``keep_years`` most recent
closed years stay in the active tables (NVS_ARCHIVE_KEEP_YEARS, default 2); older ones are archived.
"""

from __future__ import annotations

import datetime as dt

from gateway.domain.calendar import SchoolYear


def last_closed_year(today: dt.date) -> SchoolYear:
    return SchoolYear(SchoolYear.containing(today).first_year - 1)


def years_to_archive(today: dt.date, keep_years: int, years_present: list[int]) -> list[int]:
    """The school years (their first calendar years) of ``years_present`` to move to the archive, oldest first."""
    if keep_years < 0:
        raise ValueError("the closed school years kept are 0 or more")
    newest_archived = last_closed_year(today).first_year - keep_years
    return sorted(year for year in set(years_present) if year <= newest_archived)
