"""The invoice generator's pure parts: amounts a strict loader refuses, states and balances."""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import pytest

from demo import mess
from demo.invoices import OPEN, PAID, PARTIAL, VOID, Invoices, _plan_insertions


@pytest.mark.parametrize(
    "value, u, shown",
    [
        ("1234.50", 0.2, "1,234.50"),
        ("1234.50", 0.8, "1.234,50"),
        ("234.50", 0.2, "234,50"),  # no thousands to separate: the comma decimal
        ("1234567.05", 0.2, "1,234,567.05"),
        ("-1234.50", 0.9, "-1.234,50"),
    ],
)
def test_amounts_with_separators_never_cast_as_a_decimal(value, u, shown):
    assert mess.with_separators(value, u) == shown
    assert duckdb.execute("SELECT TRY_CAST(? AS DECIMAL(18,2))", [shown]).fetchone()[0] is None


def _invoices(**days) -> Invoices:
    n = 4
    none = np.full(n, -1)
    fields = dict(partial_day=none, paid_day=none, void_day=none) | days
    return Invoices(
        number=[f"INV-{i}" for i in range(n)],
        person=np.arange(n),
        store=np.zeros(n, int),
        currency=np.zeros(n, int),
        unknown_currency=none,
        amount=np.full(n, 10_000),
        issue_day=np.zeros(n, int),
        due_day=np.full(n, 30),
        partial_cents=np.full(n, 2_500),
        phone_idx=none,
        loyalty_idx=none,
        **fields,
    )


def test_the_final_state_and_balance_follow_the_last_event():
    inv = _invoices(
        partial_day=np.array([-1, 5, 5, -1]),
        paid_day=np.array([-1, -1, 9, -1]),
        void_day=np.array([-1, -1, -1, 3]),
    )
    assert list(inv.status) == [OPEN, PARTIAL, PAID, VOID]
    assert list(inv.balance) == [10_000, 7_500, 0, 0]


def test_each_planted_line_kind_appears_at_least_once_and_never_twice_on_a_row():
    rng = np.random.default_rng(date(2026, 11, 21).toordinal())
    plan = _plan_insertions(rng, 50, 0.001)
    assert set(plan.kinds) == {
        mess.MALFORMED,
        mess.WRONG_TYPE,
        mess.DUPLICATE,
        mess.MISSING_REQUIRED,
    }
    assert len(set(plan.rows)) == len(plan.rows) and list(plan.rows) == sorted(plan.rows)
    assert len(_plan_insertions(rng, 50, 0.0).rows) == 0
