"""The web shop export: Shopify Admin API order objects (JSONL), products, customer accounts.

An order is exported on the UTC day it was created and again on the day it
changed (paid, voided, refunded, cancelled), so the newest ``updated_at`` wins
downstream. Money is a string, as Shopify sends it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import duck, mess, phones
from .catalog import Catalog, products_csv_rows
from .columns import pick, ranges, unique_ints, vocab
from .orders import PAID_CANCEL, PENDING_PAID, PENDING_VOID, REFUND_FULL, REFUND_PARTIAL, Orders
from .params import DAY_SECONDS, Params
from .people import EMAIL_VARIANTS, FIRST_NAMES, LAST_NAMES, People
from .reference import COUNTRIES, CURRENCIES, DISCOUNT_CODES, FIXED_CODE, SHOP_CANCEL_REASONS
from .seasonality import ONLINE
from .writers import Landing, daily_files, row_chunks

PRODUCTS_HEADER = [
    "Handle", "Title", "Vendor", "Product Type", "Variant SKU", "Variant Price", "Status",
]  # fmt: skip
CHUNK_ROWS = 120_000
STATUSES = ("paid", "pending", "refunded", "partially_refunded", "voided")
PAID_S, PENDING_S, REFUNDED_S, PARTIAL_S, VOIDED_S = range(5)
ORDER_PHONE_SHARE = 0.30  # orders with a phone typed at checkout
CUSTOMER_PHONE_SHARE = 0.55  # shop accounts that hold a phone
MESSY_EMAIL_SHARE = 0.20
CODE_TYPES = tuple(
    "fixed_amount" if i == FIXED_CODE else "percentage" for i in range(len(DISCOUNT_CODES))
)

CORRUPT = mess.JsonCorruptor(
    [
        mess.set_field("created_at", mess.time_in_words),
        mess.set_field("id", lambda value, u: "abc"),
        ("line_items[].quantity", mess.line_item_quantity_in_words),
    ]
)

_SQL = """
WITH items AS (
  SELECT o,
    list(struct_pack(id := line_id, sku := sku, product_id := product_id, title := title,
                     quantity := qty, price := money(price)) ORDER BY line_id) AS line_items,
    list(struct_pack(line_item_id := line_id, quantity := refund_qty,
                     subtotal := money(refund_cents)) ORDER BY line_id)
      FILTER (WHERE refund_qty > 0) AS refunded
  FROM li GROUP BY o)
SELECT to_json(struct_pack(
    id := v.id, name := '#' || v.name_no::VARCHAR, email := v.email,
    phone := coalesce(v.junk, v.phone),
    created_at := iso_utc(v.created), updated_at := iso_utc(v.updated),
    currency := v.currency, total_price := money(v.subtotal), subtotal_price := money(v.subtotal),
    total_discounts := money(v.disc), financial_status := v.status,
    cancelled_at := iso_utc(v.cancelled), cancel_reason := v.cancel_reason,
    discount_codes := CASE WHEN v.code IS NULL THEN [] ELSE
        [struct_pack(code := v.code, amount := money(v.disc), type := v.code_type)] END,
    customer := struct_pack(id := v.cust_id, email := v.cust_email, phone := v.cust_phone,
                            first_name := v.first_name, last_name := v.last_name),
    shipping_address := struct_pack(country_code := v.country),
    line_items := items.line_items,
    refunds := CASE WHEN v.refund_id IS NULL THEN [] ELSE
        [struct_pack(id := v.refund_id, created_at := iso_utc(v.refund_at),
                     refund_line_items := items.refunded)] END
)) || chr(10)
FROM v JOIN items USING (o) ORDER BY v.rn
"""


@dataclass
class ShopAccounts:
    customer_id: np.ndarray  # per person, -1 without a shop account
    holds_phone: np.ndarray  # per person: the account stores the phone (E.164)

    def phone_index(self, person: np.ndarray) -> np.ndarray:
        return np.where(self.holds_phone[person], person, -1)


def typed_email_index(rng, person: np.ndarray) -> np.ndarray:
    """Mostly the clean address; sometimes Capitalised, UPPER or padded with spaces."""
    messy = rng.random(len(person)) < MESSY_EMAIL_SHARE
    variant = np.where(messy, rng.integers(1, EMAIL_VARIANTS, len(person)), 0)
    return person.astype(np.int64) * EMAIL_VARIANTS + variant


def typed_phone_index(rng, people: People, person: np.ndarray, share: float) -> np.ndarray:
    fmt = phones.pick_format(rng, people.country[person])
    typed = rng.random(len(person)) < share
    return np.where(typed, person.astype(np.int64) * phones.SLOTS + fmt, -1)


def write_products(landing: Landing, catalog: Catalog) -> None:
    landing.write_reference(
        "shop_products", "shop/products.csv", PRODUCTS_HEADER, products_csv_rows(catalog)
    )


def open_accounts(
    params: Params, people: People, orders: Orders, checkout_person, checkout_utc
) -> ShopAccounts:
    """Numeric Shopify customer ids for everyone who ordered or checked out online.

    Ids ascend in order of each account's first activity, as Shopify's do.
    """
    rng = params.rng("shop-customers")
    online = orders.channel == ONLINE
    never = np.iinfo(np.int64).max
    first = np.full(people.n, never, dtype=np.int64)
    np.minimum.at(first, orders.person[online], orders.utc[online])
    np.minimum.at(first, checkout_person, checkout_utc)
    members = np.flatnonzero(first < never)
    members = members[np.argsort(first[members], kind="stable")]
    customer_id = np.full(people.n, -1, dtype=np.int64)
    customer_id[members] = np.sort(
        unique_ints(rng, len(members), 6_200_000_000_000, 6_999_999_999_999)
    )
    return ShopAccounts(customer_id, rng.random(people.n) < CUSTOMER_PHONE_SHARE)


def _final_status(orders: Orders) -> np.ndarray:
    """Status after the order's update; a partial refund that took every unit is a refund."""
    untouched = orders.refund_qty < orders.qty
    refunded_all = np.bincount(orders.line_order, weights=untouched, minlength=orders.n) == 0
    state = orders.state
    return np.select(
        [state == PENDING_PAID, state == PENDING_VOID, state == REFUND_PARTIAL],
        [PAID_S, VOIDED_S, np.where(refunded_all, REFUNDED_S, PARTIAL_S)],
        REFUNDED_S,
    )


def write_orders(
    params: Params,
    con,
    landing: Landing,
    people: People,
    catalog: Catalog,
    orders: Orders,
    accounts: ShopAccounts,
) -> None:
    rng = params.rng("shop-orders")
    online = np.flatnonzero(orders.channel == ONLINE)
    online = online[np.argsort(orders.utc[online], kind="stable")]
    rank = np.full(orders.n, -1, np.int64)
    rank[online] = np.arange(len(online))
    order_id = 5_100_000_000_000 + rank * 1000 + rng.integers(0, 1000, orders.n)
    refund_id = 880_000_000_000 + rank * 10 + rng.integers(0, 10, orders.n)
    buyer = np.maximum(orders.person, 0)
    email_idx = typed_email_index(rng, buyer)
    phone_idx = typed_phone_index(rng, people, buyer, ORDER_PHONE_SHARE)
    status_after = _final_status(orders)

    # Versions: every order's creation export, then its update export where one happened.
    updated = online[orders.update_day[online] >= 0]
    vo = np.concatenate([online, updated])
    second = np.concatenate([np.zeros(len(online), bool), np.ones(len(updated), bool)])
    day = np.where(second, orders.update_day[vo], orders.day[vo])
    clock = np.where(second, orders.update_clock[vo], orders.clock[vo])
    order = np.lexsort((orders.utc[vo], clock, day))
    vo, second, day, clock = vo[order], second[order], day[order], clock[order]
    stamp = params.start_epoch + day.astype(np.int64) * DAY_SECONDS + clock
    row_mess = mess.plan_rows(rng, params.mess_rate, orders.day[vo], params.days)
    landing.count_row_mess("shop_orders", row_mess)

    pending_first = np.isin(orders.state, (PENDING_PAID, PENDING_VOID))
    status = np.where(second, status_after[vo], np.where(pending_first[vo], PENDING_S, PAID_S))
    cancelled = second & orders.cancelled[vo]
    has_refund = second & np.isin(orders.state[vo], (PAID_CANCEL, REFUND_FULL, REFUND_PARTIAL))
    line_in_order = np.arange(len(orders.line_order)) - orders.line_start[orders.line_order]

    for r0, r1 in row_chunks(day, params.days, CHUNK_ROWS):
        s = slice(r0, r1)
        o = vo[s]
        p = orders.person[o]
        created = orders.utc[o] + row_mess.future_days[s].astype(np.int64) * DAY_SECONDS
        v = pa.table(
            {
                "rn": np.arange(r1 - r0, dtype=np.int32),
                "o": o,
                "id": order_id[o],
                "name_no": 1001 + rank[o],
                "email": pick(people.email_variants, email_idx[o]),
                "phone": pick(people.phone_typed, phone_idx[o]),
                "junk": vocab(row_mess.junk_phone[s], phones.JUNK_PHONES),
                "created": created,
                "updated": np.where(second[s], stamp[s], created),
                "currency": vocab(orders.currency[o], CURRENCIES),
                "subtotal": orders.gross[o] - orders.discount[o],
                "disc": orders.discount[o],
                "status": vocab(status[s], STATUSES),
                "cancelled": pa.array(stamp[s], mask=~cancelled[s]),
                "cancel_reason": vocab(
                    np.where(cancelled[s], orders.cancel_reason[o], -1), SHOP_CANCEL_REASONS
                ),
                "code": vocab(orders.code[o], [c[0] for c in DISCOUNT_CODES]),
                "code_type": vocab(orders.code[o], CODE_TYPES),
                "cust_id": accounts.customer_id[p],
                "cust_email": pick(people.email, p),
                "cust_phone": pick(people.phone_e164, accounts.phone_index(p)),
                "first_name": vocab(people.first[p], FIRST_NAMES),
                "last_name": vocab(people.last[p], LAST_NAMES),
                "country": vocab(people.country[p], COUNTRIES),
                "refund_id": pa.array(refund_id[o], mask=~has_refund[s]),
                "refund_at": pa.array(stamp[s], mask=~has_refund[s]),
            }
        )
        uo = np.unique(o)
        lines = ranges(orders.line_start[uo], orders.line_count[uo])
        lo = orders.line_order[lines]
        li = pa.table(
            {
                "o": lo.astype(np.int64),
                "line_id": 14_000_000_000_000 + rank[lo] * 100 + line_in_order[lines],
                "sku": vocab(orders.product[lines], catalog.sku),
                "product_id": catalog.product_id[orders.product[lines]],
                "title": vocab(orders.product[lines], catalog.title),
                "qty": orders.qty[lines],
                "price": orders.price[lines],
                "refund_qty": orders.refund_qty[lines],
                "refund_cents": orders.refund_cents[lines],
            }
        )
        out = duck.query_lines(con, _SQL, v=v, li=li)
        # the version's own time of day (the un-corrupted one) picks its intra-day file
        files = daily_files("shop/orders", "jsonl", params, day[s], seconds=clock[s])
        landing.write_chunk(
            "shop_orders",
            None,
            out,
            files,
            r0,
            row_mess.inserts,
            CORRUPT,
            future=row_mess.future_days > 0,
            future_column="created_at",
        )
