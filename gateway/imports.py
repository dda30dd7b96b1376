"""Parsers of the ŠMIR institutions and NŠPR programs import files.

Formats: ``xsd/smir-institutions-v1.xsd`` and ``xsd/nspr-programs-v1.xsd``. A file
is accepted whole or rejected whole: every problem found (not well-formed, a
DOCTYPE, schema errors, unknown classifier codes, duplicate codes, the temporary
program code) is collected with its line number and raised together as
:class:`ImportFileInvalid`. Only a clean file yields domain objects.

Storing the result (and counting it in an :class:`ImportSummary`) is the caller's
job. Messages never carry an 11-digit number (a personal code put in the wrong
field must not reach a log).

The reading helpers (:class:`Problems`, :func:`load_validated`, :func:`iter_records`,
:class:`RecordFields`, :func:`check_code`) are shared with the other XML data files
(``gateway.rates``), so every file gets the same DTD refusal, line numbers and
all-or-nothing rejection.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import threading
from collections.abc import Callable, Container, Iterator
from dataclasses import dataclass
from pathlib import Path

from lxml import etree

from gateway.config import FILES_ROOT
from gateway.domain import classifiers as cls
from gateway.domain.access import Area, Level, Right, Scope
from gateway.domain.classifiers import Classifiers
from gateway.domain.model import TEMPORARY_PROGRAM_CODE, Institution, Program, ProgramPurpose
from gateway.domain.personal_code import PersonalCode
from gateway.domain.users import Confirmations, UserRequest

XSD_DIR = FILES_ROOT / "xsd"
INSTITUTIONS_XSD = XSD_DIR / "smir-institutions-v1.xsd"
PROGRAMS_XSD = XSD_DIR / "nspr-programs-v1.xsd"
INSTITUTIONS_NS = "urn:lt:smir:institutions:v1"
PROGRAMS_NS = "urn:lt:nspr:programs:v1"

PROGRESS_EVERY = 500
MAX_LISTED_PROBLEMS = 200  # str() of ImportFileInvalid lists at most this many; .errors keeps all


@dataclass(frozen=True)
class ImportProblem:
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line is not None else self.message


class ImportFileInvalid(Exception):
    """The import file was rejected; ``errors`` lists every problem found, in line order."""

    def __init__(self, errors: list[ImportProblem]) -> None:
        self.errors = list(errors)
        listed = [str(problem) for problem in self.errors[:MAX_LISTED_PROBLEMS]]
        if len(self.errors) > MAX_LISTED_PROBLEMS:
            listed.append(f"... and {len(self.errors) - MAX_LISTED_PROBLEMS} more problem(s)")
        super().__init__("\n".join(listed))

    @property
    def problems(self) -> list[ImportProblem]:
        return self.errors


@dataclass
class ImportSummary:
    """What an import changed; filled by whoever stores the parsed objects."""

    created: int = 0
    updated: int = 0
    unchanged: int = 0

    @property
    def total(self) -> int:
        return self.created + self.updated + self.unchanged

    def __str__(self) -> str:
        return f"{self.total} record(s): {self.created} created, {self.updated} updated, {self.unchanged} unchanged"


# --- public parsers -----------------------------------------------------------
def parse_institutions(
    path: Path | str,
    classifiers: Classifiers,
    progress: Callable[[int], None] | None = None,
) -> list[Institution]:
    """Parse a ŠMIR institutions file; raise :class:`ImportFileInvalid` listing every problem."""
    problems = Problems()
    root, invalid = load_validated(Path(path), INSTITUTIONS_XSD, problems)
    version = classifiers.version
    seen: dict[str, int] = {}
    result: list[Institution] = []
    for record in iter_records(root, INSTITUTIONS_NS, "institution", progress):
        fields = RecordFields(record, INSTITUTIONS_NS, invalid)
        code = fields.text("code")
        if code is not None:
            _check_duplicate("institution", code, fields.line("code"), seen, problems)
        for element, kind in (
            ("municipalityCode", cls.MUNICIPALITY),
            ("ownershipCode", cls.OWNERSHIP_TYPE),
            ("groupCode", cls.INSTITUTION_GROUP),
        ):
            check_code(fields, element, kind, classifiers, version, problems)
        purpose_codes = _check_codes(fields, "purposeCode", cls.INSTITUTION_PURPOSE, classifiers, version, problems)
        deregistered_on = fields.date("deregisteredOn", problems)
        if problems:
            continue  # the file is rejected anyway: keep looking for problems, build nothing
        result.append(
            Institution(
                code=fields.required("code"),
                name=fields.required("name"),
                municipality_code=fields.required("municipalityCode"),
                ownership_code=fields.required("ownershipCode"),
                group_code=fields.required("groupCode"),
                purpose_codes=purpose_codes,
                deregistered_on=deregistered_on,
            )
        )
    problems.raise_if_any()
    return result


def parse_programs(
    path: Path | str,
    classifiers: Classifiers,
    progress: Callable[[int], None] | None = None,
    *,
    provider_codes: Container[str] | None = None,
) -> list[Program]:
    """Parse an NŠPR programs file; raise :class:`ImportFileInvalid` listing every problem.

    ``provider_codes``, if given, are the known institution codes: a program of any
    other provider is a problem too.
    """
    problems = Problems()
    root, invalid = load_validated(Path(path), PROGRAMS_XSD, problems)
    version = classifiers.version
    seen: dict[str, int] = {}
    result: list[Program] = []
    for record in iter_records(root, PROGRAMS_NS, "program", progress):
        fields = RecordFields(record, PROGRAMS_NS, invalid)
        code = fields.text("code")
        if code is not None:
            line = fields.line("code")
            if code == TEMPORARY_PROGRAM_CODE:
                problems.add(
                    line,
                    f"program code {TEMPORARY_PROGRAM_CODE} is NŠPR's temporary code for a program that is not yet "
                    "registered; only registered programs (with their own 9-digit code) can be imported",
                )
            else:
                _check_duplicate("program", code, line, seen, problems)
        provider = fields.text("providerCode")
        if provider is not None and provider_codes is not None and provider not in provider_codes:
            problems.add(fields.line("providerCode"), f"provider {provider} is not a known institution")
        check_code(fields, "purpose", cls.PROGRAM_PURPOSE, classifiers, version, problems)
        direction_codes = _check_codes(fields, "directionCode", cls.NVS_DIRECTION, classifiers, version, problems)
        registered_on = fields.date("registeredOn", problems)
        accredited_on = fields.date("accreditedOn", problems)
        deregistered_on = fields.date("deregisteredOn", problems)
        if registered_on is not None:
            for element, value, what in (
                ("accreditedOn", accredited_on, "accredited"),
                ("deregisteredOn", deregistered_on, "deregistered"),
            ):
                if value is not None and value < registered_on:
                    problems.add(
                        fields.line(element),
                        f"program {code}: {element} {value.isoformat()} is before registeredOn "
                        f"{registered_on.isoformat()} (a program is {what} after it is registered)",
                    )
        if problems:
            continue
        result.append(
            Program(
                code=fields.required("code"),
                name=fields.required("name"),
                provider_code=fields.required("providerCode"),
                purpose=ProgramPurpose(fields.required("purpose")),
                direction_codes=direction_codes,
                registered_on=registered_on,
                accredited_on=accredited_on,
                deregistered_on=deregistered_on,
            )
        )
    problems.raise_if_any()
    return result


# --- reading and validating the file ------------------------------------------
# 11 digits may be a personal code; 10 or 12 or more may be one mistyped (formal-enrolments files carry codes).
_PERSONAL_CODE_LIKE = re.compile(r"(?<!\d)\d{10,}(?!\d)")
_LONG_QUOTED = re.compile(r"'([^']{60})[^']+'")
_NAMESPACE = re.compile(r"\{urn:lt:[a-z-]+:[a-z-]+:v\d+\}")
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_]")
_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)
_SCHEMA_ELEMENT = re.compile(r"Element '(?:\{[^}]*\})?([^']+)'")


def _clean(message: str) -> str:
    """Readable and safe: no namespace noise, no overlong values, no numbers of 10 or more digits."""
    message = _NAMESPACE.sub("", message.strip())
    message = _LONG_QUOTED.sub(lambda m: f"'{m.group(1)}...'", message)
    return _PERSONAL_CODE_LIKE.sub("<digits withheld>", message)


class Problems:
    """Problems found in one file: deduplicated, cleaned, raised together in line order."""

    def __init__(self) -> None:
        self._items: list[ImportProblem] = []
        self._seen: set[tuple[int | None, str]] = set()

    def add(self, line: int | None, message: str) -> None:
        key = (line, _clean(message))
        if key not in self._seen:
            self._seen.add(key)
            self._items.append(ImportProblem(*key))

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self) -> None:
        if self._items:
            ordered = sorted(self._items, key=lambda p: (p.line is None, p.line or 0))
            raise ImportFileInvalid(ordered)


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


@functools.cache
def _schema(xsd: Path) -> etree.XMLSchema:
    """One compiled schema per file per process (compiling is the slow part)."""
    return etree.XMLSchema(etree.parse(str(xsd), _parser()))


_SCHEMA_LOCK = threading.Lock()  # a schema's error_log belongs to its last validate() call


def _line_of(data: bytes, match: re.Match[bytes] | None) -> int | None:
    return None if match is None else data.count(b"\n", 0, match.start()) + 1


def _doctype_in_prolog(data: bytes) -> re.Match[bytes] | None:
    first_element = _FIRST_ELEMENT.search(data)
    end = first_element.start() if first_element else len(data)
    return _DOCTYPE.search(data, 0, end)


def load_validated(
    path: Path, xsd: Path, problems: Problems
) -> tuple[etree._Element, frozenset[tuple[int, str | None]]]:
    """Parse and schema-validate; on a fatal problem raise at once.

    Returns the root and the schema-invalid elements as (line, local name) pairs
    (name None when the message names no element: the whole line is suspect).
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ImportFileInvalid([ImportProblem(None, f"cannot read {path.name}: {exc.strerror or exc}")]) from exc

    doctype_message = "a DOCTYPE (DTD) is not allowed in import files; remove it"
    parser = _parser()
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        doctype = _doctype_in_prolog(data)
        if doctype is not None:
            problems.add(_line_of(data, doctype), doctype_message)
        # The parser's own log: the exception's log is lxml's per-thread one, which still
        # holds errors of earlier, unrelated validations in the same thread.
        entries = [e for e in parser.error_log if e.level >= etree.ErrorLevels.ERROR]
        for entry in entries:
            problems.add(entry.line or None, f"not well-formed XML: {entry.message}")
        if not entries:
            problems.add(exc.lineno or None, f"not well-formed XML: {exc.msg}")
        problems.raise_if_any()
        raise AssertionError("unreachable") from exc  # pragma: no cover

    if root.getroottree().docinfo.doctype:
        # Refused outright: nothing in a file that declares a DTD is looked at further.
        problems.add(_line_of(data, _DOCTYPE.search(data)), doctype_message)
        problems.raise_if_any()

    schema = _schema(xsd)
    with _SCHEMA_LOCK:
        valid = schema.validate(root)
        log = [(entry.line, entry.message) for entry in schema.error_log]
    invalid: set[tuple[int, str | None]] = set()
    if not valid:
        for line, message in log:
            problems.add(line or None, f"not valid against {xsd.name}: {message}")
            if line:
                named = _SCHEMA_ELEMENT.match(message)
                invalid.add((line, named.group(1) if named else None))
    return root, frozenset(invalid)


def iter_records(
    root: etree._Element,
    ns: str,
    name: str,
    progress: Callable[[int], None] | None,
    *,
    container: str | None = None,
) -> Iterator[etree._Element]:
    """The root's ``name`` children, if the root is ``container`` (by default ``name`` + "s")."""
    count = 0
    if root.tag == f"{{{ns}}}{container or name + 's'}":
        for record in root.iterchildren(f"{{{ns}}}{name}"):
            yield record
            count += 1
            if progress is not None and count % PROGRESS_EVERY == 0:
                progress(count)
    if progress is not None and (count == 0 or count % PROGRESS_EVERY != 0):
        progress(count)


class RecordFields:
    """A record's child elements by local name; elements the schema found invalid are left out
    (their problem is already reported; checking their value again would only repeat it)."""

    def __init__(self, record: etree._Element, ns: str, invalid: frozenset[tuple[int, str | None]]) -> None:
        self._by_name: dict[str, list[etree._Element]] = {}
        prefix = f"{{{ns}}}"
        for child in record.iterchildren(tag=etree.Element):
            if not (isinstance(child.tag, str) and child.tag.startswith(prefix)):
                continue
            name = child.tag[len(prefix) :]
            if (child.sourceline, name) in invalid or (child.sourceline, None) in invalid:
                continue
            self._by_name.setdefault(name, []).append(child)

    def elements(self, name: str) -> list[etree._Element]:
        return self._by_name.get(name, [])

    def text(self, name: str) -> str | None:
        found = self.elements(name)
        if not found:
            return None
        value = (found[0].text or "").strip()
        return value or None

    def required(self, name: str) -> str:
        """The text of an element the schema requires and keeps from being blank: asked for only
        once the file is known to have no problems, so the schema has vouched for it."""
        value = self.text(name)
        if value is None:
            raise ValueError(f"{name} is missing or blank, yet the schema reported no problem with it")
        return value

    def line(self, name: str) -> int | None:
        found = self.elements(name)
        return found[0].sourceline if found else None

    def date(self, name: str, problems: Problems) -> dt.date | None:
        value = self.text(name)
        if value is None:
            return None
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            problems.add(self.line(name), f"{name} '{value}' is not a date written YYYY-MM-DD")
            return None


def _check_duplicate(what: str, code: str, line: int | None, seen: dict[str, int], problems: Problems) -> None:
    if code in seen:
        problems.add(line, f"duplicate {what} code {code} (first at line {seen[code]})")
    else:
        seen[code] = line or 0


def check_code(
    fields: RecordFields, element: str, kind: str, classifiers: Classifiers, version: str, problems: Problems
) -> None:
    value = fields.text(element)
    if value is not None and classifiers.get(kind, value) is None:
        label = cls.KIND_LABELS.get(kind, kind)
        problems.add(
            fields.line(element), f"{element}: '{value}' is not a known {label} code (classifiers version {version})"
        )


def _check_codes(
    fields: RecordFields, element: str, kind: str, classifiers: Classifiers, version: str, problems: Problems
) -> tuple[str, ...]:
    """Check every occurrence; return the distinct values in file order (repeats are dropped silently)."""
    label = cls.KIND_LABELS.get(kind, kind)
    values: list[str] = []
    for node in fields.elements(element):
        value = (node.text or "").strip()
        if not value:
            continue
        if classifiers.get(kind, value) is None:
            problems.add(
                node.sourceline,
                f"{element}: '{value}' is not a known {label} code (classifiers version {version})",
            )
        values.append(value)
    return tuple(dict.fromkeys(values))


# --- user registration requests -------------------------------------------------
USER_REQUEST_XSD = XSD_DIR / "user-registration-request-v1.xsd"
USER_REQUEST_NS = "urn:lt:mokiniu-registras:user-registration-request:v1"


def parse_user_request(path: Path | str) -> UserRequest:
    """Parse a user registration request (``xsd/user-registration-request-v1.xsd``).

    A file that is not well-formed or not valid is refused with every problem (as
    :class:`ImportFileInvalid`); a checksum-invalid personal code raises
    ``InvalidPersonalCode``. Whether the request can be granted is
    ``gateway.domain.users.check_request``'s call, not the parser's."""
    problems = Problems()
    root, _invalid = load_validated(Path(path), USER_REQUEST_XSD, problems)
    problems.raise_if_any()
    ns = f"{{{USER_REQUEST_NS}}}"

    def text(element: etree._Element, name: str) -> str:
        return (element.findtext(ns + name) or "").strip()

    def flag(element: etree._Element, name: str) -> bool:
        return text(element, name) in ("true", "1")

    confirmations = root.find(ns + "confirmations")
    acts_for = root.find(ns + "actsFor")
    assert confirmations is not None and acts_for is not None  # the schema requires them
    chosen = next(child for child in acts_for if isinstance(child.tag, str))
    kind = etree.QName(chosen).localname
    scope = (
        Scope.institution((chosen.text or "").strip())
        if kind == "institutionCode"
        else Scope.municipality((chosen.text or "").strip())
        if kind == "municipalityCode"
        else Scope.central()
    )
    return UserRequest(
        personal_code=PersonalCode(text(root, "personalCode")),
        first_name=text(root, "firstName"),
        last_name=text(root, "lastName"),
        email=text(root, "email"),
        phone=text(root, "phone"),
        position=text(root, "position"),
        employer_code=text(root, "institutionCode"),
        employer_name=text(root, "institutionName"),
        workplace_address=text(root, "workplaceAddress"),
        valid_from=dt.date.fromisoformat(text(root, "validFrom")),
        valid_until=dt.date.fromisoformat(text(root, "validUntil")),
        filled_on=dt.date.fromisoformat(text(root, "filledOn")),
        confirmations=Confirmations(
            law_read=flag(confirmations, "lawOnPersonalDataProtectionRead"),
            regulations_read=flag(confirmations, "registerRegulationsRead"),
            manual_read=flag(confirmations, "userManualRead"),
            pledge_signed=flag(confirmations, "confidentialityPledgeSigned"),
        ),
        acts_for=scope,
        rights=tuple(
            Right(Area(text(right, "area")), Level(text(right, "level")))
            for right in root.iterfind(f"{ns}rights/{ns}right")
        ),
        username=text(root, "username") or None,
    )
