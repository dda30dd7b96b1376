"""The Spyne service and the checked-in contract declare the same operations and the same
message structures: element names, order, occurrences, types and facets.

Spyne builds its own WSDL from gateway/soap/types.py; clients only ever see
wsdl/nvs-gateway-v1.wsdl and xsd/nvs-gateway-v1.xsd. If the two drift apart, Spyne
would (de)serialise something other than what the contract promises.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import xmlschema
import zeep
from lxml import etree
from spyne.interface.wsdl import Wsdl11
from spyne.server.wsgi import WsgiApplication
from zeep.settings import Settings

from gateway.clock import SystemClock
from gateway.config import REPOSITORY_ROOT
from gateway.soap.app import RegistryApplication
from gateway.soap.types import TNS

XS = "http://www.w3.org/2001/XMLSchema"
CHECKED_IN_WSDL = REPOSITORY_ROOT / "wsdl" / "nvs-gateway-v1.wsdl"
CHECKED_IN_XSD = REPOSITORY_ROOT / "xsd" / "nvs-gateway-v1.xsd"


@pytest.fixture(scope="module")
def spyne_wsdl(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Spyne's generated WSDL, with each inline schema written to a file so xmlschema can load them."""
    directory = tmp_path_factory.mktemp("spyne")
    # A fresh Application: building the same Wsdl11 twice yields a broken document.
    application = RegistryApplication(registry=None, uow_factory=None, clock=SystemClock())  # type: ignore[arg-type]
    WsgiApplication(application)  # sets the HTTP transport the binding names
    interface = Wsdl11(application.interface)
    interface.build_interface_document("http://gateway.test/registry")
    document = etree.fromstring(interface.get_interface_document())
    schemas = list(document.iter(f"{{{XS}}}schema"))
    files = {s.get("targetNamespace"): directory / f"schema{i}.xsd" for i, s in enumerate(schemas)}
    for schema in schemas:
        for imported in schema.findall(f"{{{XS}}}import"):
            imported.set("schemaLocation", files[imported.get("namespace")].name)
        files[schema.get("targetNamespace")].write_bytes(etree.tostring(schema))
    path = directory / "spyne.wsdl"
    path.write_bytes(etree.tostring(document))
    (directory / "main.xsd").write_bytes(files[TNS].read_bytes())
    return directory


def operations(wsdl: Path) -> dict[str, tuple[str, str, list[str]]]:
    client = zeep.Client(str(wsdl), settings=Settings(forbid_dtd=True, forbid_external=True))
    binding = next(iter(client.wsdl.bindings.values()))
    return {
        name: (
            str(op.input.body.qname),
            str(op.output.body.qname),
            sorted(op.abstract.fault_messages),
        )
        for name, op in binding._operations.items()
    }


def shape(xsd_type, depth: int = 0):
    """The comparable structure of a type: children with occurrences, or a simple type's base and facets."""
    assert depth < 20, "recursive type"
    if xsd_type.is_simple():
        base = xsd_type.primitive_type.local_name if hasattr(xsd_type, "primitive_type") else xsd_type.local_name
        facets = {}
        for name, facet in (getattr(xsd_type, "facets", None) or {}).items():
            if name is None:
                continue
            local = name.split("}")[-1]
            value = getattr(facet, "value", None)
            if local == "pattern":
                value = sorted(p.pattern for p in facet.patterns) if hasattr(facet, "patterns") else facet.regexps
            elif local == "enumeration":
                value = sorted(str(v) for v in facet.enumeration)
            facets[local] = value
        if getattr(xsd_type, "enumeration", None):
            facets["enumeration"] = sorted(str(v) for v in xsd_type.enumeration)
        if "minLength" in facets and facets.get("minLength") == facets.get("maxLength"):
            facets["length"] = facets.pop("minLength")  # Spyne writes length where min = max: the same constraint
            del facets["maxLength"]
        return ("simple", base, tuple(sorted((k, str(v)) for k, v in facets.items())))
    return (
        "complex",
        tuple(
            (child.name, child.min_occurs, child.max_occurs, shape(child.type, depth + 1))
            for child in xsd_type.content.iter_elements()
        ),
    )


def test_spyne_and_the_checked_in_wsdl_declare_the_same_operations(spyne_wsdl: Path) -> None:
    ours = operations(CHECKED_IN_WSDL)
    spynes = operations(spyne_wsdl / "spyne.wsdl")
    assert sorted(ours) == sorted(spynes)
    for name in ours:
        assert ours[name][:2] == spynes[name][:2], name  # request and response elements
        assert ours[name][2], f"{name} declares no fault in the checked-in WSDL"


def test_every_message_has_the_same_structure_types_and_facets(spyne_wsdl: Path) -> None:
    contract = xmlschema.XMLSchema(str(CHECKED_IN_XSD), allow="local")
    generated = xmlschema.XMLSchema(str(spyne_wsdl / "main.xsd"), allow="local")
    names = {name for pair in operations(CHECKED_IN_WSDL).values() for name in pair[:2]}
    assert names, "no operations found"
    for qname in sorted(names):
        ours = shape(contract.elements[qname.split("}")[1]].type)
        spynes = shape(generated.elements[qname.split("}")[1]].type)
        assert ours == spynes, qname


def test_the_fault_detail_we_build_is_the_contracts_gateway_fault() -> None:
    from gateway.domain.errors import InvalidSubDirection
    from gateway.soap.app import GatewayFault, contract_schema

    with_field = GatewayFault(InvalidSubDirection(field="subDirectionCode[2]")).detail
    without_field = GatewayFault(InvalidSubDirection()).detail
    for detail in (with_field, without_field):
        assert contract_schema().validate(detail), contract_schema().error_log
    assert with_field.findtext(f"{{{TNS}}}field") == "subDirectionCode[2]"
