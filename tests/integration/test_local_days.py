"""Purchase days, the as-of day and money rounding on a hand-made warehouse.

Hand-written landing files (Square item rows with store-local Date, Time and Time Zone;
Shopify orders with offsets) go through the real loader and a real ``dbt build``, once
as of 2026-03-10 and once as of 2026-03-09, with the business in New York and the web
shop on Los Angeles time. Every customer below is one case whose answer is known:

* LA: a sale at 23:30 local on 03-09 in Los Angeles (06:30 UTC on 03-10) is 03-09's;
* BER, IST: sales at 00:30 local on 03-10 in Berlin and Istanbul (23:30 and 21:30 UTC
  on 03-09) are 03-10's;
* NY: a sale at 20:30 on 03-10 in New York (00:30 UTC on 03-11), the store's last
  evening, counts as of 03-10, bought 0 days before;
* WEB: an online order at 23:30 on 03-09 shop time, written with a UTC offset, is
  03-09's; its abandoned checkout at 23:00 New York time on 03-10 is in as of 03-10;
* AOV: two orders of 36.92 and 36.93: 73.85 / 2 = 36.925, an average order of 36.93.
"""

import csv
import json
import shutil
from pathlib import Path

import duckdb
import pytest

from dagster_project.ingest import loader
from dagster_project.ingest.specs import DAILY_SPECS, REFERENCE_SPECS
from dagster_project.transform import run_dbt
from dagster_project.warehouse import connection

BUSINESS_ZONE = "America/New_York"
SHOP_ZONE = "America/Los_Angeles"

STORES = [
    ("ny", "New York", "US", "America/New_York", "USD"),
    ("la", "Los Angeles", "US", "America/Los_Angeles", "USD"),
    ("ber", "Berlin", "DE", "Europe/Berlin", "EUR"),
    ("ist", "Istanbul", "TR", "Europe/Istanbul", "TRY"),
]
ZONE = {s[0]: s[3] for s in STORES}
CURRENCY = {s[0]: s[4] for s in STORES}

# (delivery day, store, local date, local time, transaction, loyalty card, amount)
SALES = [
    ("2026-03-10", "la", "2026-03-09", "23:30:00", "t-la", "LA", "20.00"),
    ("2026-03-10", "ber", "2026-03-10", "00:30:00", "t-ber", "BER", "20.00"),
    ("2026-03-10", "ist", "2026-03-10", "00:30:00", "t-ist", "IST", "700.00"),
    ("2026-03-11", "ny", "2026-03-10", "20:30:00", "t-ny", "NY", "20.00"),
    ("2026-03-02", "ny", "2026-03-01", "12:00:00", "t-aov-1", "AOV", "36.92"),
    ("2026-03-03", "ny", "2026-03-02", "12:00:00", "t-aov-2", "AOV", "36.93"),
]

POS_HEADER = [
    "Date", "Time", "Time Zone", "Transaction ID", "Location ID", "Event Type", "Item", "SKU",
    "Category", "Qty", "Unit Price", "Gross Sales", "Discounts", "Discount Code", "Net Sales",
    "Currency", "Payment Method", "Customer Phone", "Loyalty ID",
]  # fmt: skip

WEB_CUSTOMER = {"id": 7001, "email": "web@example.com", "first_name": "Wen", "last_name": "B"}


def _line(sku="mug", price="20.00"):
    return {"sku": sku, "product_id": 1, "title": "Mug", "quantity": 1, "price": price}


def _write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def _write_jsonl(path: Path, objects: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o) + "\n" for o in objects))


def write_landing(root: Path) -> None:
    _write_csv(
        root / "pos/stores.csv",
        ["Location ID", "Location Name", "Country", "Time Zone", "Currency"],
        [list(s) for s in STORES],
    )
    _write_csv(
        root / "shop/products.csv",
        ["Handle", "Title", "Vendor", "Product Type", "Variant SKU", "Variant Price", "Status"],
        [["mug", "Mug", "Acme", "Kitchen", "mug", "20.00", "active"]],
    )
    for day, store, local_date, local_time, txn, card, amount in SALES:
        _write_csv(
            root / f"pos/transactions/{day}/{store}-{txn}.csv",
            POS_HEADER,
            [[
                local_date, local_time, ZONE[store], txn, store, "Payment", "Mug", "mug",
                "Kitchen", "1", amount, amount, "0.00", "", amount, CURRENCY[store], "Card", "",
                card,
            ]],
        )  # fmt: skip
    order = {
        "id": 9001, "name": "#9001", "email": WEB_CUSTOMER["email"], "currency": "USD",
        "total_price": "20.00", "subtotal_price": "20.00", "total_discounts": "0.00",
        "financial_status": "paid", "customer": WEB_CUSTOMER,
        "shipping_address": {"country_code": "US"}, "line_items": [{"id": 1, **_line()}],
        "refunds": [], "discount_codes": [],
    }  # fmt: skip
    _write_jsonl(
        root / "shop/orders/2026-03-10/orders.jsonl",
        [
            # 23:30 on 03-09 in the shop's zone, written the way an export in UTC would
            {**order, "created_at": "2026-03-10T06:30:00+00:00",
             "updated_at": "2026-03-10T06:30:00+00:00"},
        ],
    )  # fmt: skip
    _write_jsonl(
        root / "shop/checkouts/2026-03-11/checkouts.jsonl",
        [
            # 20:00 in Los Angeles = 23:00 in New York on 03-10 = 03:00 UTC on 03-11
            {"id": 8001, "token": "c8001", "email": WEB_CUSTOMER["email"], "currency": "USD",
             "created_at": "2026-03-10T20:00:00-07:00", "updated_at": "2026-03-10T20:00:00-07:00",
             "completed_at": None, "total_price": "15.00",
             "customer": {"id": WEB_CUSTOMER["id"], "email": WEB_CUSTOMER["email"]},
             "shipping_address": {"country_code": "US"},
             "line_items": [_line(sku="bowl", price="15.00")]},
        ],
    )  # fmt: skip


def _snapshot(path: Path) -> dict:
    with duckdb.connect(str(path), read_only=True) as conn:
        customer = dict(
            conn.execute(
                "SELECT replace(replace(identifier, 'loyalty:', ''), 'shop:7001', 'WEB'), "
                "customer_id FROM intermediate.int_identity__identifiers "
                "WHERE identifier LIKE 'loyalty:%' OR identifier = 'shop:7001'"
            ).fetchall()
        )
        by_id = {v: k for k, v in customer.items()}

        def per_customer(sql: str) -> dict:
            cols = None
            out = {}
            result = conn.execute(sql)
            cols = [d[0] for d in result.description]
            for row in result.fetchall():
                record = dict(zip(cols, row, strict=True))
                if record["customer_id"] in by_id:
                    out[by_id[record["customer_id"]]] = record
            return out

        return {
            "ordered_on": dict(
                conn.execute(
                    "SELECT source_order_id, ordered_on::VARCHAR FROM marts.fct_orders"
                ).fetchall()
            ),
            "lifecycle": per_customer(
                "SELECT customer_id, lifecycle_stage, orders_count, "
                "first_purchase_on::VARCHAR AS first_purchase_on, "
                "last_purchase_on::VARCHAR AS last_purchase_on, days_since_last_purchase, "
                "as_of_date::VARCHAR AS as_of_date FROM marts.dim_customer_lifecycle"
            ),
            "dim": per_customer(
                "SELECT customer_id, average_order_value, revenue_amount, "
                "as_of_date::VARCHAR AS as_of_date FROM marts.dim_customers"
            ),
            "segments": {
                (by_id.get(c), s)
                for c, s in conn.execute(
                    "SELECT customer_id, segment FROM marts.dim_customer_segments"
                ).fetchall()
            },
            "money_types": conn.execute(
                """SELECT schema_name || '.' || table_name || '.' || column_name, data_type
                   FROM duckdb_columns()
                   WHERE schema_name IN ('staging', 'intermediate', 'marts')
                     AND regexp_matches(column_name,
                         '(amount|revenue|price|sales|discounts|_local|cost_usd|'
                         || 'average_order_value|monetary|threshold|rate_to_reporting)')
                     AND column_name NOT LIKE '%share%'
                   ORDER BY 1"""
            ).fetchall(),
        }


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    base = tmp_path_factory.mktemp("local_days")
    landing = base / "landing"
    write_landing(landing)
    warehouse = base / "warehouse.duckdb"
    with connection(warehouse) as conn:
        for spec in REFERENCE_SPECS:
            loader.load(conn, spec, landing)
        for spec in DAILY_SPECS:
            result = loader.load(conn, spec, landing, *_range())
            assert result.rows_rejected == 0, (spec.entity, result.rejects_by_reason)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SMS_BUSINESS_TIME_ZONE", BUSINESS_ZONE)
        mp.setenv("SMS_SHOP_TIME_ZONE", SHOP_ZONE)
        run_dbt("build", warehouse=warehouse, work_dir=base, as_of="2026-03-10")
        on_10th = _snapshot(warehouse)
        earlier = base / "earlier.duckdb"
        shutil.copy(warehouse, earlier)
        run_dbt("build", warehouse=earlier, work_dir=base, as_of="2026-03-09")
        on_9th = _snapshot(earlier)
    return {"10": on_10th, "09": on_9th, "warehouse": warehouse}


def _range():
    from datetime import date

    return date(2026, 3, 1), date(2026, 3, 11)


def test_a_sale_late_in_the_evening_west_of_utc_counts_on_its_local_day(built):
    assert built["10"]["ordered_on"]["t-la"] == "2026-03-09"  # 06:30 UTC on 03-10
    la = built["10"]["lifecycle"]["LA"]
    assert (la["first_purchase_on"], la["days_since_last_purchase"]) == ("2026-03-09", 1)


def test_a_sale_just_after_midnight_east_of_utc_counts_on_its_local_day(built):
    assert built["10"]["ordered_on"]["t-ber"] == "2026-03-10"  # 23:30 UTC on 03-09
    assert built["10"]["ordered_on"]["t-ist"] == "2026-03-10"  # 21:30 UTC on 03-09
    for card in ("BER", "IST"):
        row = built["10"]["lifecycle"][card]
        assert (row["last_purchase_on"], row["days_since_last_purchase"]) == ("2026-03-10", 0)


def test_the_as_of_day_keeps_the_stores_last_evening(built):
    """20:30 in New York on the as-of day is 00:30 UTC the next day: still that day's."""
    assert built["10"]["ordered_on"]["t-ny"] == "2026-03-10"
    ny = built["10"]["lifecycle"]["NY"]
    assert (ny["lifecycle_stage"], ny["orders_count"], ny["days_since_last_purchase"]) == (
        "new",
        1,
        0,
    )


def test_online_orders_count_on_the_shops_day_whatever_offset_they_carry(built):
    assert built["10"]["ordered_on"]["9001"] == "2026-03-09"
    assert built["10"]["lifecycle"]["WEB"]["first_purchase_on"] == "2026-03-09"


def test_the_as_of_var_moves_the_marts_day(built):
    on_10th, on_9th = built["10"], built["09"]
    assert {r["as_of_date"] for r in on_10th["lifecycle"].values()} == {"2026-03-10"}
    assert {r["as_of_date"] for r in on_9th["dim"].values()} == {"2026-03-09"}
    # purchase days do not depend on as_of; which of them count does
    assert on_9th["ordered_on"] == on_10th["ordered_on"]
    assert on_9th["lifecycle"]["LA"]["days_since_last_purchase"] == 0
    assert on_10th["lifecycle"]["LA"]["days_since_last_purchase"] == 1
    for card in ("NY", "BER", "IST"):  # bought on 03-10: not yet customers on 03-09
        assert on_9th["lifecycle"][card]["lifecycle_stage"] == "prospect"
        assert on_10th["lifecycle"][card]["lifecycle_stage"] == "new"


def test_a_checkout_counts_until_the_end_of_the_as_of_day_in_the_business_zone(built):
    # created 23:00 New York time on 03-10 (03:00 UTC on 03-11)
    assert ("WEB", "abandoned_checkout") in built["10"]["segments"]
    assert ("WEB", "abandoned_checkout") not in built["09"]["segments"]


def test_the_freshness_row_says_which_day_was_described(built):
    with duckdb.connect(str(built["warehouse"]), read_only=True) as conn:
        row = conn.execute(
            "SELECT as_of_date::VARCHAR, as_of_ends_at::VARCHAR, business_time_zone, "
            "shop_time_zone, newest_purchase_on::VARCHAR, days_since_newest_purchase, "
            "is_stale, purchases_after_as_of FROM marts.mart_as_of"
        ).fetchall()
    assert row == [
        ("2026-03-10", "2026-03-11 04:00:00", BUSINESS_ZONE, SHOP_ZONE, "2026-03-10", 0, False, 0)
    ]


def test_an_average_order_of_half_a_cent_rounds_up(built):
    aov = built["10"]["dim"]["AOV"]
    assert (str(aov["revenue_amount"]), str(aov["average_order_value"])) == ("73.85", "36.93")


def test_money_is_decimal_in_every_layer(built):
    columns = built["10"]["money_types"]
    assert len(columns) > 40
    not_decimal = [(c, t) for c, t in columns if not t.startswith("DECIMAL")]
    assert not_decimal == []
