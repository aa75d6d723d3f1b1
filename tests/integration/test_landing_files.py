"""Landing files as shops really send them, through the real loader into a real DuckDB file.

Misnamed and future day folders, ``.CSV`` in capitals, Windows-1252 text, files that
are not text at all, empty and header-less files, a re-sent day, rows dated next year:
each case ends loaded, skipped with its path, or quarantined with file, line and reason.
(Which day folders count, without a warehouse: unit/ingest/test_landing_days.py.)
"""

from __future__ import annotations

import gzip
import json
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest

from dagster_project.ingest import encodings, landing, loader
from dagster_project.ingest.specs import (
    CRM_CONSENT,
    CRM_CONTACTS,
    CRM_TICKETS,
    POS_STORES,
    POS_TRANSACTIONS,
)

D = date.fromisoformat
TODAY = D("2026-12-02")
TICKETS_HEADER = "Ticket ID,Contact ID,Created At,Status,Priority,Subject,Closed At"
POS_HEADER = (
    "Date,Time,Time Zone,Transaction ID,Location ID,Event Type,Item,SKU,Category,Qty,"
    "Unit Price,Gross Sales,Discounts,Discount Code,Net Sales,Currency,Payment Method,"
    "Customer Phone,Loyalty ID"
)


def ticket(tid: str, subject: str = "Rückfrage", created: str = "2026-11-30 10:00:00") -> str:
    return f'{tid},C1,{created},open,high,"{subject}",'


def pos_row(tx: str, day: str = "2026-11-30", sku: str = "SKU-1") -> str:
    return (
        f"{day},10:15:00,Europe/Berlin,{tx},DE-BER-1,Payment,Scarf,{sku},accessories,1,"
        "19.99,19.99,0,,19.99,EUR,Card,,"
    )


def write(path: Path, data: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)
    return path


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "landing"


@pytest.fixture
def conn(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "wh.duckdb"))
    yield c
    c.close()


def load(conn, spec, root, start, end=None, **kw):
    return loader.load(conn, spec, root, D(start), D(end or start), today=TODAY, **kw)


def rejects(conn):
    return conn.execute(
        "SELECT source_file, line, column_name, error_type, reason FROM ingest.rejects "
        "ORDER BY source_file, line NULLS FIRST"
    ).fetchall()


# --- 5. delivery-day folders -------------------------------------------------------------


def test_folders_that_cannot_be_delivery_days_are_skipped_with_their_path(conn, root):
    base = root / "crm/tickets"
    write(base / "2026-11-30/t.csv", TICKETS_HEADER + "\n" + ticket("T1") + "\n")
    write(base / "2027-03-01/t.csv", TICKETS_HEADER + "\n" + ticket("FUTURE") + "\n")
    write(base / "2026-12-32/t.csv", TICKETS_HEADER + "\n" + ticket("IMPOSSIBLE") + "\n")
    write(base / "2026-12-2/t.csv", TICKETS_HEADER + "\n" + ticket("UNPADDED") + "\n")
    write(base / "stray.csv", TICKETS_HEADER + "\n" + ticket("STRAY") + "\n")

    # No crash on 2026-12-32, and neither it nor the future day is a delivery day.
    assert loader.day_folders(root, CRM_TICKETS, today=TODAY) == [D("2026-11-30")]
    result = load(conn, CRM_TICKETS, root, "2026-11-30", "2027-03-01")
    assert conn.execute("SELECT ticket_id FROM raw.crm_tickets").fetchall() == [("T1",)]

    skipped = {Path(s.path).name: s for s in result.skipped}
    assert set(skipped) == {"2027-03-01", "2026-12-32", "2026-12-2", "stray.csv"}
    assert skipped["2027-03-01"].kind == "future_day"
    assert skipped["2027-03-01"].path == str(base / "2027-03-01")
    assert "after today (2026-12-02" in skipped["2027-03-01"].reason
    assert skipped["2026-12-32"].kind == "not_a_date"
    assert "day is out of range for month" in skipped["2026-12-32"].reason
    assert skipped["2026-12-2"].kind == "not_a_day"
    assert "did you mean 2026-12-02?" in skipped["2026-12-2"].reason
    assert skipped["stray.csv"].kind == "outside_day_folder"


def test_upper_case_extension_is_read_and_other_files_are_reported(conn, root):
    day = root / "crm/tickets/2026-11-30"
    write(day / "EXPORT.CSV", TICKETS_HEADER + "\n" + ticket("T1") + "\n")
    write(day / "notes.txt", "not an export\n")
    write(day / "old/t.csv", TICKETS_HEADER + "\n" + ticket("NESTED") + "\n")
    result = load(conn, CRM_TICKETS, root, "2026-11-30")
    assert result.rows_loaded == 1 and result.files == [str(day / "EXPORT.CSV")]
    assert sorted((Path(s.path).name, s.kind) for s in result.skipped) == [
        ("notes.txt", "other_file"),
        ("old", "nested_folder"),
    ]


# --- 6. encodings ------------------------------------------------------------------------


def test_a_windows_1252_export_loads_with_the_right_characters(conn, root):
    text = TICKETS_HEADER + "\n" + ticket("T1", "Müller, Straße 5: 30 € zurück") + "\n"
    f = write(root / "crm/tickets/2026-11-30/excel.csv", text.encode("cp1252"))
    write(root / "crm/tickets/2026-11-30/utf8.csv", TICKETS_HEADER + "\n" + ticket("T2") + "\n")
    result = load(conn, CRM_TICKETS, root, "2026-11-30")
    assert result.encodings == {str(f): "cp1252"}
    assert conn.execute(
        "SELECT ticket_id, subject, _source_file, _partition_date FROM raw.crm_tickets ORDER BY 1"
    ).fetchall() == [
        ("T1", "Müller, Straße 5: 30 € zurück", str(f), D("2026-11-30")),
        ("T2", "Rückfrage", str(root / "crm/tickets/2026-11-30/utf8.csv"), D("2026-11-30")),
    ]


def test_a_configured_encoding_reads_a_turkish_export(conn, root, monkeypatch):
    monkeypatch.setenv("SMS_LANDING_ENCODINGS", "crm_tickets=cp1254")
    text = TICKETS_HEADER + "\n" + ticket("T1", "Şikâyet: İade ığdır") + "\n"
    write(root / "crm/tickets/2026-11-30/t.csv", text.encode("cp1254"))
    load(conn, CRM_TICKETS, root, "2026-11-30")
    assert conn.execute("SELECT subject FROM raw.crm_tickets").fetchall() == [
        ("Şikâyet: İade ığdır",)
    ]


@pytest.mark.parametrize(
    "value, message",
    [
        ("crm_tickets", "is not entity=codec"),
        ("crm_tikets=cp1252", "unknown entity 'crm_tikets'"),
        ("crm_tickets=klingon", "unknown encoding 'klingon'"),
    ],
)
def test_a_broken_encoding_setting_names_the_variable(conn, root, monkeypatch, value, message):
    monkeypatch.setenv("SMS_LANDING_ENCODINGS", value)
    write(root / "crm/tickets/2026-11-30/t.csv", TICKETS_HEADER + "\n" + ticket("T1") + "\n")
    with pytest.raises(encodings.LandingConfigError, match="SMS_LANDING_ENCODINGS") as err:
        load(conn, CRM_TICKETS, root, "2026-11-30")
    assert message in str(err.value)


def test_files_that_are_not_text_are_quarantined_and_the_others_load(conn, root):
    day = root / "crm/tickets/2026-11-30"
    good = write(day / "a.csv", TICKETS_HEADER + "\n" + ticket("T1") + "\n")
    # 0x81 is no character in Windows-1252 (nor UTF-8 here).
    undecodable = write(day / "b.csv", (TICKETS_HEADER + "\nT2,C1,x\x81y\n").encode("latin-1"))
    zipped = write(day / "c.csv", gzip.compress((TICKETS_HEADER + "\n").encode()))
    result = load(conn, CRM_TICKETS, root, "2026-11-30")

    assert conn.execute("SELECT ticket_id, _source_file FROM raw.crm_tickets").fetchall() == [
        ("T1", str(good))
    ]
    got = rejects(conn)
    assert [(f, line, kind) for f, line, _, kind, _ in got] == [
        (str(undecodable), None, "undecodable"),
        (str(zipped), None, "binary"),
    ]
    assert "byte 0x81 at offset" in got[0][4] and "SMS_LANDING_ENCODINGS" in got[0][4]
    assert "NUL byte" in got[1][4]
    assert [(f.path, f.error_type) for f in result.quarantined_files] == [
        (str(undecodable), "undecodable"),
        (str(zipped), "binary"),
    ]
    assert result.rows_rejected == 2
    # Only the file read counts as read: a consent file quarantined whole may hold a STOP,
    # and the send-time catch-up must not take it for loaded.
    assert result.files == [str(good)]


def test_an_unreadable_snapshot_keeps_the_loaded_one(conn, root):
    write(
        root / "pos/stores.csv",
        "Location ID,Location Name,Country,Time Zone,Currency\nDE-1,Köln,DE,Europe/Berlin,EUR\n",
    )
    loader.load(conn, POS_STORES, root)
    write(root / "pos/stores.csv", "")
    with pytest.raises(landing.LandingFileError, match="keeps its last snapshot"):
        loader.load(conn, POS_STORES, root)
    assert conn.execute("SELECT location_name FROM raw.pos_stores").fetchall() == [("Köln",)]


# --- 7. silent gaps ----------------------------------------------------------------------


def test_empty_header_only_and_header_less_files_are_told_apart(conn, root):
    day = root / "crm/tickets/2026-11-30"
    write(day / "a.csv", TICKETS_HEADER + "\n" + ticket("T1") + "\n")
    empty = write(day / "empty.csv", "")
    blank = write(day / "blank.csv", "\n\n")
    header_only = write(day / "header.csv", TICKETS_HEADER + "\n")
    headerless = write(day / "headerless.csv", ticket("T8") + "\n" + ticket("T9") + "\n")
    semicolons = write(day / "excel-de.csv", TICKETS_HEADER.replace(",", ";") + "\nT7;C1\n")
    result = load(conn, CRM_TICKETS, root, "2026-11-30")

    assert result.rows_loaded == 1
    assert sorted(result.empty_files) == sorted([str(empty), str(blank)])
    assert result.no_row_files == [str(header_only)]
    got = {f: (line, kind, reason) for f, line, _, kind, reason in rejects(conn)}
    assert set(got) == {str(headerless), str(semicolons)}
    assert got[str(headerless)][:2] == (None, "no_header")
    assert "none of the first line's 7 fields" in got[str(headerless)][2]
    assert got[str(semicolons)][:2] == (None, "wrong_delimiter")
    # A header-less file's first line (it may hold a phone) is not in the reason.
    assert "T8" not in got[str(headerless)][2]


def test_a_missing_required_column_still_fails_naming_the_file(conn, root):
    f = write(root / "crm/tickets/2026-11-30/t.csv", "Ticket ID,Status\nT1,open\n")
    with pytest.raises(loader.MissingColumnError) as err:
        load(conn, CRM_TICKETS, root, "2026-11-30")
    assert str(f) in str(err.value) and "'Contact ID'" in str(err.value)


def test_a_redelivered_previous_day_is_counted(conn, root):
    rows = [ticket(f"T{i}") for i in range(6)]
    write(root / "crm/tickets/2026-11-29/t.csv", TICKETS_HEADER + "\n" + "\n".join(rows) + "\n")
    # Today's export, plus yesterday's file sent again.
    write(root / "crm/tickets/2026-11-30/t.csv", TICKETS_HEADER + "\n" + ticket("T9") + "\n")
    write(root / "crm/tickets/2026-11-30/resent.csv", TICKETS_HEADER + "\n" + "\n".join(rows[:4]))
    first = load(conn, CRM_TICKETS, root, "2026-11-29")
    assert first.redelivered.rows == 0
    result = load(conn, CRM_TICKETS, root, "2026-11-30")
    assert result.redelivered.rows == 4
    ex = result.redelivered.examples[0]
    assert ex["file"].endswith("2026-11-30/resent.csv") and ex["first_delivered"] == "2026-11-29"
    assert ex["key"] == "ticket_id=T0, status=open"
    # Loaded anyway: dbt keeps one of each, so nothing is lost and nothing counts twice.
    assert conn.execute("SELECT count(*) FROM raw.crm_tickets").fetchall() == [(11,)]


# --- 8. row-level faults -----------------------------------------------------------------


def consent(event_id: str, occurred: str, event_type: str = "opt_in") -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "contact_id": None,
            "phone": "+4915112345678",
            "country_code": "DE",
            "event_type": event_type,
            "source": "web_form",
            "occurred_at": occurred,
            "consent_text_version": "v2" if event_type == "opt_in" else None,
            "keyword": None,
        }
    )


def test_future_dated_consent_events_are_quarantined_with_file_line_and_reason(conn, root):
    lines = [consent(f"e{i}", "2026-11-30T09:00:00+01:00") for i in range(10)]
    lines[3] = consent("next-year-1", "2027-11-30T09:00:00+00:00")
    lines[5] = consent("next-year-2", "2027-12-01T00:30:00+00:00")
    lines[8] = consent("next-year-3", "2027-12-24T18:00:00+00:00")
    # A day ahead is a time zone, not a fault; a STOP with a broken clock still counts.
    lines.append(consent("tomorrow", "2026-12-01T23:00:00+00:00"))
    lines.append(consent("stop-wrong-clock", "2027-11-30T09:00:00+00:00", "opt_out"))
    f = write(root / "crm/consent/2026-11-30/consent.jsonl", "\n".join(lines) + "\n")
    result = load(conn, CRM_CONSENT, root, "2026-11-30")

    assert (result.rows_loaded, result.rows_rejected, result.rows_quarantined) == (9, 3, 3)
    assert rejects(conn) == [
        (
            str(f),
            4,
            "occurred_at",
            "future_dated",
            "future_dated: occurred_at 2027-11-30 is 365 days after the delivery day "
            "2026-11-30 (an event cannot be dated after the file that carries it)",
        ),
        (str(f), 6, "occurred_at", "future_dated", rejects(conn)[1][4]),
        (str(f), 9, "occurred_at", "future_dated", rejects(conn)[2][4]),
    ]
    kept = {r[0] for r in conn.execute("SELECT event_id FROM raw.crm_consent").fetchall()}
    assert {"tomorrow", "stop-wrong-clock"} <= kept and not any("next-year" in k for k in kept)


def test_a_future_dated_csv_row_names_its_exact_line(conn, root):
    write(
        root / "pos/stores.csv",
        "Location ID,Location Name,Country,Time Zone,Currency\n"
        "DE-BER-1,Berlin,DE,Europe/Berlin,EUR\n",
    )
    loader.load(conn, POS_STORES, root)
    rows = [pos_row(f"T{i}") for i in range(5)]
    rows[2] = pos_row("T2", day="2027-11-30")
    rows[3] = pos_row("T3", sku="")  # a required value left empty
    f = write(
        root / "pos/transactions/2026-11-30/s.csv",
        POS_HEADER + "\n" + "\n".join(rows[:2]) + "\n\n" + "\n".join(rows[2:]) + "\n",
    )
    load(conn, POS_TRANSACTIONS, root, "2026-11-30")
    assert [(r[0], r[1], r[2], r[3]) for r in rejects(conn)] == [
        (str(f), 5, "Date", "future_dated"),  # line 4 is blank
        (str(f), 6, "SKU", "missing_required"),
    ]
    assert conn.execute(
        "SELECT transaction_id, _source_line FROM raw.pos_transactions ORDER BY 1"
    ).fetchall() == [("T0", 2), ("T1", 3), ("T4", 7)]


def test_contacts_from_the_future_are_quarantined_by_either_timestamp(conn, root):
    header = (
        "Record ID,First Name,Last Name,Email,Phone Number,Date of Birth,Gender,"
        "Preferred Language,Country/Region,Create Date,Last Modified Date,Lead Status"
    )

    def contact(rid, created, modified):
        return f"{rid},Anna,Müller,a@x.de,,,,de,DE,{created},{modified},open"

    ok = "2026-11-29 10:00:00"
    later = (TODAY + timedelta(days=400)).isoformat() + " 10:00:00"
    write(
        root / "crm/contacts/2026-11-30/c.csv",
        "\n".join(
            [header, contact("R1", ok, ok), contact("R2", ok, later), contact("R3", later, ok)]
        )
        + "\n",
    )
    load(conn, CRM_CONTACTS, root, "2026-11-30")
    assert [(r[1], r[2]) for r in rejects(conn)] == [
        (3, "Last Modified Date"),
        (4, "Create Date"),
    ]
