"""bench/request_path.py runs end to end, with tiny numbers (the benchmark itself is `make bench`,
never part of the suite: no timing is asserted here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.request_path import OPERATIONS, child_code
from gateway.domain.personal_code import is_valid_personal_code

pytestmark = pytest.mark.e2e
REPOSITORY = Path(__file__).resolve().parents[2]


def test_the_benchmark_measures_every_operation_against_the_echo_and_counts_their_sql(tmp_path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.request_path",
            "--databases",
            "sqlite",
            "--clients",
            "2",
            "--rounds",
            "1",
            "--seconds",
            "0.3",
            "--large",
            "0",
            "--setup-registrations",
            "4",
            "--json",
            str(tmp_path / "runs.json"),
        ],
        cwd=REPOSITORY,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["operation"]: row for row in json.loads((tmp_path / "runs.json").read_text())["summary"]}
    assert set(rows) == {"Echo", *OPERATIONS}
    for operation in OPERATIONS:
        row = rows[operation]
        assert row["errors"] == 0 and row["rps"] > 0 and row["cpu_ms"] > 0, operation
        assert row["statements"] >= 1 and row["transactions"] >= 1 and row["times_echo"] > 0, operation
    assert rows["Echo"]["statements"] is None
    assert "| sqlite | RegisterStudent | 2 |" in result.stdout  # the Markdown table for the README


def test_each_registration_of_the_benchmark_gets_a_fresh_valid_personal_code() -> None:
    codes = [child_code(index) for index in range(0, 3_564_000, 997)]
    assert len(set(codes)) == len(codes) and all(is_valid_personal_code(code) for code in codes)
