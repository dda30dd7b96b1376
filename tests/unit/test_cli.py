"""The commands an integrator or operator types, without a server."""

from __future__ import annotations

import json

from gateway.cli import main
from gateway.fault_catalogue import load_catalogue


def test_sandbox_json_gives_a_harness_everything_it_needs(capsys) -> None:
    assert main(["sandbox", "--json"]) == 0
    fixture = json.loads(capsys.readouterr().out)
    assert fixture["registry"]["wsdl"].endswith("/registry?wsdl")
    institutions = {i["code"]: i for i in fixture["institutions"]}
    assert all(i["municipality"] for i in institutions.values())
    kinds = {(i["nvsProvider"], i["generalEducationSchool"]) for i in institutions.values()}
    assert {(True, False), (False, True), (False, False)} <= kinds  # providers, schools, the ineligible
    users = fixture["users"]
    institution_users = [u for u in users if u["actsFor"] == "institution"]
    assert {u["institutionCode"] for u in institution_users} == {
        c for c, i in institutions.items() if not i["deregisteredOn"]
    }
    assert all(u["password"] and u["username"] and (u["rights"] or u["actsFor"] == "portal") for u in users)
    # A coordinator for every municipality with institutions, and one central administrator.
    coordinators = {u["municipalityCode"] for u in users if u["actsFor"] == "municipality"}
    assert coordinators == {i["municipalityCode"] for i in institutions.values()}
    assert [u["username"] for u in users if u["actsFor"] == "central"] == ["sandbox-admin"]
    assert all(r["level"] == "viewer" for u in users if u["actsFor"] != "institution" for r in u["rights"])
    assert {p["providerCode"] for p in fixture["programs"]} <= set(institutions)
    assert {p["purpose"] for p in fixture["programs"]} == {"NVS", "FSPU"}
    special = {p["kind"] for p in fixture["specialPersons"]}
    assert special == {"not-found", "deceased", "departed-abroad", "changed-residence", "changed-name"}


def test_faults_markdown_lists_every_code(capsys) -> None:
    assert main(["faults", "--markdown"]) == 0
    out = capsys.readouterr().out
    for entry in load_catalogue():
        assert f"`{entry.code}`" in out


def test_the_readme_lists_the_sandbox_coordinators_and_administrator_with_their_passwords(capsys) -> None:
    from gateway.config import REPOSITORY_ROOT

    readme = (REPOSITORY_ROOT / "README.md").read_text(encoding="utf-8")
    assert main(["sandbox", "--json"]) == 0
    users = json.loads(capsys.readouterr().out)["users"]
    for user in users:
        if user["actsFor"] != "institution":
            assert f"`{user['username']}` / `{user['password']}`" in readme, user["username"]
