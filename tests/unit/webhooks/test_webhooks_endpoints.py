"""Each endpoint of docs/outcomes.md: what it answers and the line it writes (TestClient)."""

from __future__ import annotations

import multiprocessing
import stat
import xml.etree.ElementTree as ET

import pytest
from support.webhook_helpers import SECRET, client, events, make_settings, signed_post

from dagster_project.contracts import webhook_urls
from dagster_project.contracts.events import EVENT_KEYS
from dagster_project.contracts.kannel_keys import quote_dlr_key
from dagster_project.webhooks.formats import kannel_text, twiml
from dagster_project.webhooks.logs import redact_path

KEY = "winback|C001|2026-11-02|A"


@pytest.fixture
def setup(tmp_path):
    settings = make_settings(tmp_path)
    return settings, client(settings)


def dlr(c, status="1", key=KEY, secret=SECRET, **extra):
    params = {"key": quote_dlr_key(key), "status": status, "answer": "ACK/", "at": "1793610843",
              "smsc_id": "fake-77", **extra}  # fmt: skip
    return c.get(f"/kannel/dlr/{secret}", params=params)


# --- Kannel --------------------------------------------------------------------------------


def test_kannel_dlr_unquotes_the_key_and_maps_the_report_type(setup):
    settings, c = setup
    r = dlr(c, "8")
    assert (r.status_code, r.text) == (200, "ok")
    [e] = events(settings)
    assert set(e) == set(EVENT_KEYS)
    assert e["message_key"] == KEY  # winback~7CC001~7C... read back
    assert (e["source"], e["event_type"], e["status"], e["provider_status"]) == (
        "kannel",
        "status",
        "sent",
        "8",
    )
    assert e["provider_message_id"] == "fake-77"
    assert e["occurred_at"] == "2026-11-02T09:14:03.000+00:00"  # %T, Unix seconds
    assert e["error_code"] is None


@pytest.mark.parametrize(
    "code, status, error",
    [("1", "delivered", None), ("2", "undelivered", "NACK/0x0b/Invalid Destination"),
     ("4", "queued", None), ("8", "sent", None), ("16", "failed", "NACK/0x0b/Invalid Destination"),
     ("3", None, None), ("", None, None)],
)  # fmt: skip
def test_kannel_report_types(setup, code, status, error):
    settings, c = setup
    assert dlr(c, code, answer="NACK/0x0b/Invalid Destination").status_code == 200
    [e] = events(settings)
    assert (e["status"], e["provider_status"], e["error_code"]) == (status, code or None, error)


def test_kannel_keys_with_any_character_survive(setup):
    settings, c = setup
    key = "newcomer|Céline~x%y|2026-11-02|A"
    dlr(c, "1", key=key)
    assert events(settings)[0]["message_key"] == key


@pytest.mark.parametrize("secret", ["wrong", SECRET[:-1], SECRET + "x", SECRET.upper()])
def test_kannel_with_a_bad_secret_is_403_and_writes_nothing(setup, secret):
    settings, c = setup
    assert dlr(c, secret=secret).status_code == 403
    assert (
        c.get(
            f"/kannel/inbound/{secret}", params={"from": "+4917612345678", "text": "STOP"}
        ).status_code
        == 403
    )
    assert events(settings) == []


def test_kannel_dlr_with_a_malformed_key_is_400_and_writes_nothing(setup):
    settings, c = setup
    assert (
        c.get(f"/kannel/dlr/{SECRET}", params={"key": "bad~ZZ", "status": "1"}).status_code == 400
    )
    assert events(settings) == []


@pytest.mark.parametrize(
    "text, reply_starts, action, keyword, language",
    [
        ("STOP", "Shop: Abgemeldet", "opt_out", "STOP", "en"),  # from +49: answered in German
        ("  stop. ", "Shop: Abgemeldet", "opt_out", "STOP", "en"),
        ("iptal", "Shop: listeden cikarildiniz", "opt_out", "IPTAL", "tr"),  # its own language
        ("Hilfe", "Shop: Hilfe unter", "help", "HILFE", "de"),
        ("START", "Shop: Wieder angemeldet", "opt_in", "START", "en"),
        ("please don't stop", "", None, None, None),
    ],
)
def test_kannel_inbound_answers_the_reply_as_the_body(
    setup, text, reply_starts, action, keyword, language
):
    settings, c = setup
    r = c.get(f"/kannel/inbound/{SECRET}", params={
        "from": "+4917612345678", "to": "12345", "text": text, "at": "2026-11-02 09:14:03",
        "id": "3f1c2a9e-0000-4000-8000-000000000001"})  # fmt: skip
    assert r.status_code == 200
    assert r.text.startswith(reply_starts) and (r.text == "") == (action is None)
    [e] = events(settings)
    assert (e["event_type"], e["action"], e["keyword"], e["language"]) == (
        "inbound",
        action,
        keyword,
        language,
    )
    assert (e["phone"], e["our_number"], e["text"]) == ("+4917612345678", "12345", text)
    assert e["reply_text"] == (r.text or None)
    assert e["occurred_at"] == "2026-11-02T09:14:03.000+00:00"  # %t, UTC
    assert e["message_key"] is None and e["provider_message_id"].startswith("3f1c2a9e")


def test_kannel_text_is_decoded_with_its_charset():
    utf16 = "".join(f"%{b:02X}" for b in "İptal\nşimdi".encode("utf-16-be"))
    assert kannel_text(f"from=%2B90&text={utf16}&charset=UTF-16BE".encode()) == "İptal\nşimdi"
    assert kannel_text(b"text=%C4%B0PTAL&charset=UTF-8") == "İPTAL"
    assert kannel_text(b"text=stop+now") == "stop now"  # no charset: UTF-8
    assert kannel_text(b"text=%E9t%E9&charset=ISO-8859-1") == "été"
    assert kannel_text(b"text=abc&charset=no-such-charset") == "abc"
    assert kannel_text(b"from=%2B49") is None


# --- Twilio --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "twilio_status, status",
    [("accepted", "queued"), ("queued", "queued"), ("sending", "queued"), ("sent", "sent"),
     ("delivered", "delivered"), ("undelivered", "undelivered"), ("failed", "failed"),
     ("canceled", None), ("read", None)],
)  # fmt: skip
def test_twilio_status_callbacks(setup, twilio_status, status):
    settings, c = setup
    form = {"MessageSid": "SM0123", "MessageStatus": twilio_status, "To": "+4917612345678",
            "From": "+15550001111", "AccountSid": "AC1", "ApiVersion": "2010-04-01"}  # fmt: skip
    if twilio_status in ("undelivered", "failed"):
        form["ErrorCode"] = "30003"
    assert (
        signed_post(c, "/twilio/status?key=winback%7CC001%7C2026-11-02%7CA", form).status_code
        == 204
    )
    [e] = events(settings)
    assert (e["source"], e["message_key"], e["provider_message_id"]) == ("twilio", KEY, "SM0123")
    assert (e["status"], e["provider_status"]) == (status, twilio_status)
    assert e["error_code"] == form.get("ErrorCode")
    assert (e["phone"], e["our_number"], e["occurred_at"]) == (
        "+4917612345678",
        "+15550001111",
        None,
    )


@pytest.mark.parametrize(
    "body, reply",
    [("HELP", "Shop: questions?"), ("Stop", "Shop: you are unsubscribed"), ("ok thanks", None)],
)
def test_twilio_inbound_answers_twiml(setup, body, reply):
    settings, c = setup
    r = signed_post(c, "/twilio/inbound", {"MessageSid": "SM9", "From": "+14155550105",
                                           "To": "+15550001111", "Body": body, "NumMedia": "0"})  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(r.text)
    assert root.tag == "Response"
    if reply is None:
        assert list(root) == []
    else:
        [message] = list(root)
        assert message.tag == "Message" and message.text.startswith(reply)
    [e] = events(settings)
    assert (e["source"], e["event_type"], e["provider_message_id"], e["phone"]) == (
        "twilio",
        "inbound",
        "SM9",
        "+14155550105",
    )
    assert e["reply_text"] == (message.text if reply else None)


def test_twiml_escapes_the_reply():
    assert ET.fromstring(twiml("a < b & c > d")).find("Message").text == "a < b & c > d"


# --- sandbox -------------------------------------------------------------------------------


def test_sandbox_receipt_and_reply(setup):
    settings, c = setup
    receipt = {"id": "SBX1", "key": KEY, "to": "+4917612345678", "status": "undelivered",
               "outcome": "undelivered", "error_code": "30003", "event_at": "2026-11-02T10:14:09.512+01:00"}  # fmt: skip
    assert c.post(f"/sandbox/{SECRET}/status", json=receipt).status_code == 204
    r = c.post(f"/sandbox/{SECRET}/inbound", json={"id": "MO1", "from": "+905321234567", "to": "Shop",
                                                   "text": "RET", "event_at": "2026-11-02T09:20:00+00:00"})  # fmt: skip
    assert r.status_code == 200 and r.json()["reply"].startswith("Shop: listeden")
    free = c.post(
        f"/sandbox/{SECRET}/inbound", json={"id": "MO2", "from": "+905321234567", "text": "merhaba"}
    )
    assert free.json() == {"reply": None}
    status, stop, chat = events(settings)
    assert (status["status"], status["error_code"], status["message_key"]) == (
        "undelivered",
        "30003",
        KEY,
    )
    assert status["occurred_at"] == "2026-11-02T09:14:09.512+00:00"
    assert (stop["action"], stop["keyword"], stop["language"], stop["phone"]) == (
        "opt_out",
        "RET",
        "tr",
        "+905321234567",
    )
    assert (chat["action"], chat["reply_text"], chat["text"]) == (None, None, "merhaba")


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'"x"'])
def test_sandbox_rejects_what_is_not_a_json_object(setup, body):
    settings, c = setup
    r = c.post(
        f"/sandbox/{SECRET}/status", content=body, headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 400 and events(settings) == []
    assert c.post("/sandbox/wrong-secret-0000/status", json={"id": "x"}).status_code == 403


# --- duplicates, order, failures ---------------------------------------------------------


def test_the_same_callback_twice_has_one_event_id_and_order_is_kept_as_received(setup):
    settings, c = setup
    dlr(c, "1")  # delivered arrives before sent: appended as it comes
    dlr(c, "8")
    dlr(c, "1")  # Kannel retried
    form = {"MessageSid": "SM1", "MessageStatus": "delivered", "To": "+4917612345678"}
    signed_post(c, "/twilio/status?key=k", form)
    signed_post(c, "/twilio/status?key=k", form)
    inbound = {"from": "+4917612345678", "text": "STOP", "id": "mo-1"}
    c.get(f"/kannel/inbound/{SECRET}", params=inbound)
    c.get(f"/kannel/inbound/{SECRET}", params=inbound)
    e = events(settings)
    assert [x["provider_status"] for x in e[:3]] == ["1", "8", "1"]
    assert e[0]["event_id"] == e[2]["event_id"] != e[1]["event_id"]
    assert e[3]["event_id"] == e[4]["event_id"]
    assert e[5]["event_id"] == e[6]["event_id"]
    assert len({x["event_id"] for x in e}) == 4  # ingest keeps one row per id
    assert all(len(x["event_id"]) == 32 for x in e)


def test_an_event_that_cannot_be_written_is_answered_500(tmp_path):
    blocker = tmp_path / "events"
    blocker.write_text("a file where the log folder should be")
    settings = make_settings(tmp_path, events_dir=blocker)
    c = client(settings)
    assert dlr(c, "1").status_code == 500
    assert (
        signed_post(c, "/twilio/inbound", {"From": "+14155550105", "Body": "STOP"}).status_code
        == 500
    )
    assert (
        c.get(
            f"/kannel/inbound/{SECRET}", params={"from": "+4917612345678", "text": "STOP"}
        ).status_code
        == 500
    )


def test_oversized_bodies_are_refused(setup):
    settings, c = setup
    r = c.post(f"/sandbox/{SECRET}/status", content=b"{" + b" " * 70_000 + b"}",
               headers={"Content-Type": "application/json"})  # fmt: skip
    assert r.status_code == 413 and events(settings) == []


def test_healthz(setup):
    assert setup[1].get("/healthz").json() == {"status": "ok"}


def test_logs_mask_phones_and_leave_out_secrets_and_texts(setup, caplog):
    settings, c = setup
    caplog.set_level("INFO")
    c.get(
        f"/kannel/inbound/{SECRET}",
        params={"from": "+4917612345678", "text": "STOP my secret words"},
    )
    c.get(f"/kannel/inbound/{SECRET}", params={"from": "+4917612345678", "text": "STOP"})
    dlr(c, "1")
    # the receiver's own lines (the test client's httpx logs its request URLs)
    text = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("dagster_project"))
    assert "kannel inbound from +49•••••••••78: opt_out (STOP, replied)" in text
    for leaked in ("+4917612345678", "4917612345678", SECRET, "secret words"):
        assert leaked not in text
    assert redact_path(f"/kannel/dlr/{SECRET}") == "/kannel/dlr/***"
    assert redact_path(f"/sandbox/{SECRET}/status") == "/sandbox/***/status"


# --- the secret ------------------------------------------------------------------------------


def test_the_environment_secret_wins(monkeypatch, tmp_path):
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("SMS_WEBHOOK_SECRET", "from-the-environment-123")
    assert webhook_urls.webhook_secret() == "from-the-environment-123"
    assert not (tmp_path / ".webhook_secret").exists()
    assert (
        webhook_urls.kannel_dlr_url() == "http://127.0.0.1:8088/kannel/dlr/from-the-environment-123"
    )


def _secret(data_dir: str, out) -> None:
    import os

    os.environ["SMS_DATA_DIR"] = data_dir
    os.environ.pop("SMS_WEBHOOK_SECRET", None)
    out.put(webhook_urls.webhook_secret())


def test_unset_one_random_secret_per_data_folder_even_when_processes_race(monkeypatch, tmp_path):
    monkeypatch.delenv("SMS_WEBHOOK_SECRET", raising=False)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    procs = [ctx.Process(target=_secret, args=(str(tmp_path / "a"), out)) for _ in range(4)]
    for p in procs:
        p.start()
    got = {out.get(timeout=60) for _ in procs}
    for p in procs:
        p.join(30)
    assert len(got) == 1 and len(got.pop()) >= 40
    path = tmp_path / "a" / ".webhook_secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == [".webhook_secret"]  # no temp files left
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path / "a"))
    first = webhook_urls.webhook_secret()
    monkeypatch.setenv("SMS_DATA_DIR", str(tmp_path / "b"))
    assert webhook_urls.webhook_secret() != first


def test_the_receiver_imports_no_dagster_duckdb_or_activation():
    """The wall of DESIGN.md: the receiver never opens the warehouse nor imports dispatch."""
    import subprocess
    import sys

    code = (
        "import sys, dagster_project.webhooks.__main__, dagster_project.contracts.eventlog;"
        "print([m for m in sys.modules if m.split('.')[0] in ('dagster', 'duckdb')"
        " or m.startswith('dagster_project.activation')])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
