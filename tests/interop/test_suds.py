"""suds-community (PyPI), a SOAP client written apart from zeep, runs the scenario in this process."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.interop import scenario

suds_client = pytest.importorskip("suds.client", reason="suds-community is not installed (pip install -e '.[test]')")
from suds import WebFault  # noqa: E402
from suds.sax.element import Element  # noqa: E402
from suds.wsse import Security, UsernameToken  # noqa: E402

pytestmark = pytest.mark.e2e


def registry(gateway, username: str, password: str):
    """A suds client of the served WSDL with a UsernameToken (suds writes PasswordText)."""
    client = suds_client.Client(gateway.wsdl_url, cache=None, timeout=15)
    security = Security()
    security.tokens.append(UsernameToken(username, password))
    client.set_options(wsse=security)
    return client


def run_scenario(client, inputs: dict[str, str]) -> dict[str, str]:
    service = client.service
    day = dt.date.fromisoformat
    seen: dict[str, str] = {}

    def registration(child: str, group_id: object, number: str) -> dict[str, object]:
        contract = {"typeCode": inputs["NVS_CONTRACT_TYPE"], "date": day(inputs["NVS_CONTRACT_DATE"]), "number": number}
        return {
            "personalCode": child,
            "groupId": group_id,
            "firstLearningDate": day(inputs["NVS_FIRST_LEARNING_DATE"]),
            "contract": contract,
        }

    def fault(key: str, call) -> None:
        try:
            call()
            seen[f"{key}.code"] = "(no fault)"
        except WebFault as refused:
            detail = refused.fault.detail.GatewayFault
            seen[f"{key}.code"], seen[f"{key}.field"] = str(detail.code), str(getattr(detail, "field", ""))

    child = inputs["NVS_CHILD"]
    person = service.LookupPerson(personalCode=child).person
    seen["lookup.personalCode"], seen["lookup.birthDate"] = str(person.personalCode), str(person.birthDate)

    # suds hands back the only child of a response itself: CreateGroup gives the Group.
    group = service.CreateGroup(
        schoolYear=inputs["NVS_SCHOOL_YEAR"],
        programCode=inputs["NVS_PROGRAM"],
        name=inputs["NVS_GROUP_NAME"],
        subDirectionCode=[inputs["NVS_SUB_DIRECTION"]],
        leader=[{"firstName": inputs["NVS_LEADER_FIRST_NAME"], "lastName": inputs["NVS_LEADER_LAST_NAME"]}],
    )
    seen["group.name"], seen["group.purpose"] = str(group.name), str(group.purpose)

    # With a request id, and again with the same one (a retry after a lost answer): the same registration.
    request_id = Element("requestId", ns=("nvs", "urn:lt:mokiniu-registras:nvs-gateway:v1")).setText(
        inputs["NVS_REQUEST_ID"]
    )
    client.set_options(soapheaders=request_id)
    registered = service.RegisterStudent(
        **registration(child, group.groupId, inputs["NVS_CONTRACT_NUMBER"])
    ).registration
    retried = service.RegisterStudent(**registration(child, group.groupId, inputs["NVS_CONTRACT_NUMBER"])).registration
    client.set_options(soapheaders=())
    seen["retried.sameRegistration"] = str(retried.registrationId == registered.registrationId).lower()
    seen["registered.status"], seen["registered.firstLearningDate"] = (
        str(registered.status),
        str(registered.firstLearningDate),
    )

    corrected = service.CorrectRegistration(
        registrationId=registered.registrationId, firstLearningDate=day(inputs["NVS_CORRECTED_DATE"])
    )
    seen["corrected.firstLearningDate"] = str(corrected.registration.firstLearningDate)

    mark = service.MarkFunding(
        registrationId=registered.registrationId,
        fundingTypeCode=[inputs["NVS_FUNDING_TYPE"]],
        fromMonth=inputs["NVS_FUNDING_MONTH"],
        toMonth=inputs["NVS_FUNDING_MONTH"],
    ).mark[0]
    seen["funding.fundingTypeCode"], seen["funding.months"] = (
        str(mark.fundingTypeCode),
        f"{mark.fromMonth}..{mark.toMonth}",
    )

    departed = service.DeregisterStudent(
        registrationId=registered.registrationId,
        departureDate=day(inputs["NVS_DEPARTURE_DATE"]),
        departureReasonCode=inputs["NVS_DEPARTURE_REASON"],
        orderNumber=inputs["NVS_ORDER_NUMBER"],
    ).registration
    seen["deregistered.status"], seen["deregistered.departureDate"] = str(departed.status), str(departed.departure.date)

    mistaken = service.RegisterStudent(
        **registration(inputs["NVS_MISTAKEN_CHILD"], group.groupId, inputs["NVS_CONTRACT_NUMBER"])
    ).registration
    cancelled = service.CancelRegistration(
        registrationId=mistaken.registrationId, reason=inputs["NVS_CANCEL_REASON"]
    )  # the Registration
    seen["cancelled.status"], seen["cancelled.reason"] = str(cancelled.status), str(cancelled.cancellationReason)

    registrations = service.GetStudent(personalCode=child).registration
    seen["student.registrations"], seen["student.status"] = str(len(registrations)), str(registrations[0].status)

    for section in service.ListGroups(schoolYear=inputs["NVS_SCHOOL_YEAR"]).section:
        for listed in getattr(section, "group", []):
            if listed.groupId == group.groupId:
                seen["listed.section"], seen["listed.activeLearners"] = str(section.purpose), str(listed.activeLearners)

    fault(
        "fault.schema",
        lambda: service.RegisterStudent(**registration(child, group.groupId, inputs["NVS_TOO_LONG_CONTRACT_NUMBER"])),
    )
    fault(
        "fault.domain",
        lambda: service.RegisterStudent(
            **registration(child, inputs["NVS_MISSING_GROUP"], inputs["NVS_CONTRACT_NUMBER"])
        ),
    )

    # A batch with a request id of its own: a new child into the group, and the missing group; then its retry.
    records = [
        registration(inputs["NVS_BATCH_CHILD"], group.groupId, inputs["NVS_BATCH_CONTRACT_NUMBER"]),
        registration(child, inputs["NVS_MISSING_GROUP"], inputs["NVS_BATCH_CONTRACT_NUMBER"]),
    ]
    batch_id = Element("requestId", ns=("nvs", "urn:lt:mokiniu-registras:nvs-gateway:v1")).setText(
        inputs["NVS_BATCH_REQUEST_ID"]
    )
    client.set_options(soapheaders=batch_id)
    for key in ("batch", "batch.replayed"):
        answer = service.RegisterStudents(record=records)  # suds gives the response: four kinds of children
        results = list(answer.result)
        stored = [result for result in results if result.outcome == "stored"]
        refused = [result for result in results if result.outcome == "refused"]
        seen[f"{key}.written"] = str(answer.written).lower()
        seen[f"{key}.accepted"], seen[f"{key}.refused"] = str(answer.accepted), str(answer.refused)
        seen[f"{key}.indexes"] = ",".join(str(result.index) for result in results)
        seen[f"{key}.outcomes"] = ",".join(str(result.outcome) for result in results)
        if stored:
            seen[f"{key}.registrationId"] = str(stored[0].registration.registrationId)
            seen[f"{key}.registration.status"] = str(stored[0].registration.status)
            seen[f"{key}.registration.personalCode"] = str(stored[0].registration.person.personalCode)
        if refused:
            seen[f"{key}.fault.code"], seen[f"{key}.fault.field"] = (
                str(refused[0].fault.code),
                str(refused[0].fault.field),
            )
    client.set_options(soapheaders=())
    return seen


def test_suds_runs_the_scenario(gateway) -> None:
    inputs = scenario.environment(gateway, "suds")
    report = run_scenario(registry(gateway, inputs["NVS_USERNAME"], inputs["NVS_PASSWORD"]), inputs)
    scenario.check_scenario(gateway, "suds", report)
