"""Whose data a caller may read, as a filter for the change feed and the lists.

What a user acts for (``gateway.domain.access.Scope``: one institution, one municipality,
or centrally) becomes what its reads cover (``ReadScope``): its institution's data; a
coordinator's municipality's (providers and general-education schools located there,
rules.md "Municipality scope"); or everything.
"""

from __future__ import annotations

from gateway.domain.access import Caller
from gateway.domain.scope import ReadScope


def scope_of(caller: Caller) -> ReadScope:
    if caller.institution_code is not None:
        return ReadScope.of_institution(caller.institution_code)
    if caller.municipality_code is not None:
        return ReadScope.of_municipality(caller.municipality_code)
    return ReadScope.all()
