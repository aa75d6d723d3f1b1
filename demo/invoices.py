"""The POS/accounting A/R export: customer invoices on account, one CSV per delivery day.

A few buyers (trade customers, store credit) buy on account at their home store.
Each day's ``pos/invoices/<day>/invoices-<day>.csv`` re-delivers every invoice
issued or changed that day: issued (open), partially paid, paid or voided; the
newest delivery of an invoice is its state. Phones are typed at the till as in
the POS export, and some rows carry only the loyalty card.

Mess at the mess rate (at least one of each kind when the rate is above zero):
inserted copies a loader must reject (malformed lines, an amount with thousands
separators or a comma decimal, a day-first issue or due date, the due date left
empty) and exact duplicates; in place, on rows the truth keeps: a currency typed
as nobody's code (``US$``) and a paid date typed before the issue date. The truth
(``invoices.parquet``) holds every invoice's final state as the generator meant it.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import duck, mess, phones
from .columns import pick
from .params import Params
from .people import People
from .reference import CURRENCIES, FX_PER_USD
from .stores import Stores
from .writers import Landing, daily_files, row_chunks

ENTITY = "pos_invoices"
# fmt: off
HEADER = [
    "Invoice No", "Customer Phone", "Loyalty ID", "Location ID", "Amount", "Balance",
    "Currency", "Issue Date", "Due Date", "Paid Date", "Status",
]
# fmt: on
STATUSES = ("open", "partially paid", "paid", "void")
OPEN, PARTIAL, PAID, VOID = range(4)
ACCOUNT_SHARE = 0.04  # buyers with a home store who buy on account
INVOICES_PER_ACCOUNT = 2.0  # mean beyond the first
TERMS_DAYS = np.array([14, 30, 60])
TERMS_P = (0.3, 0.5, 0.2)
VOID_P, PAID_P, PARTIAL_P = 0.04, 0.70, 0.12  # the rest stay open until paid or the end
# Currencies as a clerk types them when the code field is free text: no ISO code.
UNKNOWN_CURRENCIES = ("US$", "EURO", "STG", "TL")
CHUNK_ROWS = 400_000

_SQL = """
SELECT inv || ',' || csvq(phone) || ',' || coalesce(loyalty, '') || ',' || loc || ','
    || money(amount) || ',' || money(balance) || ',' || currency || ','
    || csv_date(issued) || ',' || csv_date(due) || ',' || coalesce(csv_date(paid), '') || ','
    || status || chr(10)
FROM t ORDER BY rn
"""


class _Corruptor(mess.CsvCorruptor):
    """CsvCorruptor, plus a copy with the due date left empty (the loader must quarantine it)."""

    def __call__(self, line: str, kind: int, u: np.ndarray) -> tuple[str, str | None]:
        if kind != mess.MISSING_REQUIRED:
            return super().__call__(line, kind, u)
        fields = next(csv.reader([line]))
        fields[self.header.index("Due Date")] = ""
        buf = io.StringIO()
        csv.writer(buf, lineterminator="").writerow(fields)
        return buf.getvalue(), "Due Date"


CORRUPT = _Corruptor(
    HEADER,
    [
        ("Amount", mess.with_separators),
        ("Issue Date", mess.day_first_date),
        ("Due Date", mess.day_first_date),
    ],
)


@dataclass
class Invoices:
    """One entry per invoice (days are generator day numbers; -1: did not happen by the end)."""

    number: list[str]
    person: np.ndarray
    store: np.ndarray
    currency: np.ndarray  # index into CURRENCIES
    unknown_currency: np.ndarray  # index into UNKNOWN_CURRENCIES typed instead, -1 for none
    amount: np.ndarray  # cents
    issue_day: np.ndarray
    due_day: np.ndarray
    partial_day: np.ndarray
    partial_cents: np.ndarray
    paid_day: np.ndarray
    void_day: np.ndarray
    phone_idx: np.ndarray  # into people.phone_typed, -1 when the row carries no phone
    loyalty_idx: np.ndarray  # into people.loyalty_id, -1 without a card on the row

    @property
    def n(self) -> int:
        return len(self.person)

    @property
    def status(self) -> np.ndarray:
        """The state after the last delivery."""
        return np.select(
            [self.void_day >= 0, self.paid_day >= 0, self.partial_day >= 0],
            [VOID, PAID, PARTIAL],
            OPEN,
        ).astype(np.int8)

    @property
    def balance(self) -> np.ndarray:
        """What is still owed after the last delivery, in cents."""
        status = self.status
        return np.where(
            status == OPEN,
            self.amount,
            np.where(status == PARTIAL, self.amount - self.partial_cents, 0),
        )


def make_invoices(params: Params, people: People, stores: Stores) -> Invoices:
    rng = params.rng("pos-invoices")
    days = params.days
    holder = people.buyer & (people.home_store >= 0) & (rng.random(people.n) < ACCOUNT_SHARE)
    count = np.where(holder, 1 + rng.poisson(INVOICES_PER_ACCOUNT, people.n), 0)
    person = np.repeat(np.arange(people.n), count)
    n = len(person)
    lo = np.clip(people.win_lo[person], 0, days - 1).astype(np.int64)
    hi = np.clip(people.win_hi[person], lo, days - 1).astype(np.int64)
    issue = lo + (rng.random(n) * (hi - lo + 1)).astype(np.int64)
    store = people.home_store[person].astype(np.int64)
    currency = stores.country[store].astype(np.int64)
    usd = rng.lognormal(np.log(220.0), 0.9, n)
    amount = np.maximum(np.round(usd * np.asarray(FX_PER_USD)[currency] * 100), 500).astype(
        np.int64
    )
    terms = TERMS_DAYS[rng.choice(len(TERMS_DAYS), size=n, p=TERMS_P)]
    due = issue + terms

    fate = rng.random(n)
    void = fate < VOID_P
    paid_direct = (fate >= VOID_P) & (fate < VOID_P + PAID_P)
    partial = (fate >= VOID_P + PAID_P) & (fate < VOID_P + PAID_P + PARTIAL_P)
    void_day = issue + rng.integers(1, 11, n)
    partial_day = issue + np.maximum(1, np.round(terms * rng.uniform(0.1, 0.8, n))).astype(np.int64)
    partial_cents = np.round(amount * rng.uniform(0.2, 0.8, n)).astype(np.int64)
    settles = partial & (rng.random(n) < 0.5)
    # Paid on time mostly, some weeks late: the overdue accounts the reminders are for.
    paid_day = np.where(
        paid_direct,
        issue + np.maximum(1, np.round(terms * rng.uniform(0.2, 1.6, n))).astype(np.int64),
        partial_day + rng.integers(1, 45, n),
    )
    last = days - 1
    void_day = np.where(void & (void_day <= last), void_day, -1)
    partial_day = np.where(partial & (partial_day <= last), partial_day, -1)
    paid_day = np.where(
        (paid_direct | (settles & (partial_day >= 0))) & (paid_day <= last), paid_day, -1
    )

    # What the row says about who: a phone typed at the till, the card, or both.
    card = people.has_loyalty[person]
    u = rng.random(n)
    fmt = phones.pick_format(rng, people.country[person])
    phone_idx = np.where(card & (u < 0.35), -1, person.astype(np.int64) * phones.SLOTS + fmt)
    loyalty_idx = np.where(card & (u < 0.70), person, -1)

    unknown = np.full(n, -1, np.int64)
    if params.mess_rate > 0 and n:
        k = min(n, max(1, int(rng.binomial(n, params.mess_rate))))
        unknown[rng.choice(n, size=k, replace=False)] = rng.integers(0, len(UNKNOWN_CURRENCIES), k)

    order = np.lexsort((person, issue))
    number = [f"INV-{100001 + i}" for i in range(n)]
    return Invoices(
        number=number,
        person=person[order],
        store=store[order],
        currency=currency[order],
        unknown_currency=unknown[order],
        amount=amount[order],
        issue_day=issue[order],
        due_day=due[order],
        partial_day=partial_day[order],
        partial_cents=partial_cents[order],
        paid_day=paid_day[order],
        void_day=void_day[order],
        phone_idx=phone_idx[order],
        loyalty_idx=loyalty_idx[order],
    )


def _plan_insertions(rng, n: int, rate: float) -> mess.Insertions:
    """Each kind of inserted line at the rate, at least once when the rate is above zero."""
    if rate <= 0 or n == 0:
        return mess.Insertions.none()
    kinds = (mess.MALFORMED, mess.WRONG_TYPE, mess.DUPLICATE, mess.MISSING_REQUIRED)
    counts = [max(1, int(rng.binomial(n, rate))) for _ in kinds]
    total = min(sum(counts), n)
    rows = rng.choice(n, size=total, replace=False)
    kind = np.repeat(kinds, counts)[:total]
    order = np.argsort(rows)
    return mess.Insertions(
        rows[order].astype(np.int64), kind[order].astype(np.int8), rng.random((total, 2))
    )


def write_invoices(
    params: Params, con, landing: Landing, people: People, stores: Stores
) -> Invoices:
    inv = make_invoices(params, people, stores)
    rng = params.rng("pos-invoices-rows")
    n = inv.n
    # One row per (invoice, day it was issued or changed).
    ids = np.arange(n)
    has = [np.ones(n, bool), inv.partial_day >= 0, inv.paid_day >= 0, inv.void_day >= 0]
    when = [inv.issue_day, inv.partial_day, inv.paid_day, inv.void_day]
    k = np.concatenate([ids[h] for h in has])
    state = np.concatenate([np.full(int(h.sum()), s, np.int8) for s, h in enumerate(has)])
    day = np.concatenate([w[h] for w, h in zip(when, has, strict=True)])
    order = np.lexsort((state, k, day))
    k, state, day = k[order], state[order], day[order]
    balance = np.where(
        state == OPEN,
        inv.amount[k],
        np.where(state == PARTIAL, inv.amount[k] - inv.partial_cents[k], 0),
    )

    # A paid date typed before the issue date (a slip of the year or month): the truth
    # keeps the real day, the export shows the slip.
    paid_row = np.flatnonzero(state == PAID)
    slipped = np.zeros(len(k), bool)
    if params.mess_rate > 0 and len(paid_row):
        m = min(len(paid_row), max(1, int(rng.binomial(len(paid_row), params.mess_rate))))
        slipped[rng.choice(paid_row, size=m, replace=False)] = True
    paid_shown = np.where(slipped, inv.issue_day[k] - rng.integers(1, 31, len(k)), day)
    landing.count(ENTITY, "paid_before_issue", int(slipped.sum()))
    landing.count(ENTITY, "unknown_currency", int(np.count_nonzero(inv.unknown_currency >= 0)))
    inserts = _plan_insertions(rng, len(k), params.mess_rate)

    typed_currency = [*CURRENCIES, *UNKNOWN_CURRENCIES]
    currency = np.where(
        inv.unknown_currency >= 0, len(CURRENCIES) + inv.unknown_currency, inv.currency
    )
    epoch_day = params.start_epoch_day
    for r0, r1 in row_chunks(day, params.days, CHUNK_ROWS):
        s = slice(r0, r1)
        q = k[s]
        table = pa.table(
            {
                "rn": np.arange(r1 - r0, dtype=np.int32),
                "inv": pa.array(inv.number).take(pa.array(q)),
                "phone": pick(people.phone_typed, inv.phone_idx[q]),
                "loyalty": pick(people.loyalty_id, inv.loyalty_idx[q]),
                "loc": pa.array(stores.location_id).take(pa.array(inv.store[q])),
                "amount": inv.amount[q],
                "balance": balance[s],
                "currency": pa.array(typed_currency).take(pa.array(currency[q])),
                "issued": epoch_day + inv.issue_day[q],
                "due": epoch_day + inv.due_day[q],
                "paid": pa.array(epoch_day + paid_shown[s], mask=state[s] != PAID),
                "status": pa.array(STATUSES).take(pa.array(state[s].astype(np.int64))),
            }
        )
        lines = duck.query_lines(con, _SQL, t=table)
        files = daily_files("pos/invoices", "csv", params, day[s])
        landing.write_chunk(ENTITY, HEADER, lines, files, r0, inserts, CORRUPT)
    return inv


def invoice_truth(params: Params, people: People, stores: Stores, inv: Invoices) -> pa.Table:
    """One row per invoice: its final state as meant, open balance and days past due at the end."""
    last = params.days - 1
    status = inv.status
    is_open = (status == OPEN) | (status == PARTIAL)
    known = inv.unknown_currency < 0
    currency = np.where(known, inv.currency, len(CURRENCIES) + inv.unknown_currency)
    settled = np.where(status == PAID, inv.paid_day, -1)
    day0 = params.start_epoch_day
    as_date = lambda d: pa.array(day0 + d, type=pa.int32(), mask=d < 0).cast(pa.date32())  # noqa: E731
    return pa.table(
        {
            "invoice_id": pa.array(inv.number),
            "person_id": inv.person,
            "phone_e164": people.phone_e164.take(pa.array(inv.person)),
            "phone_on_row": inv.phone_idx >= 0,
            "loyalty_id": pick(people.loyalty_id, inv.loyalty_idx),
            "location_id": pa.array(stores.location_id).take(pa.array(inv.store)),
            "currency": pa.array([*CURRENCIES, *UNKNOWN_CURRENCIES]).take(pa.array(currency)),
            "currency_is_known": known,
            "amount_cents": inv.amount,
            "balance_cents": inv.balance,
            "issued_on": as_date(inv.issue_day),
            "due_on": as_date(inv.due_day),
            "paid_on": as_date(settled),
            "status": pa.array(STATUSES).take(pa.array(status.astype(np.int64))),
            "is_open": is_open,
            "days_past_due": np.where(is_open, np.maximum(last - inv.due_day, 0), 0),
        }
    )


def balance_truth(params: Params, inv: Invoices) -> pa.Table:
    """Per person with open invoices: count, open and overdue balance in USD (known currencies).

    Converted per invoice at the demo rate and rounded half-up to the cent, then summed,
    as the marts do.
    """
    status = inv.status
    is_open = (status == OPEN) | (status == PARTIAL)
    known = inv.unknown_currency < 0
    rate = np.round(1.0 / np.asarray(FX_PER_USD), 12)[inv.currency]
    usd_cents = np.floor(inv.balance * rate + 0.5)
    who = np.flatnonzero(is_open)
    people_open = np.unique(inv.person[who])
    pos = np.searchsorted(people_open, inv.person[who])
    priced = known[who]
    open_usd = np.bincount(
        pos, weights=np.where(priced, usd_cents[who], 0), minlength=len(people_open)
    )
    return pa.table(
        {
            "person_id": people_open,
            "open_invoices": np.bincount(pos, minlength=len(people_open)),
            "unconverted_open_invoices": np.bincount(
                pos, weights=~priced, minlength=len(people_open)
            ).astype(np.int64),
            "open_amount_usd": np.round(open_usd / 100.0, 2),
            "oldest_due_on": pa.array(
                params.start_epoch_day + _group_min(pos, inv.due_day[who], len(people_open)),
                type=pa.int32(),
            ).cast(pa.date32()),
        }
    )


def _group_min(group: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
    out = np.full(n, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(out, group, values)
    return out
