"""The receiver's Twilio signature check against Twilio's own SDK, on random requests.

``twilio`` (a test dependency only) signs and validates; ``signatures`` must agree
with it on every URL, port, parameter set, repeated name and repeated value, JSON
body hash and algorithm hypothesis comes up with, and the running receiver must
accept what the SDK signed.
"""

from __future__ import annotations

import hashlib
from urllib.parse import urlencode

from hypothesis import given, settings
from hypothesis import strategies as st
from support.webhook_helpers import BASE, TWILIO_TOKEN, client, events, make_settings
from twilio.request_validator import HMAC_SHA1, HMAC_SHA256, RequestValidator

from dagster_project.webhooks.signatures import compute_signature, is_valid_signature


class MultiDict(dict):
    """The shape the SDK reads repeated form fields from (Flask's ``getall``)."""

    @classmethod
    def of(cls, pairs):
        out = cls()
        for name, value in pairs:
            out.setdefault(name, []).append(value)
        return out

    def getall(self, name):
        return self[name]


text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12)
names = st.sampled_from(["Body", "From", "To", "MessageSid", "MediaUrl0", "MediaUrl", "a", "Z"])
pairs = st.lists(st.tuples(names, st.one_of(text, st.sampled_from(["", "x", "x", "STOP"]))),
                 max_size=8)  # fmt: skip
urls = st.builds(
    lambda scheme, host, port, path, query: (
        f"{scheme}://{host}{port}/{path}" + (f"?{query}" if query else "")
    ),
    st.sampled_from(["https", "http"]),
    st.sampled_from(["hooks.shop.example", "127.0.0.1", "sub.domain.example"]),
    st.sampled_from(["", ":443", ":80", ":8443", ":8088"]),
    st.sampled_from(["twilio/status", "twilio/inbound", "a/b%20c"]),
    st.sampled_from(["", "key=a%7Cb", "key=x&y=1"]),
)
tokens = st.sampled_from(["12345", "auth-token-abc", "ü-token"])


@settings(max_examples=300, deadline=None)
@given(token=tokens, url=urls, form=pairs, algorithm=st.sampled_from([HMAC_SHA1, HMAC_SHA256]))
def test_signatures_equal_the_sdks(token, url, form, algorithm):
    sdk = RequestValidator(token).compute_signature(url, MultiDict.of(form), algorithm)
    assert compute_signature(token, url, form, algorithm) == sdk


@settings(max_examples=300, deadline=None)
@given(
    token=tokens,
    url=urls,
    signed_url=urls,
    form=pairs,
    tampered=st.booleans(),
    algorithm=st.sampled_from([HMAC_SHA1, HMAC_SHA256]),
)
def test_validation_agrees_with_the_sdk(token, url, signed_url, form, tampered, algorithm):
    validator = RequestValidator(token)
    signature = validator.compute_signature(signed_url, MultiDict.of(form), algorithm)
    if tampered:
        signature = signature[:-2] + ("AA" if not signature.endswith("AA=") else "BB")
    expected = validator.validate(url, MultiDict.of(form), signature, algorithm)
    assert is_valid_signature(token, url, form, signature, algorithm) is expected


@settings(max_examples=100, deadline=None)
@given(token=tokens, body=text, tamper=st.booleans())
def test_json_bodies_agree_with_the_sdk(token, body, tamper):
    digest = hashlib.sha256(body.encode()).hexdigest()
    url = f"https://hooks.shop.example/twilio/status?bodySHA256={digest}"
    validator = RequestValidator(token)
    signature = validator.compute_signature(url, {})
    sent = body + "x" if tamper else body
    assert is_valid_signature(token, url, sent, signature) is validator.validate(
        url, sent, signature
    )


def test_the_receiver_accepts_what_the_sdk_signed_with_a_repeated_value(tmp_path):
    settings_ = make_settings(tmp_path)
    c = client(settings_)
    path = "/twilio/inbound"
    form = [("MessageSid", "SM9"), ("From", "+14155552671"), ("Body", "STOP"),
            ("MediaUrl0", "https://m/1"), ("MediaUrl0", "https://m/1")]  # fmt: skip
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(BASE + path, MultiDict.of(form))
    r = c.post(path, content=urlencode(form), headers={
        "Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature,
    })  # fmt: skip
    assert r.status_code == 200
    [event] = events(settings_)
    assert (event["source"], event["action"], event["phone"]) == (
        "twilio",
        "opt_out",
        "+14155552671",
    )
