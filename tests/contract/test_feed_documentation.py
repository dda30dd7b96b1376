"""The README's table of data-issue codes is the catalogue in gateway/domain/checks.py."""

from __future__ import annotations

import re

from gateway.checks import issue_catalogue_markdown
from gateway.config import REPOSITORY_ROOT

README = (REPOSITORY_ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_shows_the_issue_catalogue_as_it_is() -> None:
    section = re.search(r"<!-- issues:start -->\n(.*?)<!-- issues:end -->", README, re.S)
    assert section, "README has no issue catalogue section"
    assert section.group(1) == issue_catalogue_markdown()


def test_the_readme_documents_the_check_commands_and_the_new_operations() -> None:
    for text in (
        "nvs-gateway check population-register",
        "nvs-gateway check data",
        "`GetChanges`",
        "`ListNotices`",
        "`AcknowledgeNotice`",
        "`FixPersonData`",
        "`GetDataCheckStatus`",
        "`ListDataIssues`",
    ):
        assert text in README, text
