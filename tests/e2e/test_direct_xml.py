"""Answers written by the compiled writers (gateway.soap.direct_xml) are the bytes Spyne writes.

Each read below is sent twice over real HTTP, once as the gateway answers it and once with the
writers turned off (so Spyne serialises), and the two answers must be identical; the test also
checks the writers did answer most of them, so that it cannot pass by never using them."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.e2e.helpers import child_code, registry_client
from tests.e2e.soap import envelope, post
from tests.writers import WriterSwitch

YEAR = "2026-2027"
FIRST_DAY = dt.date(2026, 9, 1)
MUSIC_SCHOOL, MUSIC_PROGRAM = "300000011", "100000112"


def test_answers_written_directly_are_the_bytes_spyne_writes(live_gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    user = live_gateway.database.user(MUSIC_SCHOOL)
    provider = registry_client(live_gateway.wsdl_url, user.username, user.password).service
    group = provider.CreateGroup(
        schoolYear=YEAR, programCode=MUSIC_PROGRAM, name="Ansamblis & <duetai>", subDirectionCode=["MUSIC.PIANO"]
    )
    contract = {"typeCode": "BILATERAL", "date": FIRST_DAY, "number": "S-1"}
    children = [child_code(dt.date(2015, 3, 1 + n), 300 + n) for n in range(3)]
    ids = [
        provider.RegisterStudent(
            personalCode=child, groupId=group.groupId, firstLearningDate=FIRST_DAY, contract=contract
        ).registration.registrationId
        for child in children
    ]
    provider.MarkFunding(registrationId=ids[0], fundingTypeCode="NVS_BASKET", fromMonth="2026-09", toMonth="2026-10")
    provider.DeregisterStudent(
        registrationId=ids[1], departureDate=dt.date(2026, 10, 20), departureReasonCode="PARENTS_REQUEST"
    )

    reads = {
        "ListLearners": f"<nvs:ListLearners><nvs:schoolYear>{YEAR}</nvs:schoolYear></nvs:ListLearners>",
        "ListLearners, a page": (
            f"<nvs:ListLearners><nvs:schoolYear>{YEAR}</nvs:schoolYear><nvs:pageSize>1</nvs:pageSize></nvs:ListLearners>"
        ),
        "ListDepartures": (
            "<nvs:ListDepartures><nvs:fromDate>2026-09-01</nvs:fromDate>"
            "<nvs:toDate>2026-12-31</nvs:toDate></nvs:ListDepartures>"
        ),
        "ListArrivals": (
            "<nvs:ListArrivals><nvs:fromDate>2026-09-01</nvs:fromDate><nvs:toDate>2026-12-31</nvs:toDate></nvs:ListArrivals>"
        ),
        "ListBasketRecipients": "<nvs:ListBasketRecipients><nvs:month>2026-09</nvs:month></nvs:ListBasketRecipients>",
        "ListGroups": f"<nvs:ListGroups><nvs:schoolYear>{YEAR}</nvs:schoolYear></nvs:ListGroups>",
        "GetStudent": f"<nvs:GetStudent><nvs:personalCode>{children[1]}</nvs:personalCode></nvs:GetStudent>",
        "GetFunding": f"<nvs:GetFunding><nvs:registrationId>{ids[0]}</nvs:registrationId></nvs:GetFunding>",
        "GetChanges": "<nvs:GetChanges><nvs:after>0</nvs:after></nvs:GetChanges>",
        "LookupPerson": f"<nvs:LookupPerson><nvs:personalCode>{children[2]}</nvs:personalCode></nvs:LookupPerson>",
    }
    switch = WriterSwitch(monkeypatch)
    for name, request in reads.items():
        message = envelope(request, username=user.username, password=user.password)
        switch.writers()
        direct = post(live_gateway.registry_url, message)
        switch.spyne()
        spyne = post(live_gateway.registry_url, message)
        assert direct.status_code == spyne.status_code == 200, (name, direct.text[:500])
        assert direct.content == spyne.content, name
    assert {"ListLearnersResponse", "ListDeparturesResponse", "ListBasketRecipientsResponse"} <= set(switch.written)
    assert len(set(switch.written)) >= 7, f"the writers answered only {sorted(set(switch.written))}"
