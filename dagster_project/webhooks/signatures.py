"""Twilio request validation (``X-Twilio-Signature``). Pure: plain values in, a bool out.

Twilio signs every webhook with HMAC-SHA1 keyed by the account's auth token
over the full URL it called (scheme, host, path and query exactly as
configured) followed, for a form POST, by every POST parameter sorted by
name, each name and value concatenated with no separator; the header is the
base64 of the digest.

Where the documentation is silent, this follows Twilio's own helper libraries:

* a repeated parameter contributes every value; the SDKs sort those values,
  a reading that keeps them in arrival order is also accepted (Twilio's SMS
  webhooks repeat no name, so the two agree on every real request);
* the URL is tried as given and with the scheme's default port added or
  removed, because Twilio signs ``https://host/...`` or ``https://host:443/...``
  inconsistently (twilio-python checks both).

JSON-bodied webhooks (``bodySHA256``) are not accepted: the messaging
callbacks this receiver serves are form posts.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import urlsplit, urlunsplit

_DEFAULT_PORTS = {"https": 443, "http": 80}


def compute_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """The signature Twilio sends for ``url`` and form ``params`` (name, value pairs).

    Names are sorted; the values of a repeated name are sorted too (as the SDKs do).
    """
    return _sign(auth_token, url, _canonical(params, sort_values=True))


def is_valid_signature(
    auth_token: str | None,
    url: str,
    params: Iterable[tuple[str, str]],
    signature: str | None,
) -> bool:
    """True when ``signature`` is what Twilio computes for this URL and these params.

    False for a missing or empty signature or token. The comparison is constant-time.
    """
    if not auth_token or not signature:
        return False
    pairs = list(params)
    bodies = {_canonical(pairs, sort_values=True), _canonical(pairs, sort_values=False)}
    given = signature.strip().encode()
    ok = False
    for candidate_url in _url_variants(url):
        for body in bodies:
            expected = _sign(auth_token, candidate_url, body).encode()
            # no early exit: every candidate is computed and compared
            ok |= hmac.compare_digest(expected, given)
    return ok


def _canonical(params: Iterable[tuple[str, str]], *, sort_values: bool) -> str:
    by_name: dict[str, list[str]] = {}
    for name, value in params:
        by_name.setdefault(name, []).append(value)
    out = []
    for name in sorted(by_name):
        values = sorted(by_name[name]) if sort_values else by_name[name]
        out.extend(name + value for value in values)
    return "".join(out)


def _sign(auth_token: str, url: str, body: str) -> str:
    digest = hmac.new(auth_token.encode(), (url + body).encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def _url_variants(url: str) -> list[str]:
    """The URL as given, and with the scheme's default port added or removed."""
    parts = urlsplit(url)
    default = _DEFAULT_PORTS.get(parts.scheme.lower())
    variants = [url]
    if default is None or not parts.hostname:
        return variants
    try:
        port = parts.port
    except ValueError:
        return variants
    host = parts.netloc.rsplit("@", 1)[-1]
    userinfo = parts.netloc[: len(parts.netloc) - len(host)]
    if port is None:
        variants.append(urlunsplit(parts._replace(netloc=f"{userinfo}{host}:{default}")))
    elif port == default:
        bare = host.rsplit(":", 1)[0]
        variants.append(urlunsplit(parts._replace(netloc=f"{userinfo}{bare}")))
    return variants
