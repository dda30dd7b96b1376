"""Free text as people read it: the one place where names, numbers and reasons are normalised.

What a provider types (group names, leaders' names, contract and order numbers, reasons) is
stored as Unicode NFC, without white space or invisible characters at either end, with every
inner run of white space made one space. Text that is empty once the invisible characters are
left out is refused, naming the field: a group called U+200B (zero-width space), U+00AD (soft
hyphen) or U+3164 (Hangul filler) looks like no name at all.

Names that must be unique are compared by ``comparison_key``: case-folded, compatibility
characters made plain (NFKC) and invisible characters left out, as Unicode's NFKC_Casefold does
for caseless matching (UAX #15, UAX #31). So ``Šokis`` typed in NFC or NFD, ``main `` and
``MAIN``, or ``Šo\\u00adkis`` are one name. Invisible characters inside a name are kept as sent
(a zero-width joiner builds an emoji; the bidi controls a right-to-left name needs).
"""

from __future__ import annotations

import unicodedata

import regex

from gateway.domain.errors import BlankText, RequestRejected

# Default_Ignorable_Code_Point (Unicode's DerivedCoreProperties): the zero-width space, joiners,
# soft hyphen, word joiner, BOM, bidi controls, variation selectors, Hangul fillers, tags...
_INVISIBLE = regex.compile(r"\p{Default_Ignorable_Code_Point}")
_WHITE_SPACE = regex.compile(r"[\p{White_Space}]+")
# White space or invisible characters at either end; not the bidi controls, which a right-to-left
# name may need to close (taking away a closing U+202C would leave an override open).
_EDGES = regex.compile(
    r"^[[\p{White_Space}\p{Default_Ignorable_Code_Point}]--\p{Bidi_Control}]+|[[\p{White_Space}\p{Default_Ignorable_Code_Point}]--\p{Bidi_Control}]+$",
    regex.V1,
)


def normalise(text: str, *, field: str, blank: type[RequestRejected] = BlankText) -> str:
    """``text`` in NFC, trimmed of white space and invisible characters, inner white space one
    space; ``blank`` (BlankText by default) naming ``field`` when nothing visible is left."""
    value = _WHITE_SPACE.sub(" ", unicodedata.normalize("NFC", text or ""))
    value = _EDGES.sub("", value)
    if not _INVISIBLE.sub("", value):
        raise blank(
            f"{field.rsplit('/', 1)[-1]} is empty or holds only white space or invisible characters.", field=field
        )
    return value


def normalise_optional(text: str | None, *, field: str) -> str | None:
    return None if text is None else normalise(text, field=field)


def comparison_key(text: str) -> str:
    """What two names must share to be the same name: NFKC, case-folded, without invisible characters."""
    plain = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    key = unicodedata.normalize("NFKC", plain.casefold())
    return _WHITE_SPACE.sub(" ", key).strip()
