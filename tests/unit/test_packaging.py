"""What the wheel installs is enough to run: the contract, the data files, the migrations and the fault
catalogue travel with the packages (setup.py copies xsd/, wsdl/ and data/ into gateway/_files/).

The packages are built here as the wheel builds them (setup.py build_py, a few seconds) and imported from
the build alone, away from the checkout. ``make check-wheel`` (deploy/check-wheel.sh) goes further:
the wheel itself, installed into a clean venv, serving the WSDL and answering a SOAP call.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from gateway.config import REPOSITORY_ROOT

# Every file the gateway opens by path, as the installed modules name it.
PROBE = """
import json, sys
import gateway, gateway.config, gateway.fault_catalogue, gateway.imports, gateway.rates, gateway.reference_data
import gateway.sandbox, gateway.wsgi, gateway.soap.app
import clients.population_register.client as client, clients.population_register.sandbox as gr_sandbox
from pathlib import Path
paths = {
    "wsdl": gateway.wsgi.WSDL_FILE, "schemas": gateway.wsgi.XSD_DIR / "nvs-gateway-v1.xsd",
    "gateway xsd": gateway.soap.app.GATEWAY_XSD, "import schemas": gateway.imports.XSD_DIR / "smir-institutions-v1.xsd",
    "classifiers": gateway.reference_data.CLASSIFIER_FILE, "rates": gateway.rates.RATES_FILE,
    "sandbox": gateway.sandbox.ENROLMENTS_FILE, "GR wsdl": client.WSDL_PATH, "GR sandbox xsd": gr_sandbox.XSD_PATH,
    "migrations": gateway.config.REPOSITORY_ROOT / "storage" / "migrations" / "env.py",
    "faults": Path(gateway.__file__).parent / "faults.toml",
}
print(json.dumps({"package": gateway.__file__, "files_root": str(gateway.config.FILES_ROOT),
                  "paths": {k: [str(v), Path(v).is_file()] for k, v in paths.items()}}))
"""


def test_the_built_packages_find_every_file_they_open_without_the_checkout(tmp_path: Path) -> None:
    built = tmp_path / "lib"
    subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(built)],
        cwd=REPOSITORY_ROOT,
        check=True,
        capture_output=True,
    )
    environment = {**os.environ, "PYTHONPATH": str(built)}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, env=environment, check=True, capture_output=True, text=True
    )
    found = json.loads(probe.stdout.strip().splitlines()[-1])
    assert Path(found["package"]).is_relative_to(built), "imported from the build, not the checkout"
    assert found["files_root"] == str(built / "gateway" / "_files")
    missing = {name: path for name, (path, exists) in found["paths"].items() if not exists}
    assert not missing, f"not in the built packages: {missing}"
    for name, (path, _) in found["paths"].items():
        assert Path(path).is_relative_to(built), f"{name} read from outside the build: {path}"
    built_migrations = sorted(p.name for p in (built / "storage" / "migrations" / "versions").glob("*.py"))
    source_migrations = sorted(p.name for p in (REPOSITORY_ROOT / "storage" / "migrations" / "versions").glob("*.py"))
    assert built_migrations == source_migrations
