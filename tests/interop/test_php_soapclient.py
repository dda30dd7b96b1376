"""PHP's SoapClient (Debian php-cli, php-soap) runs the scenario: php/scenario.php."""

from __future__ import annotations

import pytest

from tests.interop import scenario
from tests.interop.conftest import HERE, run

pytestmark = pytest.mark.e2e


def test_php_soapclient_runs_the_scenario(gateway, php) -> None:
    done = run([php, str(HERE / "php" / "scenario.php")], env=scenario.environment(gateway, "php"), timeout=60)
    assert done.returncode == 0, f"php failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    scenario.check_scenario(gateway, "php", scenario.parse_report(done.stdout), done.stdout + done.stderr)
