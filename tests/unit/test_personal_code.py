"""Lithuanian personal codes (gateway.domain.personal_code): validation, what they encode,
and that they never show their digits by accident. Every code here is synthetic."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from gateway.domain.errors import InvalidPersonalCode
from gateway.domain.personal_code import PersonalCode, is_valid_personal_code
from tests.fakes import a_person, valid_code


def with_wrong_check_digit(code: str) -> str:
    return code[:10] + str((int(code[10]) + 1) % 10)


# --- valid codes --------------------------------------------------------------------
@pytest.mark.parametrize(
    "first_ten",
    [
        "3990101123",  # a man born 1999-01-01
        "4991231456",  # a woman born 1999-12-31
        "5160229789",  # a boy born 2016-02-29 (leap year)
        "6200901001",  # a girl born 2020-09-01
        "1850615321",  # a man born 1885-06-15
        "7000101000",  # a man born 2100-01-01 (the 2100s digits)
    ],
)
def test_accepts_a_code_with_a_real_birth_date_and_the_right_check_digit(first_ten: str) -> None:
    code = valid_code(first_ten)
    assert is_valid_personal_code(code)
    assert PersonalCode(code).value == code


def test_accepts_the_python_stdnum_documentation_example() -> None:
    assert is_valid_personal_code("33309240064")


def test_accepts_a_code_whose_check_digit_needs_the_second_pass() -> None:
    # First pass (weights 1..9,1) leaves remainder 10, so the second (3..9,1..3) decides.
    first_ten = next(
        f"3990101{serial:03d}"
        for serial in range(1000)
        if sum(int(d) * w for d, w in zip(f"3990101{serial:03d}", (1, 2, 3, 4, 5, 6, 7, 8, 9, 1), strict=False)) % 11
        == 10
    )
    assert is_valid_personal_code(valid_code(first_ten))


# --- invalid codes ------------------------------------------------------------------
def test_rejects_a_wrong_check_digit() -> None:
    code = with_wrong_check_digit(valid_code("3990101123"))
    assert not is_valid_personal_code(code)
    with pytest.raises(InvalidPersonalCode):
        PersonalCode(code)


@pytest.mark.parametrize(
    "value",
    [
        "",
        valid_code("3990101123")[:10],  # 10 digits
        valid_code("3990101123") + "0",  # 12 digits
        " " + valid_code("3990101123"),
        valid_code("3990101123") + "\n",
        "3990101 1234",
    ],
    ids=["empty", "ten-digits", "twelve-digits", "leading-space", "trailing-newline", "inner-space"],
)
def test_rejects_a_code_that_is_not_eleven_digits(value: str) -> None:
    assert not is_valid_personal_code(value)
    with pytest.raises(InvalidPersonalCode):
        PersonalCode(value)


@pytest.mark.parametrize(
    "value",
    [
        "3990101123A",
        "39901O11234",  # a letter O for a zero
        "３９９０１０１１２３４",  # full-width digits: str.isdigit() says yes, they are not ASCII
        "3990101-123",
    ],
)
def test_rejects_letters_and_other_characters(value: str) -> None:
    assert not is_valid_personal_code(value)


@pytest.mark.parametrize("value", [None, 39901011234, b"39901011234"])
def test_rejects_what_is_not_a_string(value: object) -> None:
    assert not is_valid_personal_code(value)  # type: ignore[arg-type]
    with pytest.raises(InvalidPersonalCode):
        PersonalCode(value)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "first_ten",
    [
        "3990230123",  # 1999-02-30
        "5150229123",  # 2015-02-29, not a leap year
        "3991301123",  # month 13
        "3990132123",  # day 32
        "3990431123",  # 1999-04-31
    ],
)
def test_rejects_an_impossible_birth_date_even_with_the_right_check_digit(first_ten: str) -> None:
    assert not is_valid_personal_code(valid_code(first_ten))


def test_rejects_a_code_starting_with_zero() -> None:
    assert not is_valid_personal_code(valid_code("0990101123"))


# --- the exceptions GR really issues ----------------------------------------------------
@pytest.mark.parametrize("first_ten", ["9000000001", "9999999999", "9123456789"])
def test_accepts_a_code_starting_with_nine_whatever_its_date_digits(first_ten: str) -> None:
    code = PersonalCode(valid_code(first_ten))
    assert code.is_exception_code
    assert code.sex is None
    assert code.birth_date is None


def test_a_nine_code_still_needs_the_right_check_digit() -> None:
    assert not is_valid_personal_code(with_wrong_check_digit(valid_code("9123456789")))


@pytest.mark.parametrize(
    "first_ten",
    [
        "3990000123",  # month and day unknown
        "3990015123",  # month unknown, day 15
        "3990500123",  # May, day unknown
        "4880000456",  # a woman born in 1888, month and day unknown
    ],
)
def test_accepts_00_for_an_unknown_birth_month_or_day(first_ten: str) -> None:
    code = PersonalCode(valid_code(first_ten))
    assert not code.is_exception_code
    assert code.birth_date is None
    assert code.sex in {"M", "F"}


def test_a_code_with_an_unknown_day_still_needs_the_right_check_digit() -> None:
    assert not is_valid_personal_code(with_wrong_check_digit(valid_code("3990500123")))


@pytest.mark.parametrize("first_ten", ["4991300123", "3990032123"], ids=["month-13-day-00", "month-00-day-32"])
def test_rejects_an_impossible_month_or_day_next_to_an_unknown_one(first_ten: str) -> None:
    assert not is_valid_personal_code(valid_code(first_ten))


# --- what a code encodes ------------------------------------------------------------------
@pytest.mark.parametrize(
    "first_ten, sex, birth_date",
    [
        ("1850615321", "M", dt.date(1885, 6, 15)),
        ("2850615321", "F", dt.date(1885, 6, 15)),
        ("3990101123", "M", dt.date(1999, 1, 1)),
        ("4991231456", "F", dt.date(1999, 12, 31)),
        ("5160229789", "M", dt.date(2016, 2, 29)),
        ("6200901001", "F", dt.date(2020, 9, 1)),
        ("7000101000", "M", dt.date(2100, 1, 1)),
        ("8000101000", "F", dt.date(2100, 1, 1)),
    ],
)
def test_derives_sex_and_birth_date_from_the_first_seven_digits(first_ten: str, sex: str, birth_date: dt.date) -> None:
    code = PersonalCode(valid_code(first_ten))
    assert (code.sex, code.birth_date) == (sex, birth_date)


def test_codes_with_the_same_digits_are_equal_and_hash_alike() -> None:
    one, two = PersonalCode(valid_code("3990101123")), PersonalCode(valid_code("3990101123"))
    assert one == two
    assert {one: "x"}[two] == "x"
    assert one != PersonalCode(valid_code("3990101124"))


# --- personal data: the digits never show by accident ------------------------------------
CODE = valid_code("6160315123")
DIGITS = (CODE, CODE[:7], CODE[3:])  # the whole code, the date part, the tail


def shows_no_digits(text: str) -> bool:
    return not any(part in text for part in DIGITS)


def test_repr_and_str_are_masked() -> None:
    code = PersonalCode(CODE)
    assert repr(code) == str(code) == "PersonalCode(***)"


@pytest.mark.parametrize(
    "render",
    [
        lambda c: f"{c}",
        lambda c: f"{c!r}",
        lambda c: f"{c!s}",
        lambda c: "%s" % c,
        lambda c: "%r" % (c,),
        lambda c: f"{c}",
        lambda c: str([c]),
        lambda c: str({"code": c}),
        lambda c: repr((c,)),
    ],
    ids=[
        "f-string",
        "f-string-repr",
        "f-string-str",
        "percent-s",
        "percent-r",
        "format",
        "in-a-list",
        "in-a-dict",
        "in-a-tuple",
    ],
)
def test_formatting_never_shows_the_digits(render) -> None:
    assert shows_no_digits(render(PersonalCode(CODE)))


def test_a_log_line_never_shows_the_digits(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.personal_code")
    code = PersonalCode(CODE)
    with caplog.at_level(logging.INFO, logger="tests.personal_code"):
        logger.info("looking up %s", code)
        logger.info("looking up %r", code)
        logger.info("looking up person %s", a_person(personal_code=code))
    assert len(caplog.records) == 3
    assert shows_no_digits(caplog.text)
    assert "PersonalCode(***)" in caplog.text


def test_an_exception_message_containing_it_never_shows_the_digits() -> None:
    code = PersonalCode(CODE)
    with pytest.raises(LookupError) as raised:
        raise LookupError(f"no person with code {code}")
    assert shows_no_digits(str(raised.value))
    assert shows_no_digits(repr(raised.value))


def test_the_repr_of_a_person_record_never_shows_the_digits() -> None:
    assert shows_no_digits(repr(a_person(personal_code=CODE)))


def test_the_error_for_an_invalid_code_never_shows_the_digits() -> None:
    wrong = with_wrong_check_digit(CODE)
    with pytest.raises(InvalidPersonalCode) as raised:
        PersonalCode(wrong)
    error = raised.value
    for text in (str(error), repr(error), error.message):
        assert wrong not in text and wrong[:7] not in text
    assert error.field == "personalCode"


def test_the_digits_are_available_deliberately_through_value() -> None:
    assert PersonalCode(CODE).value == CODE
