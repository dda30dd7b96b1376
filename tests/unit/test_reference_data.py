"""The classifier data file and its loader (gateway.reference_data)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from gateway.domain import classifiers as cls
from gateway.domain.classifiers import Classifiers
from gateway.domain.model import Institution, ProgramPurpose
from gateway.reference_data import (
    CLASSIFIER_FILE,
    CODE_PATTERN,
    ReferenceDataError,
    load_classifier_file,
    load_classifiers,
)


@pytest.fixture(scope="module")
def loaded() -> tuple[str, list]:
    return load_classifier_file(CLASSIFIER_FILE)


@pytest.fixture(scope="module")
def classifiers(loaded) -> Classifiers:
    version, entries = loaded
    return Classifiers(entries, version)


# --- the real file -------------------------------------------------------------
def test_classifier_file_is_in_the_repository() -> None:
    assert CLASSIFIER_FILE == Path(__file__).resolve().parents[2] / "data" / "classifiers" / "classifiers.toml"
    assert CLASSIFIER_FILE.is_file()


def test_real_file_loads_with_every_kind(loaded, classifiers) -> None:
    version, entries = loaded
    assert version == "2026.3"
    assert set(classifiers.kinds()) == set(cls.KIND_LABELS)
    for entry in entries:
        assert CODE_PATTERN.fullmatch(entry.code), entry
        assert entry.name.strip() and entry.name_en.strip(), entry
    assert classifiers.version == version


def test_codes_are_unique_per_kind(loaded) -> None:
    _, entries = loaded
    keys = [(e.kind, e.code) for e in entries]
    assert len(keys) == len(set(keys))


def test_sixty_municipalities(classifiers) -> None:
    municipalities = classifiers.entries(cls.MUNICIPALITY)
    assert len(municipalities) == 60
    assert all(re.fullmatch(r"[0-9]{2}", m.code) for m in municipalities)
    names = {m.name for m in municipalities}
    assert len(names) == 60
    assert all(name.endswith("savivaldybė") for name in names)
    for expected in (
        "Vilniaus miesto savivaldybė",
        "Kauno miesto savivaldybė",
        "Anykščių rajono savivaldybė",
        "Birštono savivaldybė",
        "Druskininkų savivaldybė",
        "Elektrėnų savivaldybė",
        "Neringos savivaldybė",
        "Palangos miesto savivaldybė",
        "Visagino savivaldybė",
        "Kazlų Rūdos savivaldybė",
        "Marijampolės savivaldybė",
        "Zarasų rajono savivaldybė",
    ):
        assert expected in names
    # 12 city and special municipalities, 48 others (43 district + 5 without "rajono" in the name)
    city_or_special = [
        n
        for n in names
        if "miesto" in n or n.split()[0] in {"Birštono", "Druskininkų", "Elektrėnų", "Neringos", "Visagino"}
    ]
    assert len(city_or_special) == 12
    vilnius = next(m for m in municipalities if m.name == "Vilniaus miesto savivaldybė")
    assert vilnius.name_en == "Vilnius City Municipality"


def test_municipality_codes_are_the_address_registers(classifiers) -> None:
    """data/classifiers/README.md: 11-30 the city and special municipalities, 32-94 the others."""
    by_code = {m.code: m.name for m in classifiers.entries(cls.MUNICIPALITY)}
    assert {code: by_code[code] for code in ("13", "19", "21", "27", "29", "41", "52", "94")} == {
        "13": "Vilniaus miesto savivaldybė",
        "19": "Kauno miesto savivaldybė",
        "21": "Klaipėdos miesto savivaldybė",
        "27": "Panevėžio miesto savivaldybė",
        "29": "Šiaulių miesto savivaldybė",
        "41": "Vilniaus rajono savivaldybė",
        "52": "Kauno rajono savivaldybė",
        "94": "Jurbarko rajono savivaldybė",
    }
    first_block = {by_code[code].split()[0] for code in by_code if "11" <= code <= "30"}
    assert first_block == {
        "Alytaus",
        "Birštono",
        "Vilniaus",
        "Druskininkų",
        "Marijampolės",
        "Kauno",
        "Klaipėdos",
        "Neringos",
        "Palangos",
        "Panevėžio",
        "Šiaulių",
        "Visagino",
    }
    assert all(
        "32" <= code <= "94"
        for code in by_code
        if by_code[code].split()[0] not in first_block or "rajono" in by_code[code]
    )


@pytest.mark.parametrize(
    ("code", "flags"),
    [("31714101", set()), ("31714102", {"nvs"}), ("31914101", set()), ("31914102", {"nvs"})],
)
def test_seed_purpose_codes(classifiers, code, flags) -> None:
    entry = classifiers.get(cls.INSTITUTION_PURPOSE, code)
    assert entry is not None
    assert set(entry.flags) == flags


def test_institution_groups_carry_the_flags_the_domain_reads(classifiers) -> None:
    flags = {e.code: set(e.flags) for e in classifiers.entries(cls.INSTITUTION_GROUP)}
    assert flags["NVS_SCHOOL"] == {"nvs-school"}
    assert flags["OTHER_PROVIDER"] == {"nvs-by-purpose"}
    assert flags["FREELANCE"] == {"nvs-by-purpose"}
    assert flags["GENERAL_EDU"] == {"general-education"}
    assert flags["PRESCHOOL"] == set()
    assert flags["VOCATIONAL"] == set()


def test_eligibility_follows_group_and_purpose(classifiers) -> None:
    def institution(group: str, *purposes: str) -> Institution:
        return Institution("300000999", "X", "13", "30", group, purposes)

    assert institution("NVS_SCHOOL").may_provide_nvs(classifiers)
    assert institution("OTHER_PROVIDER", "31714102").may_provide_nvs(classifiers)
    assert institution("FREELANCE", "31914102").may_provide_nvs(classifiers)
    assert not institution("OTHER_PROVIDER", "31714101").may_provide_nvs(classifiers)
    assert not institution("FREELANCE", "31914101").may_provide_nvs(classifiers)
    assert not institution("GENERAL_EDU", "GYMNASIUM").may_provide_nvs(classifiers)
    assert institution("GENERAL_EDU").is_general_education_school(classifiers)


def test_program_purposes_match_the_domain_enum(classifiers) -> None:
    codes = {e.code for e in classifiers.entries(cls.PROGRAM_PURPOSE)}
    assert codes == {p.value for p in ProgramPurpose}


def test_funding_ownership_contract_and_departure(classifiers) -> None:
    assert {e.code for e in classifiers.entries(cls.FUNDING_TYPE)} == {"NVS_BASKET", "MUNICIPAL", "STATE", "OTHER"}
    assert "basket" in classifiers.get(cls.FUNDING_TYPE, "NVS_BASKET").flags
    assert {e.code: e.name for e in classifiers.entries(cls.OWNERSHIP_TYPE)} == {
        "10": "Valstybinė",
        "20": "Savivaldybės",
        "30": "Nevalstybinė",
    }
    assert {"BILATERAL", "TRILATERAL"} <= {e.code for e in classifiers.entries(cls.CONTRACT_TYPE)}
    assert len(classifiers.entries(cls.DEPARTURE_REASON)) >= 5


def test_directions_and_sub_directions(classifiers) -> None:
    directions = {e.code for e in classifiers.entries(cls.NVS_DIRECTION)}
    subs = classifiers.entries(cls.NVS_SUB_DIRECTION)
    assert len(directions) >= 15
    assert len(subs) >= 60
    assert all(s.parent in directions for s in subs)
    assert directions == {s.parent for s in subs}  # every direction has sub-directions
    music = {s.name for s in subs if s.parent == "MUSIC"}
    # the seed's screenshot
    for name in (
        "Fortepijonas",
        "Akordeonas",
        "Kitas klavišinis instrumentas",
        "Smuikas",
        "Gitara",
        "Violončelė",
        "Kitas styginis instrumentas",
    ):
        assert name in music
    steam = {e.code for e in classifiers.entries(cls.NVS_DIRECTION) if "steam" in e.flags}
    assert steam == {"TECHCREAT", "NATURE", "IT", "TECHNOLOGY", "MEDIA"}


def test_load_classifiers_defaults_to_the_real_file() -> None:
    loaded = load_classifiers()
    assert loaded.version == "2026.3"
    assert loaded.name(cls.MUNICIPALITY, "13") == "Vilniaus miesto savivaldybė"


# --- broken variants -----------------------------------------------------------
MINIMAL = """\
version = "t.1"
source = "test"

[[program-purpose]]
code = "NVS"
name = "NVŠ programa"
name_en = "NVŠ program"

[[program-purpose]]
code = "FSPU"
name = "FŠPU programa"

[[nvs-direction]]
code = "MUSIC"
name = "Muzika"

[[nvs-sub-direction]]
code = "MUSIC.PIANO"
name = "Fortepijonas"
parent = "MUSIC"

[[departure-reason]]
code = "COMPLETED"
name = "Baigė"

[[contract-type]]
code = "BILATERAL"
name = "Dvišalė"

[[funding-type]]
code = "NVS_BASKET"
name = "Krepšelis"
flags = ["basket"]

[[institution-group]]
code = "NVS_SCHOOL"
name = "NVŠ mokykla"
flags = ["nvs-school"]

[[institution-purpose]]
code = "31714102"
name = "Kitas švietimo teikėjas (NVŠ)"
flags = ["nvs"]

[[ownership-type]]
code = "20"
name = "Savivaldybės"

[[municipality]]
code = "13"
name = "Vilniaus miesto savivaldybė"
name_en = "Vilnius City Municipality"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "classifiers.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_minimal_variant_loads(tmp_path) -> None:
    version, entries = load_classifier_file(write(tmp_path, MINIMAL))
    assert version == "t.1"
    assert len(entries) == 11
    sub = next(e for e in entries if e.kind == cls.NVS_SUB_DIRECTION)
    assert sub.parent == "MUSIC" and sub.name_en == ""
    assert next(e for e in entries if e.code == "NVS_SCHOOL").flags == frozenset({"nvs-school"})


BROKEN = {
    "missing kind": (
        lambda t: t.replace('[[contract-type]]\ncode = "BILATERAL"\nname = "Dvišalė"\n', ""),
        ["[[contract-type]]", "missing"],
    ),
    "duplicate code": (
        lambda t: t + '\n[[municipality]]\ncode = "13"\nname = "Kita"\n',
        ["[[municipality]]", "'13'", "duplicate"],
    ),
    "code pattern": (
        lambda t: t.replace('code = "BILATERAL"', 'code = "DVI ŠALĖ"'),
        ["[[contract-type]]", "'DVI ŠALĖ'", "does not match"],
    ),
    "code too long": (
        lambda t: t.replace('code = "COMPLETED"', 'code = "COMPLETED_THE_PROGRAM_X"'),
        ["[[departure-reason]]", "'COMPLETED_THE_PROGRAM_X'", "does not match"],
    ),
    "unknown parent": (
        lambda t: t.replace('parent = "MUSIC"', 'parent = "ART"'),
        ["[[nvs-sub-direction]]", "'MUSIC.PIANO'", "parent 'ART'", "[[nvs-direction]]"],
    ),
    "missing parent": (
        lambda t: t.replace('parent = "MUSIC"\n', ""),
        ["[[nvs-sub-direction]]", "'MUSIC.PIANO'", "'parent'", "missing"],
    ),
    "parent on a flat kind": (
        lambda t: t.replace('code = "20"\n', 'code = "20"\nparent = "10"\n'),
        ["[[ownership-type]]", "'20'", "'parent' is not allowed"],
    ),
    "flag not a string": (
        lambda t: t.replace('flags = ["nvs"]', "flags = [1]"),
        ["[[institution-purpose]]", "'31714102'", "'flags'", "strings"],
    ),
    "flags not a list": (
        lambda t: t.replace('flags = ["nvs-school"]', 'flags = "nvs-school"'),
        ["[[institution-group]]", "'NVS_SCHOOL'", "'flags'"],
    ),
    "missing name": (
        lambda t: t.replace('name = "Baigė"\n', ""),
        ["[[departure-reason]]", "'COMPLETED'", "'name'"],
    ),
    "missing code": (
        lambda t: t.replace('code = "BILATERAL"\n', ""),
        ["[[contract-type]]", "entry #1", "'code'"],
    ),
    "unknown key": (
        lambda t: t.replace('flags = ["basket"]', 'flag = ["basket"]'),
        ["[[funding-type]]", "'NVS_BASKET'", "unknown key", "flag"],
    ),
    "unknown kind": (
        lambda t: t + '\n[[municipalty]]\ncode = "13"\nname = "X"\n',
        ["[[municipalty]]", "unknown classifier kind"],
    ),
    "required code missing": (
        lambda t: t.replace('code = "FSPU"', 'code = "FSPU2"'),
        ["[[program-purpose]]", "'FSPU'", "required"],
    ),
    "no version": (
        lambda t: t.replace('version = "t.1"\n', ""),
        ["'version'"],
    ),
    "kind not an array of tables": (
        lambda t: t.replace('source = "test"', 'source = "test"\ncontract-type = "BILATERAL"').replace(
            '[[contract-type]]\ncode = "BILATERAL"\nname = "Dvišalė"\n', ""
        ),
        ["[[contract-type]]", "array of tables"],
    ),
    "not TOML": (
        lambda t: t.replace('name = "Muzika"', "name = Muzika"),
        ["not valid TOML"],
    ),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_variant_is_rejected_naming_the_problem(tmp_path, case) -> None:
    mutate, expected = BROKEN[case]
    text = mutate(MINIMAL)
    assert text != MINIMAL
    with pytest.raises(ReferenceDataError) as caught:
        load_classifier_file(write(tmp_path, text))
    message = str(caught.value)
    for fragment in expected:
        assert fragment in message, (fragment, message)


def test_every_problem_is_reported_at_once(tmp_path) -> None:
    text = (
        MINIMAL.replace('parent = "MUSIC"', 'parent = "ART"').replace('flags = ["nvs"]', "flags = [1]")
        + '\n[[municipality]]\ncode = "13"\nname = "Kita"\n'
    )
    with pytest.raises(ReferenceDataError) as caught:
        load_classifier_file(write(tmp_path, text))
    assert len(caught.value.problems) == 3
    assert caught.value.path.name == "classifiers.toml"


def test_missing_file_is_a_reference_data_error(tmp_path) -> None:
    with pytest.raises(ReferenceDataError, match="cannot read"):
        load_classifier_file(tmp_path / "nope.toml")
