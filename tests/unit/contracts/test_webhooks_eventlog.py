"""The landing log: durable appends from threads and processes, and the incremental reader."""

from __future__ import annotations

import json
import multiprocessing
import os
import stat
from concurrent.futures import ThreadPoolExecutor

from dagster_project.contracts import events
from dagster_project.contracts.eventlog import (
    EventLog,
    Position,
    file_name,
    offsets_from_json,
    offsets_to_json,
    read_new,
)


def status(n: int, received_at: str | None = None, key: str = "c|C{n}|2026-11-02|A") -> dict:
    return events.status_event(
        "sandbox", message_key=key.format(n=n), provider_message_id=f"SBX{n}",
        status="delivered", provider_status="delivered", received_at=received_at,
    )  # fmt: skip


def test_one_line_per_event_in_the_file_of_its_utc_day(tmp_path):
    log = EventLog(tmp_path)
    late = status(1, "2026-11-02T23:59:59.999+00:00")
    early = status(2, "2026-11-03T00:30:00.000+01:00")  # 23:30 UTC on the 2nd
    nextday = status(3, "2026-11-03T00:00:00.000+00:00")
    for e in (late, early, nextday):
        log.append(e)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        file_name("2026-11-02"),
        file_name("2026-11-03"),
    ]
    lines, offsets = read_new(tmp_path)
    assert [(x.file, x.line, x.event["event_id"]) for x in lines] == [
        ("events-2026-11-02.jsonl", 1, late["event_id"]),
        ("events-2026-11-02.jsonl", 2, early["event_id"]),
        ("events-2026-11-03.jsonl", 1, nextday["event_id"]),
    ]
    assert lines[0].event == late and lines[0].error is None
    assert set(lines[0].event) == set(events.EVENT_KEYS)
    assert stat.S_IMODE((tmp_path / file_name("2026-11-02")).stat().st_mode) == 0o600
    # nothing new: nothing returned, offsets unchanged
    assert read_new(tmp_path, offsets) == ([], offsets)
    log.append(status(4, "2026-11-03T08:00:00.000+00:00"))
    more, offsets2 = read_new(tmp_path, offsets)
    assert [(x.file, x.line, x.event["message_key"]) for x in more] == [
        ("events-2026-11-03.jsonl", 2, "c|C4|2026-11-02|A")
    ]
    assert offsets2["events-2026-11-02.jsonl"] == offsets["events-2026-11-02.jsonl"]


def test_a_torn_last_line_is_never_returned_and_never_swallows_the_next_event(tmp_path):
    log = EventLog(tmp_path)
    first = status(1, "2026-11-02T10:00:00.000+00:00")
    log.append(first)
    path = tmp_path / file_name("2026-11-02")
    whole = path.read_bytes()
    with path.open("ab") as f:  # a writer that died mid-line
        f.write(b'{"event_id":"dead","received_at":"2026-11-02T10:00:01.000+00:00","sou')
    lines, offsets = read_new(tmp_path)
    assert [x.event["event_id"] for x in lines] == [first["event_id"]]
    assert offsets[path.name] == Position(len(whole), 1)
    assert read_new(tmp_path, offsets)[0] == []  # still torn: still nothing
    # the next append ends the fragment first, so its own line stays whole
    second = status(2, "2026-11-02T10:00:02.000+00:00")
    log.append(second)
    more, _ = read_new(tmp_path, offsets)
    assert [(x.line, x.event is None) for x in more] == [(2, True), (3, False)]
    assert more[0].error.startswith("not JSON") and more[0].raw.startswith('{"event_id":"dead"')
    assert more[1].event == second


def test_a_log_folder_removed_under_a_running_writer_is_made_again(tmp_path):
    import shutil

    log = EventLog(tmp_path / "events")
    log.append(status(1, "2026-11-02T10:00:00.000+00:00"))
    shutil.rmtree(tmp_path / "events")  # `make clean` while the receiver runs
    log.append(status(2, "2026-11-02T10:00:01.000+00:00"))
    assert [x.event["provider_message_id"] for x in read_new(tmp_path / "events")[0]] == ["SBX2"]


def test_lines_that_are_not_events_come_back_with_the_reason(tmp_path):
    path = tmp_path / file_name("2026-11-02")
    good = status(1, "2026-11-02T10:00:00.000+00:00")
    no_id = {**good, "event_id": None}
    partial = {k: v for k, v in good.items() if k != "token"}
    path.write_bytes(
        b"not json\n[1, 2]\n"
        + json.dumps(partial).encode() + b"\n"
        + json.dumps(no_id).encode() + b"\n"
        + b"\xff\xfe\n"
        + json.dumps(good).encode() + b"\n"
    )  # fmt: skip
    lines, _ = read_new(tmp_path)
    assert [x.error.split(":")[0] if x.error else None for x in lines] == [
        "not JSON", "not a JSON object", "missing keys", "no value for", "not UTF-8", None,
    ]  # fmt: skip
    assert lines[2].error == "missing keys: token"
    assert [x.line for x in lines] == [1, 2, 3, 4, 5, 6]


def test_max_bytes_reads_a_backlog_in_bounded_calls(tmp_path):
    log = EventLog(tmp_path)
    written = [status(i, f"2026-11-0{2 + i % 2}T10:00:00.000+00:00") for i in range(40)]
    for e in written:
        log.append(e)
    got, offsets, calls = [], {}, 0
    while True:
        lines, offsets = read_new(tmp_path, offsets, max_bytes=1000)
        if not lines:
            break
        calls += 1
        assert sum(len(x.raw) + 1 for x in lines) <= 1000 + 600  # at most one line over
        got += lines
    assert calls > 5
    assert sorted(x.event["event_id"] for x in got) == sorted(e["event_id"] for e in written)
    assert [x.line for x in got if x.file.endswith("02.jsonl")] == list(range(1, 21))


def test_offsets_survive_a_json_cursor_and_a_replaced_file_is_read_again(tmp_path):
    log = EventLog(tmp_path)
    log.append(status(1, "2026-11-02T10:00:00.000+00:00"))
    lines, offsets = read_new(tmp_path)
    cursor = offsets_to_json(offsets)
    assert offsets_from_json(cursor) == offsets
    assert read_new(tmp_path, json.loads(cursor))[0] == []  # plain [byte, line] lists work
    path = tmp_path / file_name("2026-11-02")
    path.write_bytes(b"")  # replaced by something shorter: read from its start again
    nothing, offsets = read_new(tmp_path, offsets)
    assert nothing == [] and offsets[path.name] == Position(0, 0)
    log.append(status(2, "2026-11-02T11:00:00.000+00:00"))
    again, _ = read_new(tmp_path, offsets)
    assert [(x.line, x.event["provider_message_id"]) for x in again] == [(1, "SBX2")]
    path.unlink()
    assert read_new(tmp_path, offsets) == ([], {})  # a vanished file's offset is dropped


def test_threads_append_whole_lines(tmp_path):
    log = EventLog(tmp_path)
    day = "2026-11-02T12:00:00.000+00:00"
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda i: log.append(status(i, day)), range(400)))
    lines, _ = read_new(tmp_path)
    assert all(x.error is None for x in lines)
    assert sorted(x.event["provider_message_id"] for x in lines) == sorted(
        f"SBX{i}" for i in range(400)
    )


def _append_many(directory: str, worker: int, n: int) -> None:
    log = EventLog(directory)
    for i in range(n):
        # a long text, so lines are far larger than one small write
        e = events.inbound_event(
            "sandbox", provider_message_id=f"W{worker}-{i}", phone="+4917612345678",
            our_number="12345", text=f"{worker}:{i} " + "x" * 3000, action=None, keyword=None,
            language=None, reply_text=None, received_at="2026-11-02T12:00:00.000+00:00",
        )  # fmt: skip
        log.append(e)


def test_processes_append_whole_lines_to_one_file(tmp_path):
    ctx = multiprocessing.get_context("spawn")
    workers = [ctx.Process(target=_append_many, args=(str(tmp_path), w, 150)) for w in range(4)]
    for p in workers:
        p.start()
    for p in workers:
        p.join(60)
        assert p.exitcode == 0
    lines, _ = read_new(tmp_path)
    assert len(lines) == 600 and all(x.error is None for x in lines)
    assert {x.event["provider_message_id"] for x in lines} == {
        f"W{w}-{i}" for w in range(4) for i in range(150)
    }
    assert os.path.getsize(tmp_path / file_name("2026-11-02")) == sum(
        len(x.raw.encode()) + 1 for x in lines
    )
