"""SMS size: GSM-7 or UCS-2, length in that encoding's units, and segment splitting.

Pure functions over ``str`` (no Dagster, no DuckDB). What a message costs is decided
here, so the rules follow GSM 03.38 / 23.040 exactly:

- A message is GSM-7 when every character is in the default alphabet or its
  extension table; one character outside both switches the *whole* message to
  UCS-2. National language shift tables (Turkish, Portuguese, ...) are not used:
  few gateways and handsets agree on them, and guessing wrong garbles the text.
- GSM-7 length is in septets; an extension character (``^{}\\[~]|€`` and form
  feed) is sent as ESC + code, so it counts 2.
- UCS-2 length is in UTF-16 code units, so a character outside the Basic
  Multilingual Plane (most emoji) counts 2: what gateways call UCS-2 is really
  UTF-16.
- One segment holds 160 septets or 70 units. A longer message is concatenated,
  and the user data header leaves 153 septets or 67 units per part. A part never
  ends between ESC and its code, nor between the two halves of a surrogate pair,
  so an unlucky boundary can cost one part more than ``ceil(units / 153)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Encoding = Literal["GSM-7", "UCS-2"]

GSM7: Encoding = "GSM-7"
UCS2: Encoding = "UCS-2"

# GSM 03.38 default alphabet, code points 0x00-0x7F in order, without 0x1B (ESC,
# which introduces an extension character and is not a character of its own).
GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
# The extension table: each of these is sent as ESC + code, two septets.
GSM7_EXTENSION = "\f^{}\\[~]|€"

SINGLE_SEGMENT = {GSM7: 160, UCS2: 70}
MULTI_SEGMENT = {GSM7: 153, UCS2: 67}
# Concatenated SMS caps out at 255 parts in the header, but carriers and gateways
# stop far earlier (Twilio: 1,600 characters, about 10 parts).
MAX_SEGMENTS = 10

# str.translate deletes every GSM-7 character in C; anything left is not GSM-7.
_DROP_GSM7 = str.maketrans("", "", GSM7_BASIC + GSM7_EXTENSION)
_EXTENSION = frozenset(GSM7_EXTENSION)


@dataclass(frozen=True)
class SmsSize:
    """How a text goes over the air: its encoding, length in that encoding's units, parts."""

    encoding: Encoding
    units: int
    segments: int


def encoding(text: str) -> Encoding:
    """GSM-7 if every character is in the GSM 03.38 alphabet or its extension, else UCS-2."""
    return GSM7 if not text.translate(_DROP_GSM7) else UCS2


def _unit_width(char: str, enc: Encoding) -> int:
    if enc == GSM7:
        return 2 if char in _EXTENSION else 1
    return 2 if ord(char) > 0xFFFF else 1


def _length(text: str, enc: Encoding) -> int:
    if enc == GSM7:
        return len(text) + sum(text.count(char) for char in GSM7_EXTENSION)
    return len(text.encode("utf-16-le")) // 2


def sms_length(text: str) -> int:
    """Length in the text's own encoding: septets for GSM-7, UTF-16 code units for UCS-2."""
    return _length(text, encoding(text))


def split_segments(text: str) -> tuple[str, ...]:
    """The parts a gateway sends, each within its segment size; ``()`` for empty text.

    Characters are never cut: a two-unit character that does not fit the rest of
    a part starts the next one.
    """
    if not text:
        return ()
    enc = encoding(text)
    if _length(text, enc) <= SINGLE_SEGMENT[enc]:
        return (text,)
    capacity = MULTI_SEGMENT[enc]
    parts: list[str] = []
    start = used = 0
    for index, char in enumerate(text):
        width = _unit_width(char, enc)
        if used + width > capacity:
            parts.append(text[start:index])
            start, used = index, 0
        used += width
    parts.append(text[start:])
    return tuple(parts)


def segments(text: str) -> int:
    """How many SMS parts the text takes (0 for empty text: nothing to send)."""
    return measure(text).segments


def measure(text: str) -> SmsSize:
    """Encoding, length in units and segment count of one message."""
    enc = encoding(text)
    units = _length(text, enc)
    if units == 0:
        return SmsSize(enc, 0, 0)
    if units <= SINGLE_SEGMENT[enc]:
        return SmsSize(enc, units, 1)
    # Without two-unit characters no boundary can fall inside one, so the parts
    # are plain division; only texts with them pay for the character walk.
    if units == len(text):
        return SmsSize(enc, units, math.ceil(units / MULTI_SEGMENT[enc]))
    return SmsSize(enc, units, len(split_segments(text)))
