"""``present(value)``: a value a test knows is there (the id of a stored row, a record the sandbox
has, an element of an answer), narrowed from ``X | None`` for the type checker; the test fails,
with ``what``, if it is not."""

from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def present(value: T | None, what: str = "the value") -> T:
    assert value is not None, f"{what} is missing"
    return value
