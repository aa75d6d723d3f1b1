"""Shopify abandoned checkouts (``shop/checkouts``, JSONL): carts left behind, a few recovered.

Most carts are never completed. Some online orders were preceded, one to three
days earlier, by a checkout with exactly their items; that checkout is exported
when abandoned and again, with ``completed_at``, on the order's day. Prospects
who never buy leave carts too, which gives them a shop account.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import duck, mess, phones
from .catalog import Catalog
from .columns import HEX, pick, ranges, tokens, vocab
from .orders import Orders
from .params import DAY_SECONDS, Params
from .people import People
from .reference import CATEGORY_P, COUNTRIES, CURRENCIES, TZ_STD_OFFSET_HOURS
from .seasonality import ONLINE, DaySampler, online_utc_clock
from .shop import CORRUPT, ShopAccounts, typed_email_index, typed_phone_index
from .writers import Landing, daily_files, row_chunks

CHUNK_ROWS = 150_000
RECOVERED_P = 0.06  # online orders that complete an earlier checkout
ABANDONED_PER_ONLINE_ORDER = 0.25
PROSPECT_CART_P = 0.12
CHECKOUT_PHONE_SHARE = 0.40

_SQL = """
WITH items AS (
  SELECT c, list(struct_pack(sku := sku, product_id := product_id, title := title,
                             quantity := qty, price := money(price)) ORDER BY n) AS line_items
  FROM li GROUP BY c)
SELECT to_json(struct_pack(
    id := v.id, token := v.token, email := v.email, phone := coalesce(v.junk, v.phone),
    created_at := iso_utc(v.created), updated_at := iso_utc(v.updated),
    completed_at := iso_utc(v.completed), currency := v.currency,
    total_price := money(v.total),
    customer := struct_pack(id := v.cust_id, email := v.cust_email, phone := v.cust_phone),
    shipping_address := struct_pack(country_code := v.country),
    line_items := items.line_items
)) || chr(10)
FROM v JOIN items USING (c) ORDER BY v.rn
"""


@dataclass
class Checkouts:
    person: np.ndarray
    day: np.ndarray
    utc: np.ndarray
    completed_by: np.ndarray  # order that completed it, -1 when abandoned for good
    line_checkout: np.ndarray  # per line, grouped by checkout
    product: np.ndarray
    qty: np.ndarray
    price: np.ndarray


def make_checkouts(
    params: Params, people: People, catalog: Catalog, orders: Orders, sampler: DaySampler
) -> Checkouts:
    rng = params.rng("checkouts")
    online = np.flatnonzero((orders.channel == ONLINE) & (orders.person >= 0))
    back = rng.integers(1, 4, len(online))
    recovered = (rng.random(len(online)) < RECOVERED_P) & (orders.day[online] >= back)
    rec_order = online[recovered]
    rec_day = orders.day[rec_order] - back[recovered]

    n_online = np.bincount(orders.person[online], minlength=people.n)
    n_carts = rng.poisson(ABANDONED_PER_ONLINE_ORDER * n_online)
    prospect = ~people.buyer & (rng.random(people.n) < PROSPECT_CART_P)
    n_carts = n_carts + np.where(prospect, 1 + rng.poisson(0.3, people.n), 0)
    ab_person = np.repeat(np.arange(people.n, dtype=np.int32), n_carts)
    ab_day = sampler.sample(
        rng,
        np.full(len(ab_person), ONLINE, np.int8),
        people.country[ab_person],
        people.win_lo[ab_person],
        np.full(len(ab_person), params.days - 1),
    )

    person = np.concatenate([orders.person[rec_order], ab_person]).astype(np.int32)
    day = np.concatenate([rec_day, ab_day]).astype(np.int32)
    offset = np.asarray(TZ_STD_OFFSET_HOURS)[people.tz[person]]
    utc = params.start_epoch + day.astype(np.int64) * DAY_SECONDS + online_utc_clock(rng, offset)
    completed_by = np.concatenate([rec_order, np.full(len(ab_person), -1)]).astype(np.int64)

    # Recovered carts hold exactly the items of the order that completed them.
    rec_lines = ranges(orders.line_start[rec_order], orders.line_count[rec_order])
    rec_owner = np.repeat(np.arange(len(rec_order)), orders.line_count[rec_order])
    n_items = 1 + rng.poisson(0.5, len(ab_person))
    ab_owner = np.repeat(np.arange(len(ab_person)), n_items) + len(rec_order)
    favourite = rng.random(len(ab_owner)) < 0.55
    category = np.where(
        favourite,
        people.pref_cat[person[ab_owner]],
        rng.choice(len(CATEGORY_P), size=len(ab_owner), p=CATEGORY_P),
    )
    ab_product = catalog.pick(rng, category, np.zeros(len(ab_owner), bool)).astype(np.int64)
    key = np.unique(ab_owner.astype(np.int64) * catalog.n + ab_product)
    ab_owner, ab_product = key // catalog.n, key % catalog.n
    line_checkout = np.concatenate([rec_owner, ab_owner]).astype(np.int64)
    product = np.concatenate([orders.product[rec_lines], ab_product]).astype(np.int32)
    qty = np.concatenate([orders.qty[rec_lines], np.ones(len(ab_owner), np.int32)])
    price = catalog.local_cents[people.country[person][line_checkout], product]
    return Checkouts(person, day, utc, completed_by, line_checkout, product, qty, price)


def write_checkouts(
    params: Params,
    con,
    landing: Landing,
    people: People,
    catalog: Catalog,
    orders: Orders,
    carts: Checkouts,
    accounts: ShopAccounts,
) -> None:
    rng = params.rng("shop-checkouts")
    n = len(carts.person)
    rank = np.empty(n, np.int64)
    rank[np.argsort(carts.utc, kind="stable")] = np.arange(n)
    checkout_id = 31_000_000_000_000 + rank * 1000 + rng.integers(0, 1000, n)
    token = tokens(rng, n, 32, HEX)
    email_idx = typed_email_index(rng, carts.person)
    phone_idx = typed_phone_index(rng, people, carts.person, CHECKOUT_PHONE_SHARE)
    total = np.bincount(carts.line_checkout, weights=carts.qty * carts.price, minlength=n)
    completed_at = orders.utc[np.maximum(carts.completed_by, 0)]
    line_start = np.searchsorted(carts.line_checkout, np.arange(n + 1))

    done = np.flatnonzero(carts.completed_by >= 0)
    vc = np.concatenate([np.arange(n), done])
    second = np.concatenate([np.zeros(n, bool), np.ones(len(done), bool)])
    day = np.where(second, orders.day[np.maximum(carts.completed_by[vc], 0)], carts.day[vc])
    stamp = np.where(second, completed_at[vc], carts.utc[vc])
    order = np.lexsort((rank[vc], stamp, day))
    vc, second, day, stamp = vc[order], second[order], day[order], stamp[order]
    row_mess = mess.plan_rows(rng, params.mess_rate, carts.day[vc], params.days)
    landing.count_row_mess("shop_checkouts", row_mess)

    for r0, r1 in row_chunks(day, params.days, CHUNK_ROWS):
        s = slice(r0, r1)
        c = vc[s]
        p = carts.person[c]
        created = carts.utc[c] + row_mess.future_days[s].astype(np.int64) * DAY_SECONDS
        v = pa.table(
            {
                "rn": np.arange(r1 - r0, dtype=np.int32),
                "c": c.astype(np.int64),
                "id": checkout_id[c],
                "token": pick(token, c),
                "email": pick(people.email_variants, email_idx[c]),
                "phone": pick(people.phone_typed, phone_idx[c]),
                "junk": vocab(row_mess.junk_phone[s], phones.JUNK_PHONES),
                "created": created,
                "updated": np.where(second[s], stamp[s], created),
                "completed": pa.array(stamp[s], mask=~second[s]),
                "currency": vocab(people.country[p], CURRENCIES),
                "total": total[c].astype(np.int64),
                "cust_id": accounts.customer_id[p],
                "cust_email": pick(people.email, p),
                "cust_phone": pick(people.phone_e164, accounts.phone_index(p)),
                "country": vocab(people.country[p], COUNTRIES),
            }
        )
        uc = np.unique(c)
        lines = ranges(line_start[uc], line_start[uc + 1] - line_start[uc])
        li = pa.table(
            {
                "c": carts.line_checkout[lines],
                "n": lines,
                "sku": vocab(carts.product[lines], catalog.sku),
                "product_id": catalog.product_id[carts.product[lines]],
                "title": vocab(carts.product[lines], catalog.title),
                "qty": carts.qty[lines],
                "price": carts.price[lines],
            }
        )
        out = duck.query_lines(con, _SQL, v=v, li=li)
        # the version's own time (creation, or completion for the completed version) in its
        # delivery day picks its intra-day file
        day_start = params.start_epoch + day[s].astype(np.int64) * DAY_SECONDS
        files = daily_files("shop/checkouts", "jsonl", params, day[s], seconds=stamp[s] - day_start)
        landing.write_chunk(
            "shop_checkouts",
            None,
            out,
            files,
            r0,
            row_mess.inserts,
            CORRUPT,
            future=row_mess.future_days > 0,
            future_column="created_at",
        )
