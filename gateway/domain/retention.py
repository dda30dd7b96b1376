"""How long personal data stays, and what erasing a learner's means: pure rules over the clock's day and
the settings (gateway/retention.py applies them, after the archive).

The periods count closed school years, as the archive does (a year is closed once its 31 August has
passed), and each serves a purpose the README states:

* a **learner's personal data** (NVS_RETENTION_LEARNER_YEARS, default 10): what identifies the child
  in the person record, the change feed, the notices and the data issues. It serves the funding of NVŠ
  (the basket is paid per child and month, and municipalities' use of it is audited as accounting
  documents are, 10 years). Counted from the learner's last school year with any registration or club
  mark, and only once every one of them is archived: a learner with anything in the active tables is
  still in the register's use;
* **group leaders** (teachers) named in archived groups: the same period, from the group's school year;
* **formal-education enrolments** imported from the Student Register (NVS_RETENTION_ENROLMENT_YEARS,
  default 2): a copy, used to check the clubs' marks of the year; the original stays with the source.

Erasing is pseudonymising, not deleting: the learner's records stay (basket calculations of archived
months must come out as they did, and one child still has one basket a month), the personal code is
replaced by a ``Pseudonym`` and every other personal field is emptied. Other registries learn of it
from a PERSON_ERASED event (gateway/domain/feed.py).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from gateway.domain.archive import last_closed_year
from gateway.domain.feed import ChangeEvent, ChangeKind, ErasureState
from gateway.domain.personal_code import PersonalCode

LEARNER_YEARS = 10
ENROLMENT_YEARS = 2
# The contract bounds a PERSON_ERASED event's lists (ErasureChange, 1.12): more records take more events.
IDS_PER_TOMBSTONE = 1000


@dataclass(frozen=True)
class RetentionPeriods:
    learner_years: int = LEARNER_YEARS
    enrolment_years: int = ENROLMENT_YEARS

    def __post_init__(self) -> None:
        if self.learner_years < 1 or self.enrolment_years < 1:
            raise ValueError("a retention period is at least one closed school year")

    def learners_past_retention_through(self, today: dt.date) -> int:
        """The latest school year (its first calendar year) whose learners' data is past retention: a
        learner whose last school year is this one or earlier is erased."""
        return last_closed_year(today).first_year - self.learner_years

    def enrolments_past_retention_through(self, today: dt.date) -> int:
        return last_closed_year(today).first_year - self.enrolment_years


@dataclass
class ErasedLearner:
    """A learner pseudonymised in this batch, with the records each institution knew the learner by."""

    person_id: int  # the register's number of the person (batches follow it)
    pseudonym: PersonalCode
    registrations: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    club_marks: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))

    @property
    def institutions(self) -> list[str]:
        return sorted(set(self.registrations) | set(self.club_marks))

    def tombstones(self, at: dt.datetime) -> list[ChangeEvent]:
        """The PERSON_ERASED events that tell each institution which of its records lost their personal
        data: one per institution, or more where its records exceed what one event may name."""
        events = []
        for institution in self.institutions:
            registrations = self.registrations.get(institution, [])
            club_marks = self.club_marks.get(institution, [])
            for start in range(0, max(len(registrations), len(club_marks)), IDS_PER_TOMBSTONE):
                end = start + IDS_PER_TOMBSTONE
                events.append(
                    ChangeEvent(
                        kind=ChangeKind.PERSON_ERASED,
                        institution_code=institution,
                        personal_code=self.pseudonym,
                        occurred_at=at,
                        erasure=ErasureState(tuple(registrations[start:end]), tuple(club_marks[start:end])),
                    )
                )
        return events
