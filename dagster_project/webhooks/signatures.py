"""Twilio request validation (``X-Twilio-Signature``). Pure: plain values in, a bool out.

Exactly what Twilio's own SDK does (``twilio.request_validator.RequestValidator``,
checked against it in the tests), without pulling the SDK and its HTTP stack into the
receiver:

* the string signed is the full URL Twilio called followed, for a form POST, by every
  parameter name in sorted order, each followed by its values, **deduplicated and
  sorted** (a name repeated with the same value contributes it once);
* HMAC-SHA1 keyed by the account's auth token (HMAC-SHA256 when the request says so
  in ``X-Twilio-Webhooks-Signature-Settings``), base64;
* the URL is tried without any port and with the scheme's default port added,
  because Twilio signs ``https://host/...`` or ``https://host:443/...``
  inconsistently;
* a JSON body is signed through the URL's ``bodySHA256`` query parameter (the hex
  SHA-256 of the body), with no parameters after the URL.

The comparison is constant-time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from urllib.parse import parse_qs, urlparse

HMAC_SHA1 = "HMAC_SHA1"
HMAC_SHA256 = "HMAC_SHA256"
_HASHES = {HMAC_SHA1: hashlib.sha1, HMAC_SHA256: hashlib.sha256}


def algorithm_from_header(settings_header: str | None) -> str:
    """The algorithm named in ``X-Twilio-Webhooks-Signature-Settings`` (default HMAC_SHA1)."""
    for part in (settings_header or "").split(","):
        name, separator, value = part.partition("=")
        if separator and name.strip() == "algorithm" and value.strip():
            return value.strip()
    return HMAC_SHA1


def compute_signature(
    auth_token: str,
    url: str,
    params: Iterable[tuple[str, str]] = (),
    algorithm: str = HMAC_SHA1,
) -> str:
    """The signature Twilio sends for ``url`` and form ``params`` (name, value pairs)."""
    digest = _HASHES.get(algorithm.upper())
    if digest is None:
        raise ValueError(f"unsupported webhook signature algorithm {algorithm!r}")
    by_name: dict[str, set[str]] = {}
    for name, value in params:
        by_name.setdefault(name, set()).add(value)
    signed = url + "".join(
        name + value for name in sorted(by_name) for value in sorted(by_name[name])
    )
    mac = hmac.new(auth_token.encode(), signed.encode(), digest)
    return base64.b64encode(mac.digest()).decode().strip()


def is_valid_signature(
    auth_token: str | None,
    url: str,
    params: Iterable[tuple[str, str]] | str,
    signature: str | None,
    algorithm: str = HMAC_SHA1,
) -> bool:
    """True when ``signature`` is what Twilio computes for this URL and these params.

    ``params`` is the form as (name, value) pairs, or the raw body of a JSON webhook
    (then the URL's ``bodySHA256`` must match it). False for a missing or empty
    signature or token, and for an algorithm Twilio does not define.
    """
    if not auth_token or not signature or algorithm.upper() not in _HASHES:
        return False
    parsed = urlparse(url)
    body_ok = True
    pairs: list[tuple[str, str]]
    if isinstance(params, str):
        query = parse_qs(parsed.query)
        body_ok = "bodySHA256" in query and hmac.compare_digest(
            hashlib.sha256(params.encode()).hexdigest(), query["bodySHA256"][0]
        )
        pairs = []
    else:
        pairs = list(params)
    given = signature.encode()
    ok = False
    for candidate in (_without_port(parsed), _with_port(parsed)):
        expected = compute_signature(auth_token, candidate, pairs, algorithm).encode()
        ok |= hmac.compare_digest(expected, given)  # no early exit
    return body_ok and ok


def _without_port(uri) -> str:
    if not uri.port:
        return uri.geturl()
    return uri._replace(netloc=uri.netloc.split(":")[0]).geturl()


def _with_port(uri) -> str:
    if uri.port:
        return uri.geturl()
    port = 443 if uri.scheme == "https" else 80
    return uri._replace(netloc=f"{uri.netloc}:{port}").geturl()
