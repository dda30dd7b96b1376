"""Responses written straight into lxml, the elements Spyne would write, without its generic walk.

Spyne serialises a response by visiting every value through several layers of generic dispatch
(class attributes, coroutines, per-type handlers): for a 100-row list page that was two thirds of
the server's CPU. The contract's response types are simple (whole numbers, strings, dates,
booleans, nested records, repeated elements), so for each response message a *writer* is compiled
once from its Spyne class: for every field its qualified tag, whether it repeats, and how its value
becomes text. Writing is then one lxml ``SubElement`` per element.

A writer exists only for messages made of the types below; any other (decimals, date-times,
attributes, any-XML, inheritance) keeps Spyne's serialisation. A value a writer does not expect
(``None`` in a required field, a number where a string belongs) raises ``Unwritable``, and the
caller falls back to Spyne for that answer, so the output never differs from Spyne's: the
contract tests validate every answer against the XSD, and tests/unit/test_direct_xml.py compares
the two serialisations.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from lxml import etree
from spyne import BODY_STYLE_WRAPPED
from spyne.model import ComplexModelBase
from spyne.model.primitive import Boolean, Date, DateTime, Integer, Unicode
from spyne.protocol.soap import Soap11

SubElement = etree.SubElement


class Unwritable(Exception):
    """A value outside what the compiled writer knows: serialise this answer with Spyne."""


def _integer(value: Any) -> str:
    if type(value) is not int:
        raise Unwritable(value)
    return str(value)


def _text(value: Any) -> str:
    if type(value) is not str:
        raise Unwritable(value)
    return value


def _date(value: Any) -> str:
    if type(value) is not dt.date:
        raise Unwritable(value)
    return value.isoformat()


def _boolean(value: Any) -> str:
    if type(value) is not bool:
        raise Unwritable(value)
    return "true" if value else "false"


@dataclass(frozen=True)
class _Field:
    name: str
    tag: str
    repeats: bool
    required: bool
    text: Callable[[Any], str] | None  # None: a nested record, written by ``record``
    record: Writer | None


class Writer:
    """The elements of one Spyne ComplexModel class, in its field order."""

    def __init__(self, fields: Sequence[_Field]) -> None:
        self.fields = tuple(fields)

    def write(self, parent: etree._Element, tag: str, value: Any) -> None:
        if not isinstance(value, ComplexModelBase):
            raise Unwritable(value)
        self.write_fields(SubElement(parent, tag), [getattr(value, f.name, None) for f in self.fields])

    def write_fields(self, element: etree._Element, values: Sequence[Any]) -> None:
        for field, value in zip(self.fields, values, strict=True):
            if value is None:
                if field.required:
                    raise Unwritable(field.name)
                continue
            for item in value if field.repeats else (value,):
                if field.record is not None:
                    field.record.write(element, field.tag, item)
                else:
                    assert field.text is not None
                    SubElement(element, field.tag).text = field.text(item)


def _text_of(cls: type) -> Callable[[Any], str] | None:
    # Subclasses first: Spyne's Date is a DateTime, Boolean and Integer are not Unicode.
    if issubclass(cls, Boolean):
        return _boolean
    if issubclass(cls, Integer):
        return _integer
    if issubclass(cls, Date):
        return _date
    if issubclass(cls, DateTime):
        return None
    if issubclass(cls, Unicode):
        return _text
    return None


@cache
def writer_for(cls: Any) -> Writer | None:
    """The writer of a ComplexModel class, or None when it has a field of a type not written here."""
    if not issubclass(cls, ComplexModelBase) or getattr(cls, "__extends__", None) is not None:
        return None
    if getattr(cls, "__orig__", None) is not None and cls.__orig__ is not cls:
        return None  # a customised copy: its attributes may change how Spyne writes it
    namespace = cls.get_namespace()
    fields = []
    for name, field_cls in cls._type_info.items():
        attributes = field_cls.Attributes
        if getattr(attributes, "exc", False) or attributes.nillable or getattr(attributes, "sub_ns", None):
            return None
        if getattr(attributes, "sub_name", None) not in (None, name):
            return None
        record = None
        text = None
        if issubclass(field_cls, ComplexModelBase):
            record = writer_for(_plain(field_cls))
            if record is None:
                return None
        else:
            text = _text_of(field_cls)
            if text is None:
                return None
        fields.append(
            _Field(
                name=name,
                tag=f"{{{namespace}}}{name}",
                repeats=attributes.max_occurs > 1,
                required=attributes.min_occurs > 0,
                text=text,
                record=record,
            )
        )
    return Writer(fields)


def _plain(cls: type) -> type:
    """The declared class behind a field's ``customize``d copy (min/max occurs are read from the copy)."""
    original = getattr(cls, "__orig__", None)
    return original if original is not None else cls


def write_response(body: etree._Element, message_class: Any, values: Sequence[Any]) -> None:
    """The wrapped response element of ``message_class`` (``…Response``) with ``values`` (one per part),
    appended to the SOAP Body; Unwritable when a value is not what the writer expects."""
    writer = writer_for(message_class)
    if writer is None:
        raise Unwritable(message_class)
    values = list(values)[: len(writer.fields)]
    values += [None] * (len(writer.fields) - len(values))
    tag = f"{{{message_class.get_namespace()}}}{message_class.get_type_name()}"
    writer.write_fields(SubElement(body, tag), values)


class DirectSoap11(Soap11):
    """SOAP 1.1 out whose responses are written by their compiled writers, or by Spyne when a response
    has no writer, a header, or a value its writer does not expect (faults are always Spyne's)."""

    def serialize(self, ctx, message):
        if (
            message is not self.RESPONSE
            or ctx.out_error is not None
            or ctx.out_header is not None
            or ctx.descriptor.body_style is not BODY_STYLE_WRAPPED
        ):
            return super().serialize(ctx, message)
        envelope, body = self.new_envelope()
        try:
            write_response(body, ctx.descriptor.out_message, ctx.out_object)
        except Unwritable:
            return super().serialize(ctx, message)
        self.set_out_document(ctx, envelope, body)
        return None

    def new_envelope(self) -> tuple[etree._Element, etree._Element]:
        envelope = etree.Element(f"{{{self.ns_soap_env}}}Envelope", nsmap=self.app.interface.nsmap)
        return envelope, SubElement(envelope, f"{{{self.ns_soap_env}}}Body")

    def set_out_document(self, ctx, envelope: etree._Element, body: etree._Element) -> None:
        """The events and clean-up Spyne's own serialisation gives an out document."""
        self.event_manager.fire_event("before_serialize", ctx)
        ctx.out_document, ctx.out_body_doc = envelope, body
        if self.cleanup_namespaces:
            etree.cleanup_namespaces(ctx.out_document)
        self.event_manager.fire_event("after_serialize", ctx)
