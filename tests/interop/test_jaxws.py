"""JAX-WS (Debian jaxws 2.3, JDK 17): `wsimport` on the served WSDL URL, then java/Scenario.java on its stubs.

The stubs are generated once per session, from a gateway of their own, exactly as an integrator
would: `wsimport -keep -s src -d classes http://host/registry?wsdl`, no binding file, no flags.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.interop import scenario
from tests.interop.conftest import HERE, JAXWS_RUNTIME, run, start_sqlite_gateway

pytestmark = pytest.mark.e2e

GENERATED_PACKAGE = Path(
    "lt/mokiniu_registras/nvs_gateway/v1"
)  # from the namespace urn:lt:mokiniu-registras:nvs-gateway:v1
CLASSPATH_SEPARATOR = ":"
# Debian's SAAJ looks itself up by a deprecated property and says so on every message.
JAVA_OPTIONS = ["-Djavax.xml.soap.SAAJMetaFactory=com.sun.xml.messaging.saaj.soap.SAAJMetaFactoryImpl"]


@dataclass(frozen=True)
class Stubs:
    directory: Path
    wsimport: str  # what wsimport printed
    returncode: int

    @property
    def classes(self) -> Path:
        return self.directory / "classes"


@pytest.fixture(scope="session")
def stubs(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, java_tools: dict[str, str]
) -> Stubs:
    directory = tmp_path_factory.mktemp("jaxws")
    for output in ("src", "classes"):  # wsimport writes only into directories that exist
        (directory / output).mkdir()
    live, stop = start_sqlite_gateway(request, tmp_path_factory.mktemp("jaxws-gateway"))
    try:
        done = run(
            [java_tools["wsimport"], "-keep", "-s", "src", "-d", "classes", live.wsdl_url], cwd=directory, timeout=300
        )
    finally:
        stop()
    return Stubs(directory, done.stdout + done.stderr, done.returncode)


def test_wsimport_generates_stubs_from_the_served_wsdl_without_an_error_or_a_warning(stubs: Stubs) -> None:
    # Before: the served WSDL's "../xsd/" import climbed above the server root ([ERROR] IOException ...
    # http://host/../xsd/nvs-gateway-v1.xsd), then GetAccessLog's "page" in request and response clashed
    # ([ERROR] duplicate parameter name), and maxOccurs 10000 was over the JDK's 5,000 ([WARNING]).
    problems = [line for line in stubs.wsimport.splitlines() if re.match(r"\s*\[(ERROR|WARNING)\]", line)]
    assert stubs.returncode == 0 and not problems, f"wsimport exited {stubs.returncode}:\n{stubs.wsimport[-4000:]}"
    port = (stubs.directory / "src" / GENERATED_PACKAGE / "NvsRegistryPortType.java").read_text(encoding="utf-8")
    # One request and one response object per operation (the WSDL's enableWrapperStyle=false), for all of them.
    assert re.search(r"public GetAccessLogResponse getAccessLog\(\s*@WebParam\(name = \"GetAccessLog\"", port)
    assert len(re.findall(r"public (\w+)Response (\w+)\(", port)) == port.count("@WebMethod")
    assert (stubs.classes / GENERATED_PACKAGE / "GatewayFault.class").exists()


def test_jaxws_stubs_run_the_scenario(stubs: Stubs, gateway, java_tools: dict[str, str]) -> None:
    if stubs.returncode != 0:
        pytest.fail(f"no stubs: wsimport failed\n{stubs.wsimport[-2000:]}")
    classpath = CLASSPATH_SEPARATOR.join([str(JAXWS_RUNTIME), str(stubs.classes)])
    program = stubs.directory / "program"
    compiled = run(
        [
            java_tools["javac"],
            "-encoding",
            "UTF-8",
            "-cp",
            classpath,
            "-d",
            str(program),
            str(HERE / "java" / "Scenario.java"),
        ]
    )
    assert compiled.returncode == 0, f"javac failed:\n{compiled.stdout}\n{compiled.stderr[-3000:]}"
    done = run(
        [java_tools["java"], *JAVA_OPTIONS, "-cp", CLASSPATH_SEPARATOR.join([classpath, str(program)]), "Scenario"],
        env=scenario.environment(gateway, "JAX-WS"),
        timeout=120,
    )
    assert done.returncode == 0, f"java failed:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    scenario.check_scenario(gateway, "JAX-WS", scenario.parse_report(done.stdout), done.stdout + done.stderr)


def test_wsimport_reads_the_sandbox_population_register_wsdl_from_its_url(
    gateway, java_tools: dict[str, str], tmp_path: Path
) -> None:
    # Its import "../xsd/population-register-v1.xsd" is served absolute too (it climbed above the root as well).
    done = run(
        [java_tools["wsimport"], "-Xnocompile", "-d", str(tmp_path), f"{gateway.base_url}/population-register?wsdl"],
        timeout=120,
    )
    problems = [line for line in (done.stdout + done.stderr).splitlines() if re.match(r"\s*\[(ERROR|WARNING)\]", line)]
    assert done.returncode == 0 and not problems, (
        f"wsimport exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}"
    )
    assert list(tmp_path.rglob("PopulationRegister*.java"))
