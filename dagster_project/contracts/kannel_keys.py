"""How a ledger key travels inside a Kannel ``dlr-url`` and comes back.

The contract between the Kannel adapter (which writes the key into each
message's ``dlr-url``) and the webhook receiver (which reads it back from the
delivery report), so it lives outside both: the receiver must not import the
activation package, nor the adapter the receiver.

Kannel treats every ``%`` in a dlr-url as one of its escapes, so the key is
kept to characters that need no percent-encoding; anything else (the ``|`` of
campaign|customer|day|variant included) becomes ``~XX``, the hex of each UTF-8
byte. ``~`` itself is escaped too, so the mapping is reversible for any key.
"""

from __future__ import annotations

_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


def quote_dlr_key(key: str) -> str:
    """``winback|C001|2026-11-02|A`` -> ``winback~7CC001~7C2026-11-02~7CA``."""
    return "".join(c if c in _SAFE else "".join(f"~{b:02X}" for b in c.encode()) for c in key)


def unquote_dlr_key(text: str) -> str:
    """The key back from the ``key`` parameter of a Kannel delivery report.

    Raises ``ValueError`` for text ``quote_dlr_key`` cannot have made (a ``~``
    not followed by two hex digits, bytes that are not UTF-8).
    """
    out = bytearray()
    i = 0
    raw = text.encode()
    while i < len(raw):
        if raw[i : i + 1] == b"~":
            pair = raw[i + 1 : i + 3]
            if len(pair) != 2 or not all(chr(b) in "0123456789abcdefABCDEF" for b in pair):
                raise ValueError(f"bad escape at {i} in dlr key {text!r}")
            out.append(int(pair, 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode()
