"""Customer invoices end to end: generated A/R exports, ingest with rejects, the dbt marts.

The generator records every invoice's final state (``invoices.parquet``) and every bad
line it planted (``mess.jsonl``); the warehouse must say the same: the rejects are
exactly the planted lines with file, line and reason, ``fct_invoices`` holds every
invoice in its final state, and ``dim_customer_balances`` the open balance per customer.
"""

from __future__ import annotations

import json
import os
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

import duckdb
import pandas as pd
import pytest

from demo.reference import CURRENCIES, FX_PER_USD

END = date(2026, 11, 21)
DAYS = 150
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
CENT = Decimal("0.01")


@pytest.fixture(scope="module")
def world(built, generated):
    params = {"customers": 3000, "days": DAYS, "seed": 23, "end": END, "mess_rate": 0.01,
              "late_rate": 0.0}  # fmt: skip
    base = built(END, **params)  # loaded and modelled as of END (tests/integration/conftest.py)
    summary = generated(**params).summary
    warehouse = base / "warehouse.duckdb"
    conn = duckdb.connect(str(warehouse), read_only=True)
    yield {
        "base": base,
        "conn": conn,
        "summary": summary,
        "truth": pd.read_parquet(base / "truth/invoices.parquet"),
        "mess": [
            json.loads(line)
            for line in (base / "truth/mess.jsonl").read_text().splitlines()
            if json.loads(line)["entity"] == "pos_invoices"
        ],
        "mess_summary": json.loads((base / "truth/mess_summary.json").read_text()),
    }
    conn.close()


def test_every_invoice_line_is_loaded_or_rejected_and_the_rejects_are_the_planted_lines(world):
    conn, landing = world["conn"], world["base"] / "landing"
    loaded = conn.execute("SELECT count(*) FROM raw.pos_invoices").fetchone()[0]
    rejects = conn.execute(
        "SELECT source_file, line, error_type, column_name, reason FROM ingest.rejects "
        "WHERE entity = 'pos_invoices'"
    ).fetchall()
    assert loaded + len(rejects) == world["summary"].rows["pos_invoices"]
    got = {(os.path.relpath(f, landing), line): (kind, col) for f, line, kind, col, _ in rejects}
    planted = {(m["file"], m["line"]): (m["kind"], m["column"]) for m in world["mess"]}
    assert got == planted
    kinds = {kind for kind, _ in planted.values()}
    assert {"malformed", "wrong_type", "missing_required"} <= kinds
    # A row without a due date is quarantined naming the column, with a reason.
    assert {col for kind, col in planted.values() if kind == "missing_required"} == {"Due Date"}
    assert all(reason and reason.strip() for *_, reason in rejects)


def _expected_customers(conn, truth: pd.DataFrame) -> pd.Series:
    """The customer each invoice should resolve to: its card first, else its phone."""
    lookup = dict(
        conn.execute(
            "SELECT identifier, customer_id FROM intermediate.int_identity__identifiers "
            "WHERE customer_id IS NOT NULL"
        ).fetchall()
    )

    def of(row) -> str | None:
        if isinstance(row.loyalty_id, str) and f"loyalty:{row.loyalty_id}" in lookup:
            return lookup[f"loyalty:{row.loyalty_id}"]
        if row.phone_on_row:
            return lookup.get(f"phone:{row.phone_e164}")
        return None

    return truth.apply(of, axis=1)


def test_fct_invoices_is_the_generators_truth(world):
    conn, truth = world["conn"], world["truth"].set_index("invoice_id")
    # DECIMALs as text: a DataFrame would hold them as floats
    fct = (
        conn.execute(
            "SELECT * REPLACE (amount::VARCHAR AS amount, open_amount::VARCHAR AS open_amount) "
            "FROM marts.fct_invoices"
        )
        .df()
        .set_index("invoice_id")
    )
    assert len(truth) > 100
    assert sorted(fct.index) == sorted(truth.index)
    fct = fct.loc[truth.index]
    assert list(fct.status) == [s.replace(" ", "_") for s in truth.status]
    assert set(fct.status) == {"open", "partially_paid", "paid", "void"}
    assert list(fct.is_open) == list(truth.is_open)
    assert list(fct.amount.map(Decimal)) == [Decimal(c) / 100 for c in truth.amount_cents]
    assert list(fct.open_amount.map(Decimal)) == [Decimal(c) / 100 for c in truth.balance_cents]
    assert list(fct.currency) == list(truth.currency)
    assert list(fct.is_known_currency) == list(truth.currency_is_known)
    assert (~truth.currency_is_known).sum() >= 1  # planted: a currency nobody's code
    assert list(fct.due_on.dt.date) == list(truth.due_on)
    assert list(fct.issued_on.dt.date) == list(truth.issued_on)
    assert list(fct.days_past_due) == list(truth.days_past_due)
    # Paid dates: the real one, except where the export typed one before the issue date.
    slipped = fct.has_paid_date_before_issue
    assert slipped.sum() == world["mess_summary"]["pos_invoices"]["paid_before_issue"] >= 1
    assert fct.paid_on[slipped].isna().all() and (fct.status[slipped] == "paid").all()
    kept = ~slipped
    assert list(fct.paid_on[kept].map(lambda d: None if pd.isna(d) else d.date())) == list(
        truth.paid_on[kept].map(lambda d: None if pd.isna(d) else d)
    )


def test_invoices_resolve_to_the_customer_of_their_card_or_phone(world):
    conn, truth = world["conn"], world["truth"]
    expected = _expected_customers(conn, truth)
    fct = dict(conn.execute("SELECT invoice_id, customer_id FROM marts.fct_invoices").fetchall())
    got = truth.invoice_id.map(fct)
    assert list(got.where(got.notna(), None)) == list(expected.where(expected.notna(), None))
    # Most account holders are known elsewhere (they shop at the till or online).
    assert expected.notna().mean() > 0.7


def _usd(cents: int, currency: str) -> Decimal:
    units = Decimal(str(FX_PER_USD[CURRENCIES.index(currency)]))
    rate = (Decimal(1) / units).quantize(Decimal("1e-12"), ROUND_HALF_UP)
    return (Decimal(cents) / 100 * rate).quantize(CENT, ROUND_HALF_UP)


def test_open_balance_per_customer_matches_the_truth(world):
    conn, truth = world["conn"], world["truth"]
    truth = truth.assign(customer_id=_expected_customers(conn, truth))
    owed = truth[truth.is_open & truth.customer_id.notna()]
    expected: dict[str, dict] = {}
    for row in owed.itertuples():
        e = expected.setdefault(row.customer_id, {"open": 0, "unconverted": 0, "usd": Decimal(0)})
        e["open"] += 1
        if row.currency_is_known:
            e["usd"] += _usd(row.balance_cents, row.currency)
        else:
            e["unconverted"] += 1
    dim = conn.execute(
        "SELECT customer_id, open_invoices, unconverted_open_invoices, open_amount, overdue_amount, "
        "oldest_due_on, next_due_on FROM marts.dim_customer_balances"
    ).fetchall()
    assert len(expected) > 10
    assert {r[0] for r in dim} == set(expected)
    for customer_id, n_open, unconverted, amount, overdue, oldest, next_due in dim:
        e = expected[customer_id]
        assert (n_open, unconverted) == (e["open"], e["unconverted"]), customer_id
        assert abs(amount - e["usd"]) <= CENT * n_open, customer_id  # within cents
        assert Decimal(0) <= overdue <= amount
        assert oldest <= (next_due or oldest)
    assert sum(r[4] > 0 for r in dim) > 0  # some customers are overdue: what reminders are for


def test_every_invoice_customer_is_a_known_customer(world):
    # The relationships test dbt cannot hold (it would run in builds without these marts).
    conn = world["conn"]
    for mart in ("fct_invoices", "dim_customer_balances"):
        orphans = conn.execute(
            f"SELECT count(*) FROM marts.{mart} AS m WHERE m.customer_id IS NOT NULL "
            "AND m.customer_id NOT IN (SELECT customer_id FROM marts.dim_customers)"
        ).fetchone()[0]
        assert orphans == 0, mart
