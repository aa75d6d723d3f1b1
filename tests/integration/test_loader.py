"""The loader on small hand-written landing files: every case is visible in the test."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from dagster_project.ingest import loader
from dagster_project.ingest.specs import CRM_CONSENT, POS_STORES, POS_TRANSACTIONS, SHOP_ORDERS

POS_HEADER = (
    "Date,Time,Time Zone,Transaction ID,Location ID,Event Type,Item,SKU,Category,Qty,"
    "Unit Price,Gross Sales,Discounts,Discount Code,Net Sales,Currency,Payment Method,"
    "Customer Phone,Loyalty ID"
)


def pos_row(tx: str, qty: str = "1", phone: str = "", day: str = "2026-03-02") -> str:
    return (
        f"{day},10:15:00,Europe/Berlin,{tx},DE-BER-1,Payment,Scarf,SKU-1,accessories,{qty},"
        f"19.99,19.99,0,,19.99,EUR,Card,{phone},"
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    root = tmp_path / "landing"
    write(
        root / "pos/stores.csv",
        "Location ID,Location Name,Country,Time Zone,Currency\n"
        "DE-BER-1,Berlin Mitte,DE,Europe/Berlin,EUR\n"
        "US-NYC-1,New York,US,America/New_York,USD\n",
    )
    return root


@pytest.fixture
def conn(tmp_path: Path):
    c = duckdb.connect(str(tmp_path / "wh.duckdb"))
    yield c
    c.close()


def load_stores(conn, landing):
    return loader.load(conn, POS_STORES, landing)


def test_csv_rows_typed_and_bad_rows_rejected_with_file_line_column(conn, landing):
    day = "2026-03-02"
    f = write(
        landing / f"pos/transactions/{day}/store_DE-BER-1_{day}.csv",
        "\n".join(
            [
                POS_HEADER,
                pos_row("T1", phone="0171 1234567"),  # line 2: good, German mobile
                pos_row("T2", qty="two"),  # line 3: wrong type
                pos_row("T3") + ",surplus",  # line 4: one field too many
                pos_row("T4", phone="(415) 234-5678"),  # line 5: good; US number at a DE till
                pos_row("T5", phone="12345"),  # line 6: good row, invalid phone
            ]
        )
        + "\n",
    )
    load_stores(conn, landing)
    result = loader.load(conn, POS_TRANSACTIONS, landing, date(2026, 3, 2), date(2026, 3, 2))

    assert result.rows_loaded == 3
    assert result.rows_rejected == 2
    rows = conn.execute(
        "SELECT transaction_id, quantity, customer_phone_e164, customer_phone_is_valid, "
        "customer_phone_region, customer_phone_type, _partition_date "
        "FROM raw.pos_transactions ORDER BY 1"
    ).fetchall()
    assert rows == [
        ("T1", 1, "+491711234567", True, "DE", "mobile", date(2026, 3, 2)),
        # Typed without +1 at a Berlin till, it *is* a valid German landline: the till's
        # region decides, and the type (not mobile) is what keeps it from an SMS.
        ("T4", 1, "+494152345678", True, "DE", "fixed_line", date(2026, 3, 2)),
        ("T5", 1, "+4912345", False, None, None, date(2026, 3, 2)),
    ]
    rejects = conn.execute(
        "SELECT source_file, line, column_name, error_type, reason FROM ingest.rejects ORDER BY line"
    ).fetchall()
    assert [(r[0], r[1], r[2], r[3]) for r in rejects] == [
        (str(f), 3, "Qty", "wrong_type"),
        (str(f), 4, None, "malformed"),
    ]
    assert "two" in rejects[0][4]
    assert rejects[1][4] == "malformed: 20 fields, the header has 19"


def test_load_summary_counts_rows_per_raw_table_and_rejects_per_reason(conn, landing):
    write(
        landing / "pos/transactions/2026-03-02/s.csv",
        "\n".join([POS_HEADER, pos_row("T1"), pos_row("T2", qty="two")]) + "\n",
    )
    load_stores(conn, landing)
    loader.load(conn, POS_TRANSACTIONS, landing, date(2026, 3, 2), date(2026, 3, 2))
    summary = loader.load_summary(conn)
    assert summary["rows"] == {"pos_stores": 2, "pos_transactions": 1, "sms_events": 0}
    assert summary["rejects"] == [("pos_transactions", "wrong_type", "Qty", 1)]


def test_extra_empty_field_is_rejected_not_shifted(conn, landing):
    """DuckDB accepts a line with one extra *empty* trailing field and shifts its values;
    the loader must reject it instead, and keep exact lines for the file's other rows."""
    good = pos_row("T1")  # ends with "...,Card,,"  (phone and loyalty empty)
    cols = good.split(",")
    shifted = ",".join(cols[:12] + [cols[11]] + cols[12:])  # Gross Sales typed twice
    f = write(
        landing / "pos/transactions/2026-03-02/s.csv",
        "\n".join([POS_HEADER, good, shifted, pos_row("T3", qty="x"), pos_row("T4")]) + "\n",
    )
    load_stores(conn, landing)
    result = loader.load(conn, POS_TRANSACTIONS, landing, date(2026, 3, 2), date(2026, 3, 2))
    assert (result.rows_loaded, result.rows_rejected) == (2, 2)
    assert conn.execute(
        "SELECT transaction_id, net_sales, currency, _source_line FROM raw.pos_transactions ORDER BY 1"
    ).fetchall() == [("T1", Decimal("19.99"), "EUR", 2), ("T4", Decimal("19.99"), "EUR", 5)]
    assert conn.execute(
        "SELECT source_file, line, column_name, error_type, raw_line FROM ingest.rejects ORDER BY line"
    ).fetchall() == [
        (str(f), 3, None, "malformed", shifted),
        (str(f), 4, "Qty", "wrong_type", pos_row("T3", qty="x")),
    ]


def test_reloading_a_partition_replaces_exactly_that_day(conn, landing):
    for day, txs in {"2026-03-01": ["A1", "A2"], "2026-03-02": ["B1"]}.items():
        write(
            landing / f"pos/transactions/{day}/s.csv",
            POS_HEADER + "\n" + "\n".join(pos_row(t, day=day) for t in txs) + "\n",
        )
    load_stores(conn, landing)
    loader.load(conn, POS_TRANSACTIONS, landing, date(2026, 3, 1), date(2026, 3, 2))
    before = conn.execute(
        "SELECT * EXCLUDE (_loaded_at) FROM raw.pos_transactions ORDER BY ALL"
    ).fetchall()
    assert len(before) == 3

    # Same files again: nothing changes (no duplicates).
    loader.load(conn, POS_TRANSACTIONS, landing, date(2026, 3, 2), date(2026, 3, 2))
    again = conn.execute(
        "SELECT * EXCLUDE (_loaded_at) FROM raw.pos_transactions ORDER BY ALL"
    ).fetchall()
    assert again == before

    # A corrected file for day 2 replaces day 2 only.
    write(landing / "pos/transactions/2026-03-02/s.csv", POS_HEADER + "\n" + pos_row("B9") + "\n")
    loader.load(conn, POS_TRANSACTIONS, landing, date(2026, 3, 2), date(2026, 3, 2))
    ids = conn.execute("SELECT transaction_id FROM raw.pos_transactions ORDER BY 1").fetchall()
    assert ids == [("A1",), ("A2",), ("B9",)]


def test_missing_required_column_fails_naming_file_and_column(conn, landing):
    bad_header = POS_HEADER.replace("SKU,", "")
    f = write(landing / "pos/transactions/2026-03-02/s.csv", bad_header + "\n")
    load_stores(conn, landing)
    with pytest.raises(loader.MissingColumnError) as err:
        loader.load(conn, POS_TRANSACTIONS, landing, date(2026, 3, 2), date(2026, 3, 2))
    assert str(f) in str(err.value) and "'SKU'" in str(err.value)


def test_reordered_extra_and_missing_optional_columns(conn, landing):
    cols = POS_HEADER.split(",")
    values = pos_row("T1").split(",")
    keep = [i for i, c in enumerate(cols) if c not in ("Loyalty ID", "Item")]
    order = list(reversed(keep))
    header = [cols[i] for i in order] + ["Register Name"]
    row = [values[i] for i in order] + ["till 3"]
    write(
        landing / "pos/transactions/2026-03-02/s.csv",
        ",".join(header) + "\n" + ",".join(row) + "\n",
    )
    load_stores(conn, landing)
    result = loader.load(conn, POS_TRANSACTIONS, landing, date(2026, 3, 2), date(2026, 3, 2))
    assert result.rows_loaded == 1 and result.rows_rejected == 0
    assert list(result.extra_columns) == ["Register Name"]
    assert conn.execute(
        "SELECT transaction_id, sku, quantity, item, loyalty_id FROM raw.pos_transactions"
    ).fetchall() == [("T1", "SKU-1", 1, None, None)]


def test_pos_needs_stores_first(conn, landing):
    write(landing / "pos/transactions/2026-03-02/s.csv", POS_HEADER + "\n" + pos_row("T1") + "\n")
    with pytest.raises(loader.MissingReferenceError, match="pos_stores"):
        loader.load(conn, POS_TRANSACTIONS, landing, date(2026, 3, 2), date(2026, 3, 2))


def order(**overrides) -> dict:
    base = {
        "id": 1001,
        "name": "#1001",
        "email": "  Ada@Example.COM ",
        "phone": None,
        "created_at": "2026-03-02T09:50:26+00:00",
        "updated_at": "2026-03-02T09:50:26+00:00",
        "currency": "GBP",
        "total_price": "39.98",
        "subtotal_price": "39.98",
        "total_discounts": "0.00",
        "financial_status": "paid",
        "cancelled_at": None,
        "cancel_reason": None,
        "discount_codes": [],
        "customer": {
            "id": 77,
            "email": "ada@example.com",
            "phone": "07700 900123",
            "first_name": "Ada",
            "last_name": "Lovelace",
        },
        "shipping_address": {"country_code": "GB"},
        "line_items": [
            {
                "id": 1,
                "sku": "SKU-1",
                "product_id": 9,
                "title": "Scarf",
                "quantity": 2,
                "price": "19.99",
            }
        ],
        "refunds": [],
    }
    base.update(overrides)
    return base


def test_jsonl_malformed_wrong_type_and_missing_required_rejected_by_line(conn, landing):
    nested_bad = order(id=1004)
    nested_bad["line_items"][0]["quantity"] = "two"
    lines = [
        json.dumps(order()),  # 1 good
        json.dumps(order(id=1002))[:40],  # 2 truncated
        "",  # 3 blank: not a row, not a reject
        json.dumps(order(id="abc")),  # 4 wrong type at top level
        json.dumps(nested_bad),  # 5 wrong type nested in a line item
        json.dumps({k: v for k, v in order(id=1005).items() if k != "created_at"}),  # 6 missing
        json.dumps({k: v for k, v in order(id=1006).items() if k != "cancel_reason"}),  # 7 ok
    ]
    f = write(landing / "shop/orders/2026-03-02/orders.jsonl", "\n".join(lines) + "\n")
    result = loader.load(conn, SHOP_ORDERS, landing, date(2026, 3, 2), date(2026, 3, 2))
    assert result.rows_loaded == 2
    rejects = conn.execute(
        "SELECT source_file, line, column_name, error_type FROM ingest.rejects ORDER BY line"
    ).fetchall()
    assert rejects == [
        (str(f), 2, None, "malformed"),
        (str(f), 4, "id", "wrong_type"),
        (str(f), 5, "line_items[].quantity", "wrong_type"),
        (str(f), 6, "created_at", "missing_required"),
    ]
    row = conn.execute(
        "SELECT id, email_normalized, customer_id, customer_phone_e164, line_items[1].quantity, "
        "_source_line FROM raw.shop_orders ORDER BY id"
    ).fetchall()
    assert row[0] == (1001, "ada@example.com", 77, "+447700900123", 2, 1)
    assert row[1][0] == 1006 and row[1][5] == 7


def test_consent_keyword_phone_in_e164_needs_no_region(conn, landing):
    event = {
        "event_id": "c1",
        "contact_id": None,
        "phone": "+90 532 123 45 67",
        "country_code": None,
        "event_type": "opt_out",
        "source": "keyword",
        "occurred_at": "2026-03-02T18:00:00+00:00",
        "consent_text_version": None,
        "keyword": "STOP",
    }
    write(landing / "crm/consent/2026-03-02/c.jsonl", json.dumps(event) + "\n")
    loader.load(conn, CRM_CONSENT, landing, date(2026, 3, 2), date(2026, 3, 2))
    assert conn.execute(
        "SELECT phone_e164, phone_region, phone_type FROM raw.crm_consent"
    ).fetchall() == [("+905321234567", "TR", "mobile")]
