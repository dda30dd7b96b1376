"""The npm 'soap' package (Node.js) runs the scenario: node/scenario.js, with the versions of node/package-lock.json."""

from __future__ import annotations

import pytest

from tests.interop import scenario
from tests.interop.conftest import NODE_DIR, run

pytestmark = pytest.mark.e2e


def test_node_soap_runs_the_scenario(gateway, node) -> None:
    done = run([node, "scenario.js"], env=scenario.environment(gateway, "node soap"), cwd=NODE_DIR, timeout=60)
    assert done.returncode == 0, f"node failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    scenario.check_scenario(gateway, "node soap", scenario.parse_report(done.stdout), done.stdout + done.stderr)
