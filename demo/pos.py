"""The POS export: Square-style item rows per store per local day, and the stores file.

A sale is one row per line item; a refund is a later, separate row with the
original transaction id and negative amounts, delivered on the refund day.
Who bought is whatever the till captured: a phone typed in any format, a
loyalty card, or nothing.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import duck, mess, phones
from .catalog import Catalog
from .columns import BASE62, pick, tokens, vocab
from .orders import Orders
from .params import DAY_SECONDS, Params
from .people import People
from .reference import CATEGORIES, CURRENCIES, DISCOUNT_CODES, PAYMENT_METHODS, TIME_ZONES
from .seasonality import STORE
from .stores import Stores, stores_csv_rows
from .writers import Landing, OutFile, group_bounds, row_chunks

STORES_HEADER = ["Location ID", "Location Name", "Country", "Time Zone", "Currency"]
# fmt: off
HEADER = [
    "Date", "Time", "Time Zone", "Transaction ID", "Location ID", "Event Type", "Item", "SKU",
    "Category", "Qty", "Unit Price", "Gross Sales", "Discounts", "Discount Code", "Net Sales",
    "Currency", "Payment Method", "Customer Phone", "Loyalty ID",
]
# fmt: on
CHUNK_ROWS = 400_000
ANON, BY_PHONE, BY_LOYALTY = 0, 1, 2

CORRUPT = mess.CsvCorruptor(
    HEADER,
    [("Qty", mess.qty_in_words), ("Unit Price", mess.decimal_comma), ("Date", mess.day_first_date)],
)

_SQL = """
SELECT csv_date(date) || ',' || clock(clock) || ',' || tz || ',' || txn || ',' || loc || ','
    || event || ',' || csvq(item) || ',' || csvq(sku) || ',' || category || ','
    || qty::VARCHAR || ',' || money(price) || ',' || money(gross) || ',' || money(disc) || ','
    || coalesce(code, '') || ',' || money(gross + disc) || ',' || currency || ',' || method || ','
    || csvq(coalesce(junk, phone)) || ',' || coalesce(loyalty, '') || chr(10)
FROM t ORDER BY rn
"""


def identify(rng, people: People, orders: Orders, txn: np.ndarray) -> np.ndarray:
    """What the till captured per transaction: about half a phone, a fifth a card, else nothing."""
    person = orders.person[txn]
    known = person >= 0
    card = known & people.has_loyalty[np.maximum(person, 0)]
    u = rng.random(len(txn))
    ident = np.where(
        card,
        np.where(u < 0.45, BY_LOYALTY, np.where(u < 0.80, BY_PHONE, ANON)),
        np.where(u < 0.62, BY_PHONE, ANON),
    )
    return np.where(known, ident, ANON).astype(np.int8)


def write_pos(
    params: Params,
    con,
    landing: Landing,
    people: People,
    catalog: Catalog,
    stores: Stores,
    orders: Orders,
) -> None:
    landing.write_reference("pos_stores", "pos/stores.csv", STORES_HEADER, stores_csv_rows(stores))
    rng = params.rng("pos")
    txn = np.flatnonzero(orders.channel == STORE)
    n_txn = len(txn)
    txn_of_order = np.full(orders.n, -1, np.int64)
    txn_of_order[txn] = np.arange(n_txn)
    txn_ids = tokens(rng, n_txn, 22, BASE62)
    ident = identify(rng, people, orders, txn)
    person = np.maximum(orders.person[txn], 0)
    fmt = phones.pick_format(rng, people.country[person])
    phone_idx = np.where(ident == BY_PHONE, person.astype(np.int64) * phones.SLOTS + fmt, -1)
    loyalty_idx = np.where(ident == BY_LOYALTY, person, -1)
    # A phone is typed once per sale, so junk is too.
    junk_txn = mess.chosen(rng, n_txn, params.mess_rate)
    junk = np.where(junk_txn, rng.integers(0, len(phones.JUNK_PHONES), n_txn), -1)

    # Rows: every line of every store sale, then the refunded lines again.
    sale_line = np.flatnonzero(orders.channel[orders.line_order] == STORE)
    refund_line = sale_line[orders.refund_qty[sale_line] > 0]
    line = np.concatenate([sale_line, refund_line])
    is_refund = np.concatenate([np.zeros(len(sale_line), bool), np.ones(len(refund_line), bool)])
    order = orders.line_order[line]
    day = np.where(is_refund, orders.refund_day[order], orders.day[order])
    clock = np.where(is_refund, orders.refund_clock[order], orders.clock[order])
    store = orders.store[order].astype(np.int64)
    file_key = day.astype(np.int64) * max(stores.n, 1) + store
    sort = np.argsort(file_key * DAY_SECONDS + clock, kind="stable")
    line, is_refund, order, day, clock, store, file_key = (
        a[sort] for a in (line, is_refund, order, day, clock, store, file_key)
    )
    t = txn_of_order[order]
    row_mess = mess.plan_rows(rng, params.mess_rate, day, params.days, phones=False)
    landing.count_row_mess("pos_transactions", row_mess)
    landing.count("pos_transactions", "invalid_phone", np.count_nonzero(junk_txn[t]))
    late = _late_delays(rng, params, stores)

    qty = np.where(is_refund, -orders.refund_qty[line], orders.qty[line]).astype(np.int64)
    price = orders.price[line]
    disc = np.where(is_refund, 0, -orders.line_discount[line])
    codes = [c[0] for c in DISCOUNT_CODES]
    for r0, r1 in row_chunks(day, params.days, CHUNK_ROWS):
        s = slice(r0, r1)
        o, product = order[s], orders.product[line[s]]
        table = pa.table(
            {
                "rn": np.arange(r1 - r0, dtype=np.int32),
                "date": params.start_epoch_day + day[s] + row_mess.future_days[s],
                "clock": clock[s],
                "tz": vocab(stores.tz[store[s]], TIME_ZONES),
                "txn": pick(txn_ids, t[s]),
                "loc": vocab(store[s], stores.location_id),
                "event": vocab(is_refund[s], ("Payment", "Refund")),
                "item": vocab(product, catalog.title),
                "sku": vocab(product, catalog.sku),
                "category": vocab(catalog.category[product], CATEGORIES),
                "qty": qty[s],
                "price": price[s],
                "gross": qty[s] * price[s],
                "disc": disc[s],
                "code": vocab(np.where(is_refund[s], -1, orders.code[o]), codes),
                "currency": vocab(orders.currency[o], CURRENCIES),
                "method": vocab(orders.pay_method[o], PAYMENT_METHODS),
                "phone": pick(people.phone_typed, phone_idx[t[s]]),
                "junk": vocab(junk[t[s]], phones.JUNK_PHONES),
                "loyalty": pick(people.loyalty_id, loyalty_idx[t[s]]),
            }
        )
        lines = duck.query_lines(con, _SQL, t=table)
        files = []
        for a, b in zip(*group_bounds(file_key[s]), strict=True):
            d, st = int(day[r0 + a]), int(store[r0 + a])
            # A late file keeps the name of its own day but lands in a later day's folder.
            folder = params.day_iso(d + late[d, st])
            name = f"transactions-{stores.location_id[st]}-{params.day_iso(d)}.csv"
            files.append(OutFile(f"pos/transactions/{folder}/{name}", int(a), int(b)))
            if late[d, st]:
                landing.count("pos_transactions", "late_file", 1)
                landing.count("pos_transactions", "late_file_rows", b - a)
        landing.write_chunk(
            "pos_transactions",
            HEADER,
            lines,
            files,
            r0,
            row_mess.inserts,
            CORRUPT,
            future=row_mess.future_days > 0,
            future_column="Date",
        )


def _late_delays(rng, params: Params, stores: Stores) -> np.ndarray:
    """Days each (day, store) file arrives late; a file that would land after the end is on time."""
    shape = (params.days, max(stores.n, 1))
    late = mess.chosen(rng, shape[0] * shape[1], params.late_rate).reshape(shape)
    delay = rng.integers(1, 4, shape) * late
    delay[np.arange(params.days)[:, None] + delay >= params.days] = 0
    return delay.astype(np.int32)
