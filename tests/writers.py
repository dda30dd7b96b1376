"""Turning the compiled response writers (gateway.soap.direct_xml) on and off in a test, to send the same
request twice and compare their bytes with Spyne's, counting the answers the writers wrote."""

from __future__ import annotations

import pytest

from gateway.soap import direct_xml


class WriterSwitch:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.monkeypatch = monkeypatch
        self.written: list[str] = []  # the response type of each answer the writers wrote
        self._write_response = direct_xml.write_response

    def writers(self) -> None:
        """From now on answers are written by the writers, and counted."""

        def counted(body, message_class, values):
            self._write_response(body, message_class, values)
            self.written.append(message_class.get_type_name())

        self.monkeypatch.setattr(direct_xml, "write_response", counted)

    def spyne(self) -> None:
        """From now on Spyne serialises every answer."""

        def spyne_only(body, message_class, values):
            raise direct_xml.Unwritable(message_class)

        self.monkeypatch.setattr(direct_xml, "write_response", spyne_only)
