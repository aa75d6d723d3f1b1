"""The receiver as a real uvicorn process on loopback: crashes, raw HTTP, signatures, logs."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

import httpx
import pytest
from support.webhook_server import ReceiverProcess

from dagster_project.contracts.eventlog import read_new
from dagster_project.contracts.kannel_keys import quote_dlr_key
from dagster_project.contracts.tracked_links import Link, append_links
from dagster_project.webhooks.signatures import compute_signature

SECRET = "server-test-secret-0123456789"
TOKEN = "server-twilio-token"


@pytest.fixture(scope="module")
def receiver(tmp_path_factory):
    with ReceiverProcess(tmp_path_factory.mktemp("rx"), secret=SECRET,
                         env={"TWILIO_AUTH_TOKEN": TOKEN}) as rx:  # fmt: skip
        append_links(
            [Link("Tok3nAbCdEf1", "winback|C001|2026-11-02|A", "https://shop.example/sale")],
            rx.links_path,
        )
        yield rx


def test_a_killed_receiver_loses_no_acknowledged_event(tmp_path):
    rx = ReceiverProcess(tmp_path, secret=SECRET).start()
    total, kill_after = 1500, 300
    acked: set[str] = set()
    failed = 0
    lock = threading.Lock()
    killed = threading.Event()

    def fire(i: int) -> None:
        nonlocal failed
        key = f"crash|C{i:05d}|2026-11-02|A"
        if i % 2:
            url = f"{rx.url}/kannel/dlr/{SECRET}?key={quote_dlr_key(key)}&status=8&at=1793610843&smsc_id=m{i}"
            request = ("GET", url, None)
        else:
            body = {"id": f"SBX{i}", "key": key, "to": "+4917612345678", "status": "delivered",
                    "event_at": "2026-11-02T09:14:09.512+00:00"}  # fmt: skip
            request = ("POST", f"{rx.url}/sandbox/{SECRET}/status", body)
        try:
            method, url, body = request
            r = client.request(method, url, json=body)
            ok = 200 <= r.status_code < 400
        except httpx.HTTPError:
            ok = False
        with lock:
            if ok:
                acked.add(key)
                if len(acked) >= kill_after and not killed.is_set():
                    killed.set()
                    rx.kill()  # SIGKILL mid-stream, requests still in flight
            else:
                failed += 1

    # one client (building one costs ~20 ms of CPU), 24 connections in flight
    client = httpx.Client(timeout=5, limits=httpx.Limits(max_connections=24))
    try:
        with ThreadPoolExecutor(24) as pool:
            list(pool.map(fire, range(total)))
    finally:
        rx.kill()
        client.close()
    assert killed.is_set() and failed > 0, "the kill came after the last request"
    lines = rx.lines()
    assert all(line.error is None for line in lines), [x.error for x in lines if x.error][:3]
    landed = {line.event["message_key"] for line in lines}
    assert acked <= landed, f"{len(acked - landed)} acknowledged events are not in the log"
    # the reader never returns a torn line: every file ends where its last full line ends
    _, offsets = read_new(rx.events_dir, {})
    for name, position in offsets.items():
        data = (rx.events_dir / name).read_bytes()
        assert data[: position.byte].endswith(b"\n")
        assert b"\n" not in data[position.byte :]
    # a restarted receiver appends whole lines after whatever the crash left
    with ReceiverProcess(tmp_path, secret=SECRET) as again:
        url = f"{again.url}/kannel/dlr/{SECRET}?key=after~7Crestart&status=1&at=1793610900"
        assert httpx.get(url).status_code == 200
    after = [x.event for x in read_new(rx.events_dir, offsets)[0] if x.event]
    assert [e["message_key"] for e in after] == ["after|restart"]


def _raw_get(port: int, target: str) -> tuple[int, dict]:
    """A request line sent as written: no client normalizes the path."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in head[1:])}
    return int(head[0].split()[1]), headers


@pytest.mark.parametrize(
    "target, status",
    [
        ("/c/Tok3nAbCdEf1", 302),
        ("/c/Tok3nAbCdEf1?next=https://evil.example", 302),
        ("/c/Tok3nAbCdEf1?url=//evil.com", 302),
        ("//evil.com", 404),
        ("//evil.com/c/Tok3nAbCdEf1", 404),
        ("/c//evil.com", 404),
        ("/c/%2F%2Fevil.com", 404),
        ("/c/Tok3nAbCdEf1//evil.com", 404),
        ("/c/Tok3nAbCdEf1/..//evil.com", 404),
        ("/c/unknownTok9", 404),
        ("https://evil.com/c/Tok3nAbCdEf1", 302),  # absolute-form: still our registered target
    ],
)
def test_clicks_over_http_only_ever_redirect_to_the_registered_target(receiver, target, status):
    got, headers = _raw_get(receiver.port, target)
    assert got == status
    assert headers.get("location") in ((None,) if status == 404 else ("https://shop.example/sale",))


def test_a_click_over_http_is_on_disk_when_the_redirect_arrives(receiver):
    before = len(receiver.events())
    r = httpx.get(f"{receiver.url}/c/Tok3nAbCdEf1", headers={"User-Agent": "probe/1"})
    assert (r.status_code, r.headers["location"]) == (302, "https://shop.example/sale")
    clicks = [e for e in receiver.events()[before:] if e["event_type"] == "click"]
    assert [(c["token"], c["target_url"], c["user_agent"]) for c in clicks] == [
        ("Tok3nAbCdEf1", "https://shop.example/sale", "probe/1")
    ]


def test_twilio_signatures_over_http(receiver):
    path = "/twilio/inbound"
    form = {"MessageSid": "SMhttp1", "From": "+4917612345678", "To": "+15550001111", "Body": "STOP"}
    good = compute_signature(TOKEN, receiver.url + path, form.items())
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    bad = httpx.post(receiver.url + path, content=urlencode(form | {"Body": "START"}),
                     headers=headers | {"X-Twilio-Signature": good})  # fmt: skip
    missing = httpx.post(receiver.url + path, content=urlencode(form), headers=headers)
    assert (bad.status_code, missing.status_code) == (403, 403)
    assert not [e for e in receiver.events() if e["provider_message_id"] == "SMhttp1"]
    ok = httpx.post(
        receiver.url + path, content=urlencode(form), headers=headers | {"X-Twilio-Signature": good}
    )
    assert ok.status_code == 200 and "<Message>Shop: Abgemeldet" in ok.text
    [e] = [e for e in receiver.events() if e["provider_message_id"] == "SMhttp1"]
    assert (e["action"], e["phone"]) == ("opt_out", "+4917612345678")


def test_the_process_log_masks_phones_and_hides_secrets(receiver):
    q = urlencode({"from": "+905321234567", "to": "12345", "text": "yardım", "id": "mo-log"})
    assert httpx.get(f"{receiver.url}/kannel/inbound/{SECRET}?{q}").status_code == 200
    time.sleep(0.3)
    log = receiver.log_path.read_text()
    assert "kannel inbound from +90••••••••67: help" in log
    assert "GET /kannel/inbound/*** 200" in log
    for leaked in ("905321234567", "4917612345678", SECRET, TOKEN):
        assert leaked not in log


def test_a_client_that_leaves_mid_body_is_an_ordinary_4xx_line(receiver):
    """A provider whose connection drops mid-POST: no ERROR traceback, no event written."""
    before = len(receiver.events())
    log_before = receiver.log_path.read_text()
    body = b'{"id": "SBXgone", "key": "gone|C1|2026-11-02|A", "status": "deliv'
    with socket.create_connection(("127.0.0.1", receiver.port), timeout=5) as s:
        s.sendall(
            f"POST /sandbox/{SECRET}/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body) + 400}\r\n\r\n".encode()
            + body
        )
        time.sleep(0.2)
    deadline = time.monotonic() + 10
    while (
        time.monotonic() < deadline
        and "/sandbox/***/status 400" not in receiver.log_path.read_text()
    ):
        time.sleep(0.05)
    new = receiver.log_path.read_text()[len(log_before) :]
    assert "POST /sandbox/***/status 400" in new
    assert "client disconnected before the body was complete" in new
    assert "Traceback" not in new and "ERROR" not in new, new
    assert len(receiver.events()) == before
