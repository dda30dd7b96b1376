"""Whose data a caller may read: the one function the access-control work changes.

Today every user acts for one institution and reads that institution's data. Access
control (issue 3) returns ``Scope.of_municipality(...)`` for a municipality coordinator
and ``Scope.all()`` for a central administrator or a registry system, here; the feed and
the lists filter by whatever Scope this returns.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.domain.scope import Scope

if TYPE_CHECKING:  # services imports the modules that import this one
    from gateway.services import Caller


def scope_of(caller: Caller) -> Scope:
    return Scope.of_institution(caller.institution_code)
