"""The README's instructions, run as a reader would run them: its zeep example, taken from the README
itself, so that the two cannot drift apart."""
from __future__ import annotations

import contextlib
import io
import re

from gateway.config import REPOSITORY_ROOT

README = REPOSITORY_ROOT / "README.md"
SANDBOX_ADDRESS = "http://127.0.0.1:8080"  # where the README's examples expect `make serve`


def readme_zeep_example() -> str:
    """The Python block that follows "With [zeep]" in the README."""
    text = README.read_text(encoding="utf-8")
    found = re.search(r"With \[zeep\].*?```python\n(.*?)```", text, re.S)
    assert found, "the README has no zeep example"
    return found.group(1)


def run_readme_example(base_url: str) -> dict[str, object]:
    """Execute the example against ``base_url`` instead of the README's address; its variables."""
    code = readme_zeep_example()
    assert SANDBOX_ADDRESS in code
    namespace: dict[str, object] = {"__name__": "readme_example"}
    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(code.replace(SANDBOX_ADDRESS, base_url), "README.md (zeep example)", "exec"), namespace)  # noqa: S102
    return namespace


def test_the_readme_zeep_example_works_when_run_twice(live_gateway) -> None:
    first = run_readme_example(live_gateway.base_url)
    second = run_readme_example(live_gateway.base_url)  # DuplicateGroupName, then AlreadyRegistered, before

    assert second["group"].groupId == first["group"].groupId  # type: ignore[attr-defined]
    assert second["registration"].registrationId == first["registration"].registrationId  # type: ignore[attr-defined]
    assert first["person"].firstName == "Adomas"  # type: ignore[attr-defined]
    database = live_gateway.database
    assert database.rows("SELECT count(*) FROM nvs_group WHERE name = 'Fortepijonas 1'") == [(1,)]
    assert database.rows("SELECT count(*) FROM registration WHERE status = 'active'") == [(1,)]
