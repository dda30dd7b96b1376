"""Lithuanian personal codes (asmens kodai), validated with python-stdnum.

A personal code is personal data: its repr and str are masked so that it cannot
end up in a log line or a fault string by accident. Use ``.value`` deliberately.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from functools import lru_cache

from stdnum.exceptions import ValidationError
from stdnum.lt import asmens

from gateway.domain.errors import InvalidPersonalCode

_CENTURY_BY_FIRST_DIGIT = {"1": 1800, "2": 1800, "3": 1900, "4": 1900, "5": 2000, "6": 2000, "7": 2100, "8": 2100}


@dataclass(frozen=True, order=True)
class PersonalCode:
    value: str = field(repr=False)

    def __post_init__(self) -> None:
        if not is_valid_personal_code(self.value):
            raise InvalidPersonalCode()

    def __repr__(self) -> str:
        return "PersonalCode(***)"

    __str__ = __repr__

    @classmethod
    def parse(cls, value: str, *, field: str = "personalCode") -> PersonalCode:
        """The code a caller sent, or ``InvalidPersonalCode`` naming the field it came in."""
        try:
            return cls(value)
        except InvalidPersonalCode:
            raise InvalidPersonalCode(field=field) from None

    @classmethod
    def stored(cls, value: str) -> PersonalCode:
        """A code as storage holds it: a learner's code, or the pseudonym that replaced it past its
        retention (gateway/domain/retention.py)."""
        return Pseudonym(value) if value[:1] == PSEUDONYM_PREFIX else cls(value)

    @property
    def is_pseudonym(self) -> bool:
        return False

    @property
    def is_exception_code(self) -> bool:
        """Codes starting with 9 carry no sex or birth date (GR assigns them by exception)."""
        return self.value[0] == "9"

    @property
    def sex(self) -> str | None:
        if self.is_exception_code:
            return None
        return "M" if int(self.value[0]) % 2 == 1 else "F"

    @property
    def birth_date(self) -> dt.date | None:
        """The birth date the code encodes; None for 9-codes and for an unknown month or day (00)."""
        if self.is_exception_code or self.value[3:5] == "00" or self.value[5:7] == "00":
            return None
        year = _CENTURY_BY_FIRST_DIGIT[self.value[0]] + int(self.value[1:3])
        return dt.date(year, int(self.value[3:5]), int(self.value[5:7]))


def is_valid_personal_code(value: str) -> bool:
    """Length, digits, birth date and the two-pass check digit.

    Exceptions the population register really issues are valid: codes starting
    with 9 (no date) and codes with 00 for an unknown birth month or day.
    """
    if not isinstance(value, str) or len(value) != 11 or not value.isdigit():
        return False
    return _passes_checks(value)


# A batch's codes are checked a few times on their way (the adapter, GR's question, the rule): the answer
# is remembered for the codes seen last (what a code's digits say does not change).
@lru_cache(maxsize=16384)
def _passes_checks(value: str) -> bool:
    if value[0] == "0":
        return False
    month, day = int(value[3:5]), int(value[5:7])
    unknown_date_part = value[0] != "9" and (month == 0 or day == 0)
    # With an unknown (00) month or day, the known part must still be possible.
    if unknown_date_part and (month > 12 or day > 31):
        return False
    try:
        asmens.validate(value, validate_birth_date=not unknown_date_part)
    except ValidationError:
        return False
    return True


# No personal code starts with 0 (the first digit is the century and sex, 1 to 6, or 9): a pseudonym
# has the contract's shape (11 digits) and can never be taken for, or collide with, a real code.
PSEUDONYM_PREFIX = "0"


@dataclass(frozen=True, order=True)
class Pseudonym(PersonalCode):
    """What replaces a learner's personal code once the learner's data is past its retention: ``0``
    and the register's own number of the person, so that the learner's archived records still belong
    together (one basket a month) while nothing in them names the child."""

    def __post_init__(self) -> None:
        if not (len(self.value) == 11 and self.value.isdigit() and self.value[0] == PSEUDONYM_PREFIX):
            raise InvalidPersonalCode()

    @classmethod
    def of_person(cls, person_id: int) -> Pseudonym:
        if not 0 < person_id < 10**10:
            raise ValueError("a person's number has 1 to 10 digits")
        return cls(f"{PSEUDONYM_PREFIX}{person_id:010d}")

    @property
    def is_pseudonym(self) -> bool:
        return True

    @property
    def is_exception_code(self) -> bool:
        return False

    @property
    def sex(self) -> str | None:
        return None

    @property
    def birth_date(self) -> dt.date | None:
        return None
