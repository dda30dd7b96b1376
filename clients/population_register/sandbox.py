"""A sandbox of the population register (Gyventojų registras, GR).

It implements ``wsdl/population-register-v1.wsdl`` with Spyne, so that the gateway,
its tests and providers trying the gateway out have a register to talk to.

What it answers:

* Every checksum-valid personal code is FOUND, with synthetic data derived from the
  code (``generated_person``): the same code always gives the same person.

  - Sex and birth date come from the code. A code starting with 9 carries neither
    (GR issues such codes by exception), so both are derived from a hash of the
    code, as a real register still knows them. A code with 00 for the month or
    day means that the register itself does not know the full birth date: sex comes
    from the code and the birth date is omitted.
  - The first name is picked by sex; the surname carries the gendered ending a
    child has (Kazlauskas for a boy, Kazlauskaitė for a girl: children are unmarried).
  - The declared residence is one of the 60 municipalities of
    ``data/classifiers/classifiers.toml``, with a street address.

* A well-formed code with a wrong check digit is NOT_FOUND, as GR answers 'N' for
  codes it does not know.
* ``SPECIAL_PERSONS`` are fixed codes with fixed data for the cases a data check must
  handle: not found, deceased, departed abroad, changed residence, changed name. The
  last two carry the PREVIOUS values a register of ours may still hold, so that a
  check can find the mismatch. ``sandbox_people_fixture()`` lists them as JSON.

Nothing here is real personal data: the names are common Lithuanian names and the
codes are synthetic.

The served ``?wsdl`` is the checked-in WSDL with its ``soap:address`` set to the
request's URL (or the public URL it is served under) and the schema it imports at
``<that URL>/xsd/population-register-v1.xsd``, absolute: GET on any path ending so
serves the schema. Requests are validated against the checked-in XSD, and responses are checked
against it before they leave.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import random
import re
import threading
import time
import tomllib
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from lxml import etree
from spyne import Application, ComplexModel, Date, Fault, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap11
from spyne.server.wsgi import WsgiApplication
from stdnum.lt import asmens

from gateway.config import FILES_ROOT
from gateway.domain.model import DeclaredResidence, PersonRecord
from gateway.domain.personal_code import PersonalCode, is_valid_personal_code
from gateway.served_documents import absolute_schema_locations, request_base
from gateway.soap.direct_xml import DirectSoap11

TNS = "urn:lt:registrucentras:gyventoju-registras:v1"
SOAP11_ENV = "http://schemas.xmlsoap.org/soap/envelope/"

WSDL_PATH = FILES_ROOT / "wsdl" / "population-register-v1.wsdl"
XSD_PATH = FILES_ROOT / "xsd" / "population-register-v1.xsd"
CLASSIFIERS_PATH = FILES_ROOT / "data" / "classifiers" / "classifiers.toml"

# The served WSDL imports "<address>/xsd/<this>"; a GET for a path ending so gets the schema.
XSD_ROUTE_SUFFIX = "/xsd/" + XSD_PATH.name
MAX_REQUEST_BYTES = 256 * 1024

FOUND = "FOUND"
NOT_FOUND = "NOT_FOUND"

# ---------------------------------------------------------------------------
# Synthetic people
# ---------------------------------------------------------------------------

MALE_FIRST_NAMES = (
    "Jonas",
    "Lukas",
    "Matas",
    "Nojus",
    "Dominykas",
    "Kajus",
    "Benas",
    "Herkus",
    "Jokūbas",
    "Markas",
    "Rokas",
    "Tomas",
    "Augustas",
    "Emilis",
    "Gustas",
    "Adomas",
    "Vilius",
    "Dovydas",
    "Joris",
    "Motiejus",
    "Ignas",
    "Arnas",
    "Titas",
    "Kasparas",
)
FEMALE_FIRST_NAMES = (
    "Emilija",
    "Sofija",
    "Lėja",
    "Austėja",
    "Gabija",
    "Amelija",
    "Kamilė",
    "Ugnė",
    "Liepa",
    "Miglė",
    "Gustė",
    "Urtė",
    "Rugilė",
    "Viltė",
    "Ieva",
    "Goda",
    "Smiltė",
    "Elzė",
    "Patricija",
    "Barbora",
    "Adelė",
    "Saulė",
    "Deimantė",
    "Rusnė",
)
# Masculine forms; a girl's surname is derived by ``feminine_surname``.
SURNAMES = (
    "Kazlauskas",
    "Jankauskas",
    "Petrauskas",
    "Stankevičius",
    "Vasiliauskas",
    "Žukauskas",
    "Butkus",
    "Paulauskas",
    "Urbonas",
    "Kavaliauskas",
    "Baranauskas",
    "Pocius",
    "Navickas",
    "Ramanauskas",
    "Rimkus",
    "Sakalauskas",
    "Savickas",
    "Adomaitis",
    "Grigonis",
    "Kairys",
    "Mockus",
    "Vaitkus",
    "Lukošius",
    "Balčiūnas",
    "Žilinskas",
    "Jonaitis",
    "Bernotas",
    "Gudaitis",
    "Mažeika",
    "Šimkus",
)
STREETS = (
    "Vytauto g.",
    "Gedimino g.",
    "Basanavičiaus g.",
    "Maironio g.",
    "Laisvės al.",
    "Sodų g.",
    "Liepų g.",
    "Beržų g.",
    "Mokyklos g.",
    "Žalgirio g.",
    "Kęstučio g.",
    "Dariaus ir Girėno g.",
    "Taikos pr.",
    "Parko g.",
    "Ąžuolų g.",
    "Pušų g.",
)
# (masculine ending, unmarried woman's ending, married woman's ending), longest first.
_SURNAME_ENDINGS = (
    ("ius", "iūtė", "ienė"),
    ("as", "aitė", "ienė"),
    ("is", "ytė", "ienė"),
    ("ys", "ytė", "ienė"),
    ("us", "utė", "ienė"),
    ("a", "aitė", "ienė"),
)
# Birth dates of generated 9-code persons (the code carries none).
_GENERATED_BIRTH_RANGE = (dt.date(2008, 1, 1), dt.date(2020, 12, 31))


def feminine_surname(masculine: str, *, married: bool = False) -> str:
    """The woman's form of a masculine surname: Kazlauskas -> Kazlauskaitė (unmarried) or
    Kazlauskienė (married); Adomaitis -> Adomaitytė; Butkus -> Butkutė; Pocius -> Pociūtė;
    Mažeika -> Mažeikaitė."""
    for ending, unmarried_form, married_form in _SURNAME_ENDINGS:
        if masculine.endswith(ending):
            return masculine[: -len(ending)] + (married_form if married else unmarried_form)
    raise ValueError(f"No feminine form known for the surname {masculine!r}.")


@dataclass(frozen=True)
class Municipality:
    code: str
    name: str


@functools.cache
def load_municipalities(path: Path = CLASSIFIERS_PATH) -> tuple[Municipality, ...]:
    """The ``[[municipality]]`` tables of the classifiers file, in the file's order.

    A generated person's residence is picked by position in this tuple, so the file's order
    (Lithuanian alphabetical, whatever the codes) keeps every synthetic person where they live.
    """
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except FileNotFoundError:
        raise FileNotFoundError(f"The GR sandbox needs the municipality classifier: {path} is missing.") from None
    municipalities = tuple(Municipality(str(m["code"]), str(m["name"])) for m in data.get("municipality", []))
    if not municipalities:
        raise ValueError(f"{path} has no [[municipality]] entries.")
    return municipalities


def _municipality(code: str) -> Municipality:
    for municipality in load_municipalities():
        if municipality.code == code:
            return municipality
    raise KeyError(f"Municipality {code!r} is not in {CLASSIFIERS_PATH.name}.")


# --- special test persons ------------------------------------------------------

KIND_NOT_FOUND = "not-found"
KIND_DECEASED = "deceased"
KIND_DEPARTED_ABROAD = "departed-abroad"
KIND_CHANGED_RESIDENCE = "changed-residence"
KIND_CHANGED_NAME = "changed-name"
SPECIAL_KINDS = (KIND_NOT_FOUND, KIND_DECEASED, KIND_DEPARTED_ABROAD, KIND_CHANGED_RESIDENCE, KIND_CHANGED_NAME)


@dataclass(frozen=True)
class SpecialPerson:
    """A sandbox person with fixed data. The register answers the CURRENT values; the
    ``previous_*`` values are what another register may still hold from earlier."""

    personal_code: str
    kind: str
    description: str
    first_name: str | None = None
    last_name: str | None = None
    municipality_code: str | None = None  # current declared residence; None: none declared
    address: str | None = None
    deceased_on: dt.date | None = None
    departed_abroad_on: dt.date | None = None
    previous_first_name: str | None = None
    previous_last_name: str | None = None
    previous_municipality_code: str | None = None

    def record(self) -> PersonRecord | None:
        """What the sandbox answers for this person (None: NOT_FOUND)."""
        if self.kind == KIND_NOT_FOUND:
            return None
        code = PersonalCode(self.personal_code)
        residence = None
        if self.municipality_code is not None:
            residence = DeclaredResidence(
                self.municipality_code, _municipality(self.municipality_code).name, self.address
            )
        return PersonRecord(
            personal_code=code,
            first_name=self.first_name or "",
            last_name=self.last_name or "",
            sex=code.sex,
            birth_date=code.birth_date,
            deceased_on=self.deceased_on,
            residence=residence,
            departed_abroad_on=self.departed_abroad_on,
        )


# Children born 2008-2020; every code is checksum-valid (a test checks it).
SPECIAL_PERSONS: tuple[SpecialPerson, ...] = (
    SpecialPerson(
        "51203159990",
        KIND_NOT_FOUND,
        "A valid code the register does not know: GR answers NOT_FOUND ('N').",
    ),
    SpecialPerson(
        "61006219989",
        KIND_DECEASED,
        "A girl born 2010-06-21 who died on 2024-02-11: deceasedDate is set.",
        first_name="Gabija",
        last_name="Kazlauskaitė",
        municipality_code="19",
        address="Kęstučio g. 14-3",
        deceased_on=dt.date(2024, 2, 11),
    ),
    SpecialPerson(
        "51409029977",
        KIND_DEPARTED_ABROAD,
        "A boy born 2014-09-02 whose departure from Lithuania was declared on 2023-08-20: "
        "departedAbroadDate is set and there is no declared residence.",
        first_name="Matas",
        last_name="Jankauskas",
        departed_abroad_on=dt.date(2023, 8, 20),
        previous_municipality_code="21",
    ),
    SpecialPerson(
        "61111309960",
        KIND_CHANGED_RESIDENCE,
        "A girl born 2011-11-30 who moved from Kaunas city (19) to Vilnius city (13).",
        first_name="Ugnė",
        last_name="Petrauskaitė",
        municipality_code="13",
        address="Gedimino pr. 21-8",
        previous_municipality_code="19",
    ),
    SpecialPerson(
        "60901129957",
        KIND_CHANGED_NAME,
        "A girl born 2009-01-12 whose surname changed from Urbonaitė to Grigonytė.",
        first_name="Austėja",
        last_name="Grigonytė",
        municipality_code="29",
        address="Vilniaus g. 112-4",
        previous_last_name="Urbonaitė",
    ),
    SpecialPerson(
        "51604089945",
        KIND_CHANGED_NAME,
        "A boy born 2016-04-08 whose first name changed from Jonas to Joris.",
        first_name="Joris",
        last_name="Adomaitis",
        municipality_code="27",
        address="Respublikos g. 5",
        previous_first_name="Jonas",
    ),
)
_SPECIAL_BY_CODE = {person.personal_code: person for person in SPECIAL_PERSONS}


def special_person(code: str) -> SpecialPerson | None:
    return _SPECIAL_BY_CODE.get(code)


def _digest(code: str) -> bytes:
    return hashlib.sha256(b"nvs-gateway/gr-sandbox/v1:" + code.encode("ascii")).digest()


def _pick(options: tuple[Any, ...] | list[Any], digest: bytes, slot: int) -> Any:
    """A choice from ``options`` driven by four bytes of the digest (slots 0..7)."""
    return options[int.from_bytes(digest[slot * 4 : slot * 4 + 4], "big") % len(options)]


def generated_person(code: str) -> PersonRecord | None:
    """The person the sandbox answers for ``code``, or None when it answers NOT_FOUND.

    Pure: the same code always gives the same record.
    """
    if not is_valid_personal_code(code):
        return None
    special = special_person(code)
    if special is not None:
        return special.record()

    personal_code = PersonalCode(code)
    digest = _digest(code)
    sex, birth_date = personal_code.sex, personal_code.birth_date
    member = _FAMILY_MEMBERS.get(code)
    if personal_code.is_exception_code:
        sex = "M" if digest[31] % 2 else "F"
        first, last = _GENERATED_BIRTH_RANGE
        birth_date = first + dt.timedelta(days=int.from_bytes(digest[28:31], "big") % ((last - first).days + 1))

    surname = _pick(SURNAMES, digest, 1)
    first_name = _pick(MALE_FIRST_NAMES if sex == "M" else FEMALE_FIRST_NAMES, digest, 0)
    last_name = surname if sex == "M" else feminine_surname(surname)
    if member is not None:
        first_name, last_name = member.first_name, member.last_name
    municipality = _pick(load_municipalities(), digest, 2)
    house = 1 + digest[12] % 120
    flat = digest[13] % 40
    address = f"{_pick(STREETS, digest, 4)} {house}" + (f"-{flat}" if flat else "")
    return PersonRecord(
        personal_code=personal_code,
        first_name=first_name,
        last_name=last_name,
        sex=sex,
        birth_date=birth_date,
        residence=DeclaredResidence(municipality.code, municipality.name, address),
    )


# --- families (GetFamily, since 1.1) ------------------------------------------------
# A person's parents are derived from the person's own code: the mother born 25 to 35 years before,
# the father 27 to 37 years before (days picked by the code's hash), both with the same three serial
# digits. A person's children are then found by trying every code that could have this person as a
# parent (same serial digits, born in that window, either sex): about 7,300 candidates, a few
# hundredths of a second. So both directions agree: C lists P as a parent exactly when P lists C as
# a child. Codes without a birth date (9-codes, 00 month or day) have no derived family.
# ``FAMILIES`` are fixed test families; their members have no derived relatives.
GUARDIAN_PARENT = "PARENT"
GUARDIAN_PERSON = "GUARDIAN"
GUARDIAN_INSTITUTION = "INSTITUTION"
_MOTHER_AGE_DAYS = (9131, 3652)  # 25 years, then up to 10 years more
_FATHER_AGE_DAYS = (9862, 3652)  # 27 years, then up to 10 years more
FAMILY_HORIZON = dt.date(2026, 8, 31)


@dataclass(frozen=True)
class SandboxGuardian:
    kind: str
    personal_code: str | None = None
    institution_code: str | None = None
    institution_name: str | None = None


@dataclass(frozen=True)
class SandboxFamily:
    """GR's answer of GetFamily: the person's children (any age) and legal guardians."""

    children: tuple[str, ...] = ()
    guardians: tuple[SandboxGuardian, ...] = ()


@dataclass(frozen=True)
class FamilyMember:
    personal_code: str
    role: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class TestFamily:
    """A fixed family of the sandbox (README, "Test families")."""

    name: str
    description: str
    members: tuple[FamilyMember, ...]
    children: dict[str, tuple[str, ...]]  # person -> their children
    guardians: dict[str, tuple[SandboxGuardian, ...]]  # person -> their legal guardians


GUARDIAN_HOME_CODE = "300000099"
GUARDIAN_HOME_NAME = "Vilniaus vaikų globos namai „Šaltinėlis“"

FAMILIES: tuple[TestFamily, ...] = (
    TestFamily(
        "Kazlauskai",
        "Two parents, both legal guardians of two minors (Emilija, Lukas); their adult son Dovydas is no one's "
        "ward any more.",
        (
            FamilyMember("48503120113", "mother", "Rasa", "Kazlauskienė"),
            FamilyMember("38307050124", "father", "Tomas", "Kazlauskas"),
            FamilyMember("61504200131", "daughter, born 2015-04-20", "Emilija", "Kazlauskaitė"),
            FamilyMember("51209010141", "son, born 2012-09-01", "Lukas", "Kazlauskas"),
            FamilyMember("50401150150", "adult son, born 2004-01-15", "Dovydas", "Kazlauskas"),
        ),
        {
            "48503120113": ("61504200131", "51209010141", "50401150150"),
            "38307050124": ("61504200131", "51209010141", "50401150150"),
        },
        {
            code: (SandboxGuardian(GUARDIAN_PARENT, "48503120113"), SandboxGuardian(GUARDIAN_PARENT, "38307050124"))
            for code in ("61504200131", "51209010141", "50401150150")
        },
    ),
    TestFamily(
        "Petrauskai",
        "A mother, the only legal guardian of her daughter Ieva: another family, whose child the Kazlauskai "
        "must not see.",
        (
            FamilyMember("49001010165", "mother", "Jurgita", "Petrauskienė"),
            FamilyMember("61706120177", "daughter, born 2017-06-12", "Ieva", "Petrauskaitė"),
        ),
        {"49001010165": ("61706120177",)},
        {"61706120177": (SandboxGuardian(GUARDIAN_PARENT, "49001010165"),)},
    ),
    TestFamily(
        "Adult learner",
        "Marius, born 2001-03-14: an adult learner who sees his own registrations; no guardian, no children.",
        (FamilyMember("50103140188", "adult learner, born 2001-03-14", "Marius", "Navickas"),),
        {},
        {},
    ),
    TestFamily(
        "Under an institution's guardianship",
        f"Jokūbas, born 2014-02-22, whose guardian is a child care institution ({GUARDIAN_HOME_NAME}, "
        f"{GUARDIAN_HOME_CODE}): no citizen sees his record through the portal.",
        (FamilyMember("51402220197", "ward, born 2014-02-22", "Jokūbas", "Rimkus"),),
        {},
        {
            "51402220197": (
                SandboxGuardian(
                    GUARDIAN_INSTITUTION, institution_code=GUARDIAN_HOME_CODE, institution_name=GUARDIAN_HOME_NAME
                ),
            )
        },
    ),
)
_FAMILY_MEMBERS = {m.personal_code: m for family in FAMILIES for m in family.members}
_FIXED_CHILDREN = {code: children for family in FAMILIES for code, children in family.children.items()}
_FIXED_GUARDIANS = {code: guardians for family in FAMILIES for code, guardians in family.guardians.items()}


def _code_of(sex: str, born: dt.date, serial: str) -> str:
    century = (born.year - 1800) // 100  # 0: 1800s, 1: 1900s, 2: 2000s, 3: 2100s
    first = str(1 + 2 * century + (0 if sex == "M" else 1))
    first_ten = f"{first}{born:%y%m%d}{serial}"
    return first_ten + asmens.calc_check_digit(first_ten + "0")


def _derived_parent(code: str, sex: str) -> str | None:
    """The derived mother (sex F) or father (M) of a person, None when the code has no birth date."""
    personal_code = PersonalCode(code)
    if personal_code.is_exception_code or personal_code.birth_date is None:
        return None
    return _parent_of(code, personal_code.birth_date, sex)


def _parent_of(code: str, born: dt.date, sex: str) -> str | None:
    first_day, span = _MOTHER_AGE_DAYS if sex == "F" else _FATHER_AGE_DAYS
    slot = 5 if sex == "F" else 6
    offset = first_day + int.from_bytes(_digest(code)[slot * 4 : slot * 4 + 4], "big") % span
    parent_born = born - dt.timedelta(days=offset)
    if parent_born.year < 1800:
        return None
    parent = _code_of(sex, parent_born, code[7:10])
    return None if parent in _FAMILY_MEMBERS or parent in _SPECIAL_BY_CODE else parent


def _derived_children(code: str) -> tuple[str, ...]:
    """Children born by ``FAMILY_HORIZON`` (the sandbox has no clock: no child is born later)."""
    personal_code = PersonalCode(code)
    if personal_code.is_exception_code or personal_code.birth_date is None or personal_code.sex is None:
        return ()
    first_day, span = _MOTHER_AGE_DAYS if personal_code.sex == "F" else _FATHER_AGE_DAYS
    children = []
    for days in range(first_day, first_day + span):
        born = personal_code.birth_date + dt.timedelta(days=days)
        if born > FAMILY_HORIZON:
            break
        for sex in ("M", "F"):
            child = _code_of(sex, born, code[7:10])
            if _parent_of(child, born, personal_code.sex) == code and child not in _FAMILY_MEMBERS:
                children.append(child)
    return tuple(children)


def sandbox_family(code: str) -> SandboxFamily | None:
    """GR's family of a person (None: NOT_FOUND, as GetPerson). Pure: the same code, the same family."""
    if generated_person(code) is None:
        return None
    if code in _FAMILY_MEMBERS:
        return SandboxFamily(_FIXED_CHILDREN.get(code, ()), _FIXED_GUARDIANS.get(code, ()))
    if special_person(code) is not None:
        return SandboxFamily()
    parents = [p for p in (_derived_parent(code, "F"), _derived_parent(code, "M")) if p is not None]
    return SandboxFamily(
        _derived_children(code)[:30], tuple(SandboxGuardian(GUARDIAN_PARENT, parent) for parent in parents)
    )


def sandbox_families_fixture() -> list[dict[str, Any]]:
    """The fixed test families as JSON-serialisable dicts (``nvs-gateway sandbox --json``)."""
    return [
        {
            "name": family.name,
            "description": family.description,
            "members": [
                {"code": m.personal_code, "role": m.role, "firstName": m.first_name, "lastName": m.last_name}
                for m in family.members
            ],
        }
        for family in FAMILIES
    ]


def _iso(value: dt.date | None) -> str | None:
    return value.isoformat() if value else None


def sandbox_people_fixture() -> list[dict[str, Any]]:
    """The special persons as JSON-serialisable dicts (for ``nvs-gateway sandbox --json``):
    code, kind, description, ``current`` (what GR answers; None for not-found) and
    ``previous`` (older values another register may hold; None when nothing changed)."""
    people: list[dict[str, Any]] = []
    for person in SPECIAL_PERSONS:
        record = person.record()
        current = None
        if record is not None:
            current = {
                "first_name": record.first_name,
                "last_name": record.last_name,
                "sex": record.sex,
                "birth_date": _iso(record.birth_date),
                "deceased_on": _iso(record.deceased_on),
                "departed_abroad_on": _iso(record.departed_abroad_on),
                "municipality_code": record.residence.municipality_code if record.residence else None,
                "municipality_name": record.residence.municipality_name if record.residence else None,
                "address": record.residence.address if record.residence else None,
            }
        previous_values = {
            "first_name": person.previous_first_name,
            "last_name": person.previous_last_name,
            "municipality_code": person.previous_municipality_code,
        }
        previous = previous_values if any(v is not None for v in previous_values.values()) else None
        people.append(
            {
                "code": person.personal_code,
                "kind": person.kind,
                "description": person.description,
                "current": current,
                "previous": previous,
            }
        )
    return people


# ---------------------------------------------------------------------------
# The SOAP service
# ---------------------------------------------------------------------------

PersonalCodeType = Unicode(max_len=11, pattern="[0-9]{11}", type_name="PersonalCode")
NameType = Unicode(min_len=1, max_len=100, type_name="Name")
SexType = Unicode(max_len=1, values=["M", "F"], type_name="Sex")
LookupStatusType = Unicode(max_len=9, values=[FOUND, NOT_FOUND], type_name="LookupStatus")
_required = dict(min_occurs=1, nillable=False)
_optional = dict(min_occurs=0, nillable=False)


class DeclaredResidenceModel(ComplexModel):
    __namespace__ = TNS
    __type_name__ = "DeclaredResidence"

    municipalityCode = Unicode(min_len=1, max_len=10, type_name="MunicipalityCode", **_required)
    municipalityName = Unicode(min_len=1, max_len=100, type_name="MunicipalityName", **_required)
    address = Unicode(min_len=1, max_len=300, type_name="Address", **_optional)


class PersonModel(ComplexModel):
    __namespace__ = TNS
    __type_name__ = "Person"

    personalCode = PersonalCodeType.customize(**_required)
    firstName = NameType.customize(**_required)
    lastName = NameType.customize(**_required)
    sex = SexType.customize(**_optional)
    birthDate = Date(**_optional)
    deceasedDate = Date(**_optional)
    declaredResidence = DeclaredResidenceModel.customize(**_optional)
    departedAbroadDate = Date(**_optional)


class PersonResultModel(ComplexModel):
    __namespace__ = TNS
    __type_name__ = "PersonResult"

    personalCode = PersonalCodeType.customize(**_required)
    status = LookupStatusType.customize(**_required)
    person = PersonModel.customize(**_optional)


class LegalGuardianModel(ComplexModel):
    __namespace__ = TNS
    __type_name__ = "LegalGuardian"

    kind = Unicode(
        max_len=11, values=[GUARDIAN_PARENT, GUARDIAN_PERSON, GUARDIAN_INSTITUTION], type_name="GuardianKind"
    )(**_required)
    personalCode = PersonalCodeType.customize(**_optional)
    institutionCode = Unicode(max_len=9, pattern="[0-9]{6,9}", type_name="InstitutionCode")(**_optional)
    institutionName = Unicode(min_len=1, max_len=300, type_name="InstitutionName")(**_optional)


def _person_model(record: PersonRecord) -> PersonModel:
    residence = None
    if record.residence is not None and record.residence.municipality_code:
        residence = DeclaredResidenceModel(
            municipalityCode=record.residence.municipality_code,
            municipalityName=record.residence.municipality_name,
            address=record.residence.address,
        )
    return PersonModel(
        personalCode=record.personal_code.value,
        firstName=record.first_name,
        lastName=record.last_name,
        sex=record.sex,
        birthDate=record.birth_date,
        deceasedDate=record.deceased_on,
        declaredResidence=residence,
        departedAbroadDate=record.departed_abroad_on,
    )


class PopulationRegisterService(ServiceBase):
    @rpc(
        PersonalCodeType.customize(**_required),
        _returns=(LookupStatusType.customize(**_required), PersonModel.customize(**_optional)),
        _out_variable_names=("status", "person"),
    )
    def GetPerson(ctx, personalCode):  # noqa: N802,N803 (the contract's names)
        record = generated_person(personalCode)
        if record is None:
            return NOT_FOUND, None
        return FOUND, _person_model(record)

    @rpc(
        PersonalCodeType.customize(min_occurs=1, max_occurs=100, nillable=False),
        _returns=PersonResultModel.customize(min_occurs=1, max_occurs=100, nillable=False),
        _out_variable_name="result",
    )
    def GetPersons(ctx, personalCode):  # noqa: N802,N803
        results = []
        for code in personalCode:
            record = generated_person(code)
            results.append(
                PersonResultModel(
                    personalCode=code,
                    status=FOUND if record else NOT_FOUND,
                    person=_person_model(record) if record else None,
                )
            )
        return results

    @rpc(
        PersonalCodeType.customize(**_required),
        _returns=(
            LookupStatusType.customize(**_required),
            PersonalCodeType.customize(min_occurs=0, max_occurs=30, nillable=False),
            LegalGuardianModel.customize(min_occurs=0, max_occurs=10, nillable=False),
        ),
        _out_variable_names=("status", "child", "legalGuardian"),
    )
    def GetFamily(ctx, personalCode):  # noqa: N802,N803
        family = sandbox_family(personalCode)
        if family is None:
            return NOT_FOUND, [], []
        guardians = [
            LegalGuardianModel(
                kind=g.kind,
                personalCode=g.personal_code,
                institutionCode=g.institution_code,
                institutionName=g.institution_name,
            )
            for g in family.guardians
        ]
        return FOUND, list(family.children), guardians


# --- faults, protocol, WSDL ----------------------------------------------------


def register_fault(faultcode: str, code: str, message: str) -> Fault:
    """A SOAP fault with the contract's typed detail ``tns:RegisterFault``."""
    detail = etree.Element(f"{{{TNS}}}RegisterFault", nsmap={"gr": TNS})
    etree.SubElement(detail, f"{{{TNS}}}code").text = code
    etree.SubElement(detail, f"{{{TNS}}}message").text = message
    return Fault(faultcode=faultcode, faultstring=message, detail=detail)


class NoDtdSoap11(Soap11):
    """SOAP 1.1 that refuses DTDs (SOAP 1.1 §3 forbids them; with the lxml validator an
    entity reference would otherwise crash the app) and answers schema violations with a
    RegisterFault whose text does not echo the offending value (it may be a personal code)."""

    def create_in_document(self, ctx: Any, charset: str | None = None) -> None:
        super().create_in_document(ctx, charset)
        root = ctx.in_document[0] if isinstance(ctx.in_document, tuple) else ctx.in_document
        docinfo = root.getroottree().docinfo
        if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
            raise register_fault("Client", "ForbiddenXmlConstruct", "DTDs are not allowed in SOAP messages.")

    def validate_body(self, ctx: Any, message: Any) -> None:
        if not self.validation_schema.validate(ctx.in_body_doc):
            raise register_fault("Client", "InvalidRequest", f"The request does not conform to {XSD_PATH.name}.")


def _load_schema() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.XMLSchema(etree.parse(str(XSD_PATH), parser))


def served_wsdl(wsdl_bytes: bytes, address: str) -> bytes:
    """The checked-in WSDL with its soap:address location set to ``address``; nothing else changes."""
    replaced, count = re.subn(
        rb'(<soap:address\s+location=")[^"]*(")',
        lambda m: m.group(1) + escape(address, {'"': "&quot;"}).encode("utf-8") + m.group(2),
        wsdl_bytes,
    )
    if count != 1:
        raise ValueError("The WSDL must have exactly one soap:address.")
    return replaced


class _Behaviour:
    """Latency and simulated outages, shared by the threads of one app."""

    def __init__(self, latency_seconds: float, failure_rate: float, random_seed: int | None) -> None:
        if latency_seconds < 0:
            raise ValueError("latency_seconds must not be negative.")
        if not 0.0 <= failure_rate <= 1.0:
            raise ValueError("failure_rate must be between 0 and 1.")
        self.latency_seconds = latency_seconds
        self.failure_rate = failure_rate
        self._random = random.Random(random_seed)
        self._lock = threading.Lock()

    def before_call(self, ctx: Any) -> None:  # spyne 'method_call' event
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        if self.failure_rate:
            with self._lock:
                fail = self._random.random() < self.failure_rate
            if fail:
                raise register_fault("Server", "Unavailable", "The population register is temporarily unavailable.")


class SandboxWsgiApplication(WsgiApplication):
    """Spyne's WSGI app, plus GET ``.../xsd/population-register-v1.xsd`` (the schema the WSDL imports)."""

    def __init__(self, *args: Any, xsd_bytes: bytes, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._xsd_bytes = xsd_bytes

    def __call__(
        self, req_env: dict[str, Any], start_response: Callable[..., Any], wsgi_url: str | None = None
    ) -> Iterable[bytes]:
        if req_env.get("REQUEST_METHOD", "").upper() == "GET" and req_env.get("PATH_INFO", "").endswith(
            XSD_ROUTE_SUFFIX
        ):
            start_response(
                "200 OK",
                [("Content-Type", "application/xml; charset=utf-8"), ("Content-Length", str(len(self._xsd_bytes)))],
            )
            return [self._xsd_bytes]
        return super().__call__(req_env, start_response, wsgi_url)


def build_sandbox_app(
    *, latency_seconds: float = 0.0, failure_rate: float = 0.0, random_seed: int | None = None, public_url: str = ""
) -> WsgiApplication:
    """The GR sandbox as a WSGI app.

    ``latency_seconds`` delays every SOAP answer; ``failure_rate`` (0..1) answers that
    fraction of calls with a Server fault (RegisterFault code ``Unavailable``), drawn from
    a generator seeded with ``random_seed`` (None: not reproducible). ``public_url``, when
    the app is served behind a proxy, replaces the request's scheme and host in the WSDL.
    """
    load_municipalities()  # fail now, not on the first request
    behaviour = _Behaviour(latency_seconds, failure_rate, random_seed)
    schema = _load_schema()
    wsdl_bytes = WSDL_PATH.read_bytes()

    app = Application(
        [PopulationRegisterService],
        tns=TNS,
        name="PopulationRegister",
        in_protocol=NoDtdSoap11(validator="lxml"),
        out_protocol=DirectSoap11(),  # the gateway's compiled writers: Spyne's walk was half its CPU
    )
    app.in_protocol.validation_schema = schema
    app.event_manager.add_listener("method_call", behaviour.before_call)

    def check_response(ctx: Any) -> None:
        body = ctx.out_document.find(f"{{{SOAP11_ENV}}}Body")
        payload = body[0] if body is not None and len(body) else None
        if payload is not None and payload.tag != f"{{{SOAP11_ENV}}}Fault":
            schema.assertValid(payload)

    app.event_manager.add_listener("method_return_document", check_response)

    wsgi_app = SandboxWsgiApplication(app, max_content_length=MAX_REQUEST_BYTES, xsd_bytes=XSD_PATH.read_bytes())

    def serve_checked_in_wsdl(ctx: Any) -> None:
        environ = ctx.transport.req_env
        path = urllib.parse.quote(environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        address = (public_url.rstrip("/") or request_base(environ)) + path
        # The import resolved as if the WSDL were <address>/wsdl/<name>: <address>/xsd/<schema>.
        ctx.transport.wsdl = absolute_schema_locations(
            served_wsdl(wsdl_bytes, address), f"{address}/wsdl/{WSDL_PATH.name}"
        )

    wsgi_app.event_manager.add_listener("wsdl", serve_checked_in_wsdl)
    return wsgi_app
