"""Lithuanian personal codes (asmens kodai), validated with python-stdnum.

A personal code is personal data: its repr and str are masked so that it cannot
end up in a log line or a fault string by accident. Use ``.value`` deliberately.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

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
