"""Citizens through the state e-services portal (contract 1.11): who the citizen is, and whose data
the citizen may see.

A citizen never logs in to the register. The portal authenticates the citizen and calls the gateway
as a system user of the kind ``portal``, naming the citizen in the X-Road ``userId`` header: ``LT``
and the citizen's personal code (``citizen_of``). The citizen sees (``represented``):

* themself, at any age (an adult learner's own registrations; a pupil's own, too);
* every minor of whom the population register (GR) names the citizen a legal guardian
  (a parent, or a guardian appointed by a court).

Nobody else: not an adult child, not a child whose guardian is an institution (the institution
answers for that child, not a person), not another family's child. A child outside that set is
answered as one that does not exist (``ChildNotFound``), so that the portal learns nothing of
which codes the register holds.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.domain.errors import ChildNotFound, CitizenNotIdentified, InvalidPersonalCode
from gateway.domain.funding import age_on
from gateway.domain.personal_code import PersonalCode

ADULT_AGE = 18
USER_ID_COUNTRY = "LT"


class GuardianKind(enum.StrEnum):
    """How GR names a legal representative of a person."""

    PARENT = "PARENT"
    GUARDIAN = "GUARDIAN"  # a person appointed guardian (globėjas, rūpintojas)
    INSTITUTION = "INSTITUTION"  # a child care institution appointed guardian


@dataclass(frozen=True)
class LegalGuardian:
    kind: GuardianKind
    personal_code: PersonalCode | None = None  # a person (PARENT, GUARDIAN)
    institution_code: str | None = None  # an institution (INSTITUTION)
    institution_name: str | None = None


@dataclass(frozen=True)
class Family:
    """GR's answer about a person's family: the person's children (of any age), and the person's
    legal guardians (a minor's)."""

    personal_code: PersonalCode
    children: tuple[PersonalCode, ...] = ()
    guardians: tuple[LegalGuardian, ...] = ()

    def guarded_by(self, citizen: PersonalCode) -> bool:
        return any(g.personal_code == citizen for g in self.guardians if g.kind is not GuardianKind.INSTITUTION)


class Relation(enum.StrEnum):
    SELF = "SELF"
    LEGAL_REPRESENTATIVE = "LEGAL_REPRESENTATIVE"


@dataclass(frozen=True)
class Represented:
    personal_code: PersonalCode
    relation: Relation


def citizen_of(user_id: str | None) -> PersonalCode:
    """The citizen named by an X-Road userId: ``LT`` and a valid personal code, or ``CitizenNotIdentified``."""
    value = (user_id or "").strip()
    if not value:
        raise CitizenNotIdentified("A portal call names the citizen in the X-Road userId header; it has none.")
    if not value.startswith(USER_ID_COUNTRY):
        raise CitizenNotIdentified("The X-Road userId of a portal call is LT followed by the citizen's personal code.")
    try:
        return PersonalCode(value[len(USER_ID_COUNTRY) :])
    except InvalidPersonalCode:
        raise CitizenNotIdentified(
            "The X-Road userId of a portal call is LT followed by a valid personal code; this one is not valid."
        ) from None


def is_minor(code: PersonalCode, birth_date: dt.date | None, today: dt.date) -> bool:
    """Under 18 today. A person whose birth date neither GR nor the code tells is taken as an adult:
    no guardian sees them through the portal (they see themself)."""
    born = birth_date or code.birth_date
    return born is not None and age_on(born, today) < ADULT_AGE


def represented(
    citizen: PersonalCode,
    family: Family | None,
    children_families: Iterable[Family],
    birth_dates: dict[PersonalCode, dt.date | None],
    today: dt.date,
) -> list[Represented]:
    """Whom the citizen may see: themself, then each child GR lists who is a minor today and of whom GR
    (the child's own family) names the citizen a legal guardian, in GR's order.

    ``family``: GR's answer about the citizen (None: GR does not know the citizen; they still see
    themself, as the register may hold their registrations). ``children_families``: GR's answers
    about those children; ``birth_dates``: GR's birth dates of them."""
    seen = [Represented(citizen, Relation.SELF)]
    of_child = {f.personal_code: f for f in children_families}
    for child in family.children if family else ():
        child_family = of_child.get(child)
        if child == citizen or child_family is None:
            continue
        if is_minor(child, birth_dates.get(child), today) and child_family.guarded_by(citizen):
            seen.append(Represented(child, Relation.LEGAL_REPRESENTATIVE))
    return seen


def check_represents(seen: Iterable[Represented], personal_code: PersonalCode) -> Represented:
    """The person the citizen asks about, if the citizen may see them; ``ChildNotFound`` otherwise (the same
    answer as for a code nobody knows)."""
    for person in seen:
        if person.personal_code == personal_code:
            return person
    raise ChildNotFound()
