"""The link registry (dispatch appends, the receiver looks up) and the /c/<token> redirect."""

from __future__ import annotations

import multiprocessing
import stat

import pytest
from support.webhook_helpers import client, events, make_settings

from dagster_project.contracts.tracked_links import Link, LinkRegistry, append_links

LINKS = [
    Link("AbC123xyz789", "winback|C001|2026-11-02|A", "https://shop.example/sale?utm=sms"),
    Link("Zz9Yy8Xx7Ww6", "winback|C002|2026-11-02|B", "http://shop.example/"),
]


def test_append_then_lookup(tmp_path):
    path = tmp_path / "webhooks" / "links.jsonl"
    assert LinkRegistry(path).lookup("AbC123xyz789") is None  # no file yet
    assert append_links(LINKS, path) == 2
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    registry = LinkRegistry(path)
    assert registry.lookup("AbC123xyz789") == (
        "winback|C001|2026-11-02|A",
        "https://shop.example/sale?utm=sms",
    )
    assert registry.lookup("nope") is None
    # a rerun of the same batch adds nothing; mappings and tuples are accepted too
    assert append_links([dict(LINKS[0]._asdict()), tuple(LINKS[1])], path) == 0
    assert len(path.read_text().splitlines()) == 2


def test_a_lookup_sees_what_was_appended_after_it_loaded(tmp_path):
    path = tmp_path / "links.jsonl"
    append_links(LINKS[:1], path)
    registry = LinkRegistry(path)
    assert registry.lookup(LINKS[1].token) is None
    append_links(LINKS[1:], path)
    assert registry.lookup(LINKS[1].token) == (LINKS[1].message_key, LINKS[1].target_url)
    path.unlink()
    append_links([Link("New1", "k|1|d|A", "https://n.example/")], path)  # replaced file
    assert registry.lookup(LINKS[0].token) is None
    assert registry.lookup("New1") == ("k|1|d|A", "https://n.example/")


def test_the_first_registration_of_a_token_wins(tmp_path):
    path = tmp_path / "links.jsonl"
    append_links(LINKS[:1], path)
    with pytest.raises(ValueError, match="registered for another"):
        append_links([Link(LINKS[0].token, "other|key|d|A", "https://evil.example/")], path)
    # even a line written by hand behind the API's back cannot move the token
    with path.open("a") as f:
        f.write('{"token":"AbC123xyz789","message_key":"x","target_url":"https://evil.example/"}\n')
    assert LinkRegistry(path).lookup(LINKS[0].token)[1] == "https://shop.example/sale?utm=sms"


@pytest.mark.parametrize(
    "link",
    [
        Link("tok1", "k|1|d|A", "javascript:alert(1)"),
        Link("tok1", "k|1|d|A", "//evil.example/"),
        Link("tok1", "k|1|d|A", "https:///nohost"),
        Link("tok1", "k|1|d|A", "https://shop.example/a b"),
        Link("tok1", "k|1|d|A", "https://shop.example/\r\nSet-Cookie: x"),
        Link("tok/1", "k|1|d|A", "https://shop.example/"),
        Link("", "k|1|d|A", "https://shop.example/"),
        Link("tok1", "", "https://shop.example/"),
    ],
)
def test_bad_links_are_refused_and_nothing_is_written(tmp_path, link):
    path = tmp_path / "links.jsonl"
    with pytest.raises(ValueError):
        append_links([LINKS[0], link], path)
    assert not path.exists()


def test_bad_lines_in_the_file_are_skipped_never_redirected_to(tmp_path):
    path = tmp_path / "links.jsonl"
    path.write_text(
        '{"token":"js1","message_key":"k","target_url":"javascript:alert(1)"}\n'
        "not json\n"
        '["list1","k","https://shop.example/"]\n'
        '{"token":"torn","message_key":"k","target_url":"https://sh'
    )
    registry = LinkRegistry(path)
    assert [registry.lookup(t) for t in ("js1", "list1", "torn")] == [None, None, None]
    assert append_links(LINKS[:1], path) == 1  # ends the torn line first
    assert registry.lookup(LINKS[0].token) is not None and registry.lookup("torn") is None


def _register(path: str, worker: int) -> None:
    append_links(
        [Link(f"w{worker}n{i}", f"k|{worker}|{i}|A", f"https://s.example/{i}") for i in range(50)],
        path,
    )


def test_concurrent_dispatch_processes_register_every_link_once(tmp_path):
    path = tmp_path / "links.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_register, args=(str(path), w % 3)) for w in range(6)
    ]  # 2 per batch
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    lines = path.read_text().splitlines()
    assert len(lines) == 150 and len(set(lines)) == 150
    assert LinkRegistry(path).lookup("w2n49") == ("k|2|49|A", "https://s.example/49")


# --- /c/<token> ---------------------------------------------------------------------------


def test_a_known_token_redirects_to_its_target_and_records_the_click(tmp_path):
    settings = make_settings(tmp_path)
    append_links(LINKS, settings.links_path)
    c = client(settings)
    r = c.get("/c/AbC123xyz789", headers={"User-Agent": "Mozilla/5.0 (iPhone)"})
    assert r.status_code == 302
    assert r.headers["location"] == "https://shop.example/sale?utm=sms"
    assert r.headers["cache-control"] == "no-store"
    [click] = events(settings)
    assert (click["source"], click["event_type"], click["token"]) == (
        "link",
        "click",
        "AbC123xyz789",
    )
    assert click["message_key"] == "winback|C001|2026-11-02|A"
    assert click["target_url"] == "https://shop.example/sale?utm=sms"
    assert click["user_agent"] == "Mozilla/5.0 (iPhone)"
    # every click counts: a second one is another event
    c.get("/c/AbC123xyz789")
    assert len({e["event_id"] for e in events(settings)}) == 2


def test_head_answers_the_redirect_but_is_no_click(tmp_path):
    settings = make_settings(tmp_path)
    append_links(LINKS, settings.links_path)
    r = client(settings).head("/c/AbC123xyz789")
    assert (r.status_code, r.headers["location"]) == (302, "https://shop.example/sale?utm=sms")
    assert events(settings) == []


@pytest.mark.parametrize(
    "path",
    [
        "/c/unknownToken1",
        "/c/AbC123xyz789/https://evil.example",
        "/c//evil.example",
        "/c/%2F%2Fevil.example",
        "/c/https:%2F%2Fevil.example",
        "/c/",
        "/c/..%2F..%2Fhealthz",
    ],
)
def test_unknown_tokens_and_path_tricks_are_404_and_never_redirect(tmp_path, path):
    settings = make_settings(tmp_path)
    append_links(LINKS, settings.links_path)
    r = client(settings).get(path)
    assert r.status_code == 404
    assert "location" not in r.headers
    assert events(settings) == []


@pytest.mark.parametrize(
    "query", ["?next=https://evil.example", "?url=//evil.com", "?target_url=https://evil.example"]
)
def test_a_query_never_changes_the_target(tmp_path, query):
    settings = make_settings(tmp_path)
    append_links(LINKS, settings.links_path)
    c = client(settings)
    r = c.get("/c/AbC123xyz789" + query)
    assert (r.status_code, r.headers["location"]) == (302, "https://shop.example/sale?utm=sms")
    assert c.get("/c/unknownToken1" + query).status_code == 404
    assert [e["target_url"] for e in events(settings)] == ["https://shop.example/sale?utm=sms"]
