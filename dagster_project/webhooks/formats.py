"""The providers' wire formats, as pure functions: the TwiML answer Twilio reads,
the text of a Kannel get-url query in its own charset, and the sandbox's JSON fields
as text. No Starlette, no I/O.
"""

from __future__ import annotations

from urllib.parse import parse_qsl
from xml.sax.saxutils import escape

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def twiml(reply: str | None) -> str:
    """The TwiML answer to an inbound message: ``<Response/>`` or one ``<Message>``."""
    if not reply:
        return EMPTY_TWIML
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Message>{escape(reply)}</Message></Response>"
    )


def kannel_text(query_string: bytes) -> str | None:
    """The reply's text from a Kannel get-url query: ``text`` decoded with ``charset``
    (Kannel's ``%C``: UTF-8, or UTF-16BE for a UCS-2 message); UTF-8 when none is given."""
    fields: dict[str, bytes] = {}
    for name, value in parse_qsl(query_string.decode("latin-1"), keep_blank_values=True,
                                 encoding="latin-1"):  # fmt: skip
        fields.setdefault(name, value.encode("latin-1"))  # the bytes, still undecoded
    raw = fields.get("text")
    if raw is None:
        return None
    charset = fields.get("charset", b"").decode("ascii", "replace").strip() or "utf-8"
    try:
        return raw.decode(charset, "replace")
    except LookupError:  # a charset Python does not know
        return raw.decode("utf-8", "replace")


def json_text(value: object) -> str | None:
    """A JSON field as text; an object or a list is no text (None), not its repr."""
    if value is None or isinstance(value, dict | list):
        return None
    return str(value)
