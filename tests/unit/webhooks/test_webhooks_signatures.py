"""Twilio's X-Twilio-Signature: the documented vector, and what a tampered request gets."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest
from support.webhook_helpers import BASE, TWILIO_TOKEN, client, events, make_settings, signed_post

from dagster_project.webhooks.signatures import compute_signature, is_valid_signature

# The worked example of Twilio's "Webhooks security" page (auth token 12345).
DOC_URL = "https://mycompany.com/myapp.php?foo=1&bar=2"
DOC_PARAMS = {
    "CallSid": "CA1234567890ABCDE",
    "Caller": "+12349013030",
    "Digits": "1234",
    "From": "+12349013030",
    "To": "+18005551212",
}
DOC_SIGNATURE = "0/KCTR6DLpKmkAf8muzZqo1nDgQ="


def test_twilios_documented_vector():
    assert compute_signature("12345", DOC_URL, DOC_PARAMS.items()) == DOC_SIGNATURE
    # parameters in any arrival order: they are sorted by name
    assert is_valid_signature("12345", DOC_URL, reversed(DOC_PARAMS.items()), DOC_SIGNATURE)
    # Twilio signs with or without the default port; both are accepted
    port_url = "https://mycompany.com:443/myapp.php?foo=1&bar=2"
    assert is_valid_signature("12345", port_url, DOC_PARAMS.items(), DOC_SIGNATURE)


@pytest.mark.parametrize(
    "token, url, params, signature",
    [
        ("12345", DOC_URL, DOC_PARAMS | {"Digits": "9999"}, DOC_SIGNATURE),  # tampered body
        ("12345", DOC_URL, DOC_PARAMS | {"Extra": ""}, DOC_SIGNATURE),  # added field
        ("12345", DOC_URL.replace("bar=2", "bar=3"), DOC_PARAMS, DOC_SIGNATURE),  # tampered URL
        ("12345", "http://mycompany.com/myapp.php?foo=1&bar=2", DOC_PARAMS, DOC_SIGNATURE),
        ("54321", DOC_URL, DOC_PARAMS, DOC_SIGNATURE),  # wrong token
        ("12345", DOC_URL, DOC_PARAMS, DOC_SIGNATURE[:-2]),  # truncated signature
        ("12345", DOC_URL, DOC_PARAMS, ""),  # missing
        ("12345", DOC_URL, DOC_PARAMS, None),
        ("", DOC_URL, DOC_PARAMS, DOC_SIGNATURE),  # no token configured
        (None, DOC_URL, DOC_PARAMS, DOC_SIGNATURE),
    ],
)
def test_anything_else_is_rejected(token, url, params, signature):
    assert not is_valid_signature(token, url, params.items(), signature)


def test_repeated_parameters_sign_every_distinct_value_once():
    """As the SDK does: the values of a name are deduplicated and sorted."""
    pairs = [("MediaUrl", "b"), ("Body", "x"), ("MediaUrl", "a")]
    signature = compute_signature("t", "https://h/p", pairs)
    assert signature == compute_signature(
        "t", "https://h/p", [("Body", "x"), ("MediaUrl", "a"), ("MediaUrl", "b")]
    )
    assert is_valid_signature("t", "https://h/p", pairs, signature)
    assert not is_valid_signature("t", "https://h/p", pairs[:2], signature)  # one value dropped
    # An identical value repeated signs as one (the receiver used to refuse this request).
    twice = [*pairs, ("MediaUrl", "a")]
    assert is_valid_signature("t", "https://h/p", twice, signature)


# Produced by twilio-python 9.13's RequestValidator("12345").compute_signature over a
# MultiDict holding MediaUrl twice with the same value (the documented algorithm: URL,
# then names sorted, each with its distinct values sorted, HMAC-SHA1, base64).
REPEATED_VECTOR = (
    "https://hooks.shop.example/twilio/inbound",
    [("Body", "STOP"), ("MediaUrl", "https://x/a"), ("MediaUrl", "https://x/a"),
     ("From", "+14155552671")],
    "xCCZxv5okUKgDM+gqBcAEqfBo7Y=",
)  # fmt: skip


def test_repeated_identical_value_vector():
    url, pairs, signature = REPEATED_VECTOR
    assert compute_signature("12345", url, pairs) == signature
    assert is_valid_signature("12345", url, pairs, signature)


def test_any_port_is_dropped_as_the_sdk_does():
    """twilio-python tries the URL without its port (any port) and with the default one."""
    url = "https://hooks.shop.example:8443/twilio/status?key=k"
    bare = compute_signature("t", "https://hooks.shop.example/twilio/status?key=k", [("A", "1")])
    assert is_valid_signature("t", url, [("A", "1")], bare)
    http = compute_signature("t", "http://h:80/p", [])
    assert is_valid_signature("t", "http://h/p", [], http)


STATUS = {
    "MessageSid": "SM123",
    "MessageStatus": "delivered",
    "To": "+4917612345678",
    "From": "+15550001111",
}


def test_signed_status_callback_is_written(tmp_path):
    settings = make_settings(tmp_path)
    c = client(settings)
    r = signed_post(c, "/twilio/status?key=winback%7CC001%7C2026-11-02%7CA", STATUS)
    assert r.status_code == 204
    [event] = events(settings)
    assert event["message_key"] == "winback|C001|2026-11-02|A"
    assert (event["source"], event["status"], event["phone"]) == (
        "twilio",
        "delivered",
        "+4917612345678",
    )


@pytest.mark.parametrize(
    "case",
    ["tampered body", "tampered url", "missing header", "wrong token", "signed for another path"],
)
def test_refused_callbacks_answer_403_and_write_nothing(tmp_path, case):
    settings = make_settings(tmp_path)
    c = client(settings)
    path = "/twilio/status?key=k1"
    signature = compute_signature(TWILIO_TOKEN, BASE + path, STATUS.items())
    body, headers = dict(STATUS), {"X-Twilio-Signature": signature}
    if case == "tampered body":
        body["MessageStatus"] = "failed"
    elif case == "tampered url":
        path = "/twilio/status?key=k2"
    elif case == "missing header":
        headers = {}
    elif case == "wrong token":
        headers["X-Twilio-Signature"] = compute_signature(
            "not-the-token", BASE + path, STATUS.items()
        )
    else:
        headers["X-Twilio-Signature"] = compute_signature(
            TWILIO_TOKEN, BASE + "/twilio/inbound", STATUS.items()
        )
    r = c.post(path, content=urlencode(body),
               headers={"Content-Type": "application/x-www-form-urlencoded", **headers})  # fmt: skip
    assert r.status_code == 403
    assert events(settings) == []


def test_without_an_auth_token_twilio_is_refused_and_says_why(tmp_path, caplog):
    settings = make_settings(tmp_path, twilio_auth_token=None)
    c = client(settings)
    r = signed_post(
        c, "/twilio/inbound", {"From": "+4917612345678", "Body": "STOP", "MessageSid": "SM1"}
    )
    assert r.status_code == 403
    assert events(settings) == []
    assert any("TWILIO_AUTH_TOKEN is not set" in m for m in caplog.messages)


def test_behind_a_proxy_the_public_url_is_what_was_signed(tmp_path):
    public = "https://hooks.shop.example/sms"
    settings = make_settings(tmp_path, public_url=public)
    c = client(settings)
    path = "/twilio/status?key=k%7C1"
    # signed over the URL Twilio called, which is not the one the app sees
    r = signed_post(c, path, STATUS, url=public + path)
    assert r.status_code == 204
    assert signed_post(c, path, STATUS).status_code == 403  # the request's own URL is not it
    assert [e["message_key"] for e in events(settings)] == ["k|1"]


def test_only_form_posts_are_accepted(tmp_path):
    settings = make_settings(tmp_path)
    c = client(settings)
    r = c.post("/twilio/status", json=STATUS, headers={"X-Twilio-Signature": "x"})
    assert r.status_code == 415
    assert events(settings) == []
