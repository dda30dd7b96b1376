"""The fault catalogue, the error classes and the README say the same thing."""

from __future__ import annotations

import re
from dataclasses import fields

from gateway.config import ENVIRONMENT_VARIABLES, REPOSITORY_ROOT, Settings
from gateway.domain import model
from gateway.domain.errors import all_error_classes
from gateway.fault_catalogue import load_catalogue, render_markdown

README = (REPOSITORY_ROOT / "README.md").read_text(encoding="utf-8")


def test_every_error_class_is_in_the_catalogue_with_its_role_and_nothing_else_is() -> None:
    catalogue = {e.code: e.role for e in load_catalogue() if e.role != "Warning"}
    classes = {cls.code: cls.role for cls in all_error_classes()}
    assert classes == catalogue


def test_every_warning_the_domain_gives_is_in_the_catalogue() -> None:
    warnings = {e.code for e in load_catalogue() if e.role == "Warning"}
    assert warnings == {model.LATE_REGISTRATION, model.LATE_DEREGISTRATION, model.FUNDING_NOT_CARRIED}


def test_the_readme_shows_the_catalogue_as_it_is() -> None:
    section = re.search(r"<!-- faults:start -->\n(.*?)<!-- faults:end -->", README, re.S)
    assert section, "README has no fault catalogue section"
    assert section.group(1) == render_markdown(load_catalogue())


def test_the_readme_documents_every_setting() -> None:
    assert set(ENVIRONMENT_VARIABLES.values()) == {f.name for f in fields(Settings)}
    for variable in ENVIRONMENT_VARIABLES:
        assert f"`{variable}`" in README, variable


def test_the_readmes_two_commands_exist() -> None:
    makefile = (REPOSITORY_ROOT / "Makefile").read_text(encoding="utf-8")
    assert "make serve" in README and "make test" in README
    assert re.search(r"^serve:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (REPOSITORY_ROOT / ".ci" / "run").read_text(encoding="utf-8")


def rights_table() -> str:
    """The README's rights table, as gateway/domain/access.py's OPERATIONS says it."""
    from gateway.domain.access import OPERATIONS, ScopeKind

    callers = {
        ScopeKind.INSTITUTION: "institution users",
        ScopeKind.MUNICIPALITY: "coordinators",
        ScopeKind.CENTRAL: "administrators",
        ScopeKind.PORTAL: "the state e-services portal",
    }
    lines = ["| operation | right needed | who may call | access log |", "|---|---|---|---|"]
    for name, rule in OPERATIONS.items():
        needs = ", ".join(str(r) for r in rule.needs) or "(none)"
        who = ", ".join(callers[k] for k in ScopeKind if k in rule.acting_as)
        lines.append(f"| `{name}` | {needs} | {who} | {'yes' if rule.personal_data else 'no'} |")
    return "\n".join(lines) + "\n"


def test_the_readme_shows_the_rights_table_as_it_is() -> None:
    section = re.search(r"<!-- rights:start -->\n(.*?)<!-- rights:end -->", README, re.S)
    assert section, "README has no rights table section"
    assert section.group(1) == rights_table()
