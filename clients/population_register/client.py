"""The population register (Gyventojų registras, GR) over SOAP, with zeep.

``ZeepPopulationRegister`` implements ``gateway.ports.PopulationRegister`` against
``wsdl/population-register-v1.wsdl`` (the copy in this repository: no network at start-up).

* The WSDL is parsed once per process (``_wsdl_document``); each instance wraps the
  parsed document in a thin zeep ``Client`` of its own, because zeep keeps the HTTP
  transport (session, timeouts) on the Client, and calls ``create_service`` with the
  configured address.
* Every call has a connect and a read timeout, and one total ``deadline`` that bounds the
  caller's wait whatever the retries: each attempt's timeouts are cut to the time left,
  and no retry starts once it is gone.
* GR calls are reads, so a connection error or a timeout is retried ``retries`` times.
  Nothing else is: a SOAP fault arrives as HTTP 500 and retrying it would not help.
* Whatever goes wrong (fault, timeout, refused connection, HTML error page, malformed
  or inconsistent answer) raises ``PopulationRegisterUnavailable`` with its default
  message: upstream texts may echo a personal code, so they are neither passed on nor
  chained. The reason is logged at WARNING without any code.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import requests
import zeep
import zeep.exceptions
from lxml import etree
from zeep.transports import Transport
from zeep.wsdl import Document

from gateway.config import FILES_ROOT
from gateway.domain.errors import PopulationRegisterUnavailable
from gateway.domain.model import DeclaredResidence, PersonRecord
from gateway.domain.personal_code import PersonalCode
from gateway.domain.portal import Family, GuardianKind, LegalGuardian

logger = logging.getLogger(__name__)
# zeep logs whole envelopes (personal codes included) at DEBUG; keep them out of every log we configure.
logging.getLogger("zeep.transports").setLevel(logging.WARNING)

TNS = "urn:lt:registrucentras:gyventoju-registras:v1"
BINDING = f"{{{TNS}}}PopulationRegisterBinding"
WSDL_PATH = FILES_ROOT / "wsdl" / "population-register-v1.wsdl"
BATCH_SIZE = 100  # GetPersons accepts 1..100 codes
RETRY_BACKOFF_SECONDS = 0.2  # the n-th retry waits n times this

ZEEP_SETTINGS = zeep.Settings(
    strict=True, forbid_dtd=True, forbid_entities=True, forbid_external=True, xml_huge_tree=False
)

_documents: dict[Path, Document] = {}
_documents_lock = threading.Lock()


def _wsdl_document(path: Path = WSDL_PATH) -> Document:
    """The parsed WSDL, once per process and path (parsing is the expensive part of a zeep Client)."""
    with _documents_lock:
        document = _documents.get(path)
        if document is None:
            loader = Transport()
            try:
                # zeep annotates `transport` as type[Transport]; its own Client passes an instance, as here.
                document = Document(str(path), loader, settings=ZEEP_SETTINGS)  # type: ignore[arg-type]
            finally:
                loader.session.close()
            _documents[path] = document
        return document


class _BadAnswer(Exception):
    """GR answered, but not as the contract says."""


class _DeadlineTransport(Transport):
    """zeep's transport, whose timeouts are cut to what is left of the calling thread's deadline."""

    def __init__(self, *, session: requests.Session, timeouts: tuple[float, float]) -> None:
        self._deadline = threading.local()
        super().__init__(session=session, operation_timeout=timeouts)

    @property
    def operation_timeout(self) -> tuple[float, float]:
        deadline = getattr(self._deadline, "at", None)
        if deadline is None:
            return self._timeouts
        left = deadline - time.monotonic()
        if left <= 0:
            raise requests.Timeout("the deadline of the population register call has passed")
        return (min(self._timeouts[0], left), min(self._timeouts[1], left))

    @operation_timeout.setter
    def operation_timeout(self, value: tuple[float, float]) -> None:
        self._timeouts = value

    def set_deadline(self, at: float | None) -> None:
        self._deadline.at = at


class ZeepPopulationRegister:
    """``PopulationRegister`` over SOAP. Thread-safe as far as a ``requests.Session`` is."""

    def __init__(
        self,
        address: str,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        retries: int = 2,
        deadline: float | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not address:
            raise ValueError("The population register's address is required.")
        if retries < 0:
            raise ValueError("retries must not be negative.")
        self.address = address
        self.retries = retries
        self.deadline = deadline if deadline is not None else (retries + 1) * (connect_timeout + read_timeout)
        self._owns_session = session is None
        self._session = session if session is not None else requests.Session()
        self._transport = _DeadlineTransport(session=self._session, timeouts=(connect_timeout, read_timeout))
        self._client = zeep.Client(_wsdl_document(), transport=self._transport, settings=ZEEP_SETTINGS)
        self._service = self._client.create_service(BINDING, address)

    def __repr__(self) -> str:
        return f"ZeepPopulationRegister({self.address!r})"

    # --- PopulationRegister -------------------------------------------------------
    def find_person(self, personal_code: PersonalCode) -> PersonRecord | None:
        try:
            answer = self._call("GetPerson", raw=True, personalCode=personal_code.value)
            return _record(personal_code, answer.status, answer.person)
        except _BadAnswer as exc:
            raise _unavailable(f"GetPerson: {exc}") from None

    def find_persons(self, personal_codes: list[PersonalCode]) -> dict[PersonalCode, PersonRecord | None]:
        unique = list(dict.fromkeys(personal_codes))
        found: dict[PersonalCode, PersonRecord | None] = {}
        for start in range(0, len(unique), BATCH_SIZE):
            chunk = unique[start : start + BATCH_SIZE]
            try:
                results = self._call("GetPersons", raw=True, personalCode=[code.value for code in chunk])
                found.update(_batch_records(chunk, results))
            except _BadAnswer as exc:
                raise _unavailable(f"GetPersons: {exc}") from None
        return found

    def find_family(self, personal_code: PersonalCode) -> Family | None:
        """GetFamily (GR contract 1.1): the person's children and legal guardians, None when not found."""
        answer = self._call("GetFamily", personalCode=personal_code.value)
        try:
            return _family(personal_code, answer)
        except (_BadAnswer, ValueError) as exc:
            raise _unavailable(f"GetFamily: {type(exc).__name__}") from None

    # --- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP session if this instance created it."""
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> ZeepPopulationRegister:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- the call -------------------------------------------------------------------
    def _call(self, operation: str, *, raw: bool = False, **arguments: Any) -> Any:
        deadline = time.monotonic() + self.deadline
        self._transport.set_deadline(deadline)
        try:
            return self._attempts(operation, deadline, arguments, raw)
        finally:
            self._transport.set_deadline(None)

    def _send(self, operation: str, arguments: dict[str, Any], raw: bool) -> Any:
        if not raw:
            return getattr(self._service, operation)(**arguments)
        # zeep builds and sends the request; a 200 answer is read with lxml against the schema, which
        # is several times cheaper than zeep's object mapping (a third of a 500-record batch's CPU).
        # Anything else goes back to zeep, which raises the fault or transport error it would have.
        with self._client.settings(raw_response=True):
            response = getattr(self._service, operation)(**arguments)
        if response.status_code == 200:
            return _answer_of(operation, response.content)
        binding = self._service._binding
        return binding.process_reply(self._client, binding.get(operation), response)

    def _attempts(self, operation: str, deadline: float, arguments: dict[str, Any], raw: bool) -> Any:
        attempts = self.retries + 1
        for attempt in range(1, attempts + 1):
            try:
                return self._send(operation, arguments, raw)
            except (requests.ConnectionError, requests.Timeout) as exc:
                backoff = RETRY_BACKOFF_SECONDS * attempt
                if attempt == attempts or time.monotonic() + backoff >= deadline:
                    raise _unavailable(f"{operation}: {type(exc).__name__} in {attempt} attempt(s)") from None
                logger.info(
                    "Population register %s: %s; retry %d of %d", operation, type(exc).__name__, attempt, self.retries
                )
                time.sleep(backoff)
            except zeep.exceptions.Fault as exc:
                raise _unavailable(
                    f"{operation}: SOAP fault {str(exc.code)[:50]} ({_fault_detail_code(exc)})"
                ) from None
            except zeep.exceptions.TransportError as exc:
                raise _unavailable(f"{operation}: HTTP {exc.status_code} without a SOAP answer") from None
            except (zeep.exceptions.Error, etree.XMLSyntaxError, requests.RequestException) as exc:
                raise _unavailable(f"{operation}: {type(exc).__name__}") from None
        raise AssertionError("unreachable")


_ANSWER_PARSER = etree.XMLParser(
    resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True
)


@cache
def _schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(FILES_ROOT / "xsd" / "population-register-v1.xsd")))


def _answer_of(operation: str, content: bytes) -> Any:
    """The answer of GetPerson (its status and person) or GetPersons (its results) from the SOAP
    answer, checked against the contract as zeep (strict) would, in the shape zeep gives them
    (attributes named as the elements, dates as dates)."""
    envelope = etree.fromstring(content, _ANSWER_PARSER)
    body = envelope.find("{http://schemas.xmlsoap.org/soap/envelope/}Body")
    answer = body[0] if body is not None and len(body) else None
    if answer is None or answer.tag != f"{{{TNS}}}{operation}Response":
        raise _BadAnswer(f"not a {operation}Response")
    if not _schema().validate(answer):
        raise _BadAnswer("the answer is not valid against the contract")
    if operation == "GetPersons":
        return [_object_of(result) for result in answer]
    return _object_of(answer)


def _object_of(element: etree._Element) -> SimpleNamespace:
    fields: dict[str, Any] = {}
    for child in element:
        name = child.tag.rpartition("}")[2]  # elements only: the parser drops comments and PIs
        if len(child):
            fields[name] = _object_of(child)
        elif name.endswith("Date"):
            fields[name] = dt.date.fromisoformat((child.text or "").strip()[:10])  # valid: a time zone may follow
        else:
            fields[name] = child.text
    return _WithDefaults(**fields)


class _WithDefaults(SimpleNamespace):
    """An optional element left out reads as None, as in zeep's objects."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return None


def _unavailable(reason: str) -> PopulationRegisterUnavailable:
    logger.warning("Population register unavailable: %s", reason)
    return PopulationRegisterUnavailable()


def _fault_detail_code(fault: zeep.exceptions.Fault) -> str:
    """The RegisterFault code of a fault's detail (safe to log: no personal data), or '-'."""
    detail = fault.detail
    if not isinstance(detail, etree._Element):  # None, or the raw body when there was no Fault element
        return "-"
    code = detail.find(f"{{{TNS}}}RegisterFault/{{{TNS}}}code")
    return (code.text or "-")[:50] if code is not None else "-"


def _record(asked: PersonalCode, status: str, person: Any) -> PersonRecord | None:
    if status == "NOT_FOUND":
        return None
    if status != "FOUND" or person is None:
        raise _BadAnswer("status FOUND without a person" if status == "FOUND" else "unknown status")
    if person.personalCode != asked.value:
        raise _BadAnswer("the answer is about another person")
    residence = None
    if person.declaredResidence is not None:
        residence = DeclaredResidence(
            municipality_code=person.declaredResidence.municipalityCode,
            municipality_name=person.declaredResidence.municipalityName,
            address=person.declaredResidence.address,
        )
    return PersonRecord(
        personal_code=asked,
        first_name=person.firstName,
        last_name=person.lastName,
        sex=person.sex,
        birth_date=_date(person.birthDate),
        deceased_on=_date(person.deceasedDate),
        residence=residence,
        departed_abroad_on=_date(person.departedAbroadDate),
    )


def _family(asked: PersonalCode, answer: Any) -> Family | None:
    if answer.status == "NOT_FOUND":
        return None
    if answer.status != "FOUND":
        raise _BadAnswer("unknown status")
    guardians = []
    for guardian in answer.legalGuardian or ():
        kind = GuardianKind(guardian.kind)
        if (kind is GuardianKind.INSTITUTION) != (guardian.personalCode is None):
            raise _BadAnswer("a guardian institution with a personal code, or a person without one")
        guardians.append(
            LegalGuardian(
                kind=kind,
                personal_code=PersonalCode(guardian.personalCode) if guardian.personalCode else None,
                institution_code=guardian.institutionCode,
                institution_name=guardian.institutionName,
            )
        )
    return Family(asked, tuple(PersonalCode(code) for code in answer.child or ()), tuple(guardians))


def _batch_records(asked: list[PersonalCode], results: Iterable[Any] | None) -> dict[PersonalCode, PersonRecord | None]:
    by_value = {code.value: code for code in asked}
    records: dict[PersonalCode, PersonRecord | None] = {}
    for result in results or ():
        code = by_value.get(result.personalCode)
        if code is None:
            raise _BadAnswer("a result for a code that was not asked")
        records[code] = _record(code, result.status, result.person)
    if len(records) != len(asked):
        raise _BadAnswer(f"{len(asked) - len(records)} asked code(s) without a result")
    return records


def _date(value: Any) -> dt.date | None:
    if value is None or isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    raise _BadAnswer("a date field is not a date")
