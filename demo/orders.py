"""What people bought: orders and lines in both channels, discounts, refunds, cancellations.

This is the single model both the POS export and the shop export are cut
from, and the ground truth is aggregated from. Money is integer cents of the
order's local currency. Everything is array-at-a-time; nothing loops per order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .catalog import Catalog
from .params import DAY_SECONDS, Params
from .people import BIG, BOTH, IN_STORE, LAPSE_GAP_DAYS, People
from .reference import (
    BFCM_CODE,
    CATEGORY_P,
    DISCOUNT_CODES,
    FIXED_CODE,
    FX_PER_USD,
    PAYMENT_P,
    TIME_ZONES,
    TZ_STD_OFFSET_HOURS,
)
from .seasonality import ONLINE, STORE, DaySampler, is_bfcm, online_utc_clock, store_clock
from .stores import Stores

# Orders per person: base + Poisson(rate per year of active window), by archetype.
ORDER_BASE = np.array([0, 1, 2, 3, 6])
ORDER_RATE_PER_YEAR = np.array([0.0, 0.0, 1.6, 6.5, 24.0])
LINE_BASE = np.array([1, 1, 1, 1, 2])
LINE_RATE = np.array([1.0, 1.0, 1.0, 1.0, 1.5])
# A non-lapsed buyer's latest order falls within this many days of the end.
RECENT_DAYS = 170
assert RECENT_DAYS + 12 < LAPSE_GAP_DAYS
HOME_STORE_SHARE = 0.85
PREFERRED_CATEGORY_SHARE = 0.55
WALK_IN_SHARE = 0.12  # anonymous transactions, relative to known people's store visits
# Gross spend (before discounts and refunds) every big spender reaches, as a multiple of the
# mean person's: high enough that net spend stays above 10x the mean *buyer's*.
BIG_SPENDER_TARGET = 25.0

# Shop order life cycles: (probability, min delay, max delay of the update in days).
PAID, PENDING_PAID, PENDING_VOID, PAID_CANCEL, REFUND_FULL, REFUND_PARTIAL = range(6)
STATE_P = (0.850, 0.030, 0.020, 0.010, 0.035, 0.055)
STATE_DELAY = ((0, 0), (1, 3), (1, 5), (1, 2), (3, 30), (3, 30))
POS_REFUND_P = 0.05
POS_FULL_REFUND_P = 0.40


@dataclass
class Orders:
    # per order (a POS transaction or a shop order); walk-ins have person -1
    person: np.ndarray
    channel: np.ndarray  # seasonality.STORE / seasonality.ONLINE
    day: np.ndarray
    clock: np.ndarray  # store: local seconds of day; online: UTC seconds of day
    store: np.ndarray  # -1 online
    currency: np.ndarray
    utc: np.ndarray  # the order's instant, epoch seconds
    line_start: np.ndarray
    line_count: np.ndarray
    code: np.ndarray  # index into DISCOUNT_CODES, -1 none
    gross: np.ndarray
    discount: np.ndarray
    pay_method: np.ndarray
    state: np.ndarray  # shop life cycle; PAID for store orders
    update_day: np.ndarray  # day of the shop order's second export, -1 none by the end
    update_clock: np.ndarray
    cancelled: np.ndarray  # cancelled by the end
    cancel_reason: np.ndarray
    refund_day: np.ndarray  # -1 no refund by the end
    refund_clock: np.ndarray
    # per line, grouped by order
    line_order: np.ndarray
    product: np.ndarray
    qty: np.ndarray
    price: np.ndarray
    line_discount: np.ndarray
    refund_qty: np.ndarray
    refund_cents: np.ndarray

    @property
    def n(self) -> int:
        return len(self.person)

    def refunded_cents(self) -> np.ndarray:
        return np.bincount(self.line_order, weights=self.refund_cents, minlength=self.n).astype(
            np.int64
        )


def make_orders(
    params: Params, people: People, catalog: Catalog, stores: Stores, sampler: DaySampler
) -> Orders:
    rng = params.rng("orders")
    days = params.days
    arch = people.archetype
    years = (people.win_hi - people.win_lo + 1) / 365.0
    count = np.where(
        people.buyer, ORDER_BASE[arch] + rng.poisson(ORDER_RATE_PER_YEAR[arch] * years), 0
    )
    person = np.repeat(np.arange(people.n, dtype=np.int32), count)
    # Each buyer's first order is their anchor: never cancelled, so every buyer stays a buyer;
    # for buyers who are not lapsed it is also drawn from the last months.
    anchor = np.zeros(len(person), dtype=bool)
    anchor[(np.cumsum(count) - count)[people.buyer]] = True
    recent = anchor & ~people.lapsed[person]

    pch = people.channel[person]
    channel = np.where(
        pch == IN_STORE, STORE, np.where(pch == BOTH, rng.integers(0, 2, len(person)), ONLINE)
    ).astype(np.int8)
    store = _pick_store(rng, stores, people, person, channel)
    lo = people.win_lo[person]
    lo = np.where(recent, np.maximum(lo, days - RECENT_DAYS), lo)
    day = sampler.sample(rng, channel, people.country[person], lo, people.win_hi[person])

    # Walk-ins: anonymous store customers who are nobody in the truth.
    n_walk = int(round(WALK_IN_SHARE * np.count_nonzero(channel == STORE))) if stores.n else 0
    walk_store = rng.integers(0, max(stores.n, 1), n_walk).astype(np.int16)
    walk_country = stores.country[walk_store] if n_walk else np.zeros(0, np.int8)
    walk_day = sampler.sample(
        rng,
        np.zeros(n_walk, np.int8),
        walk_country,
        np.zeros(n_walk, np.int64),
        np.full(n_walk, days - 1, np.int64),
    )
    person = np.concatenate([person, np.full(n_walk, -1, np.int32)])
    channel = np.concatenate([channel, np.zeros(n_walk, np.int8)])
    store = np.concatenate([store, walk_store])
    day = np.concatenate([day, walk_day])
    anchor = np.concatenate([anchor, np.zeros(n_walk, bool)])
    known = person >= 0
    pcountry = np.where(known, people.country[np.maximum(person, 0)], 0)
    currency = np.where(known, pcountry, stores.country[np.maximum(store, 0)] if stores.n else 0)
    currency = currency.astype(np.int8)
    is_big = known & (arch[np.maximum(person, 0)] == BIG)

    offset = np.asarray(TZ_STD_OFFSET_HOURS)[people.tz[np.maximum(person, 0)]]
    clock = np.where(
        channel == STORE, store_clock(rng, len(person)), online_utc_clock(rng, offset)
    ).astype(np.int32)

    line_order, product, qty = _make_lines(rng, people, catalog, person, is_big)
    price = catalog.local_cents[currency[line_order], product]
    qty = _boost_big_spenders(people, person, currency, line_order, qty, price)

    n = len(person)
    line_count = np.bincount(line_order, minlength=n).astype(np.int32)
    line_start = (np.cumsum(line_count) - line_count).astype(np.int64)
    code, discount, line_discount, gross = _discounts(
        params, rng, channel, day, currency, line_order, qty, price, line_start
    )

    pay_method = rng.choice(len(PAYMENT_P), size=n, p=PAYMENT_P).astype(np.int8)
    orders = Orders(
        person=person,
        channel=channel,
        day=day,
        clock=clock,
        store=store,
        currency=currency,
        utc=np.zeros(n, np.int64),
        line_start=line_start,
        line_count=line_count,
        code=code,
        gross=gross,
        discount=discount,
        pay_method=pay_method,
        state=np.zeros(n, np.int8),
        update_day=np.full(n, -1, np.int32),
        update_clock=np.zeros(n, np.int32),
        cancelled=np.zeros(n, bool),
        cancel_reason=np.full(n, -1, np.int8),
        refund_day=np.full(n, -1, np.int32),
        refund_clock=np.zeros(n, np.int32),
        line_order=line_order,
        product=product,
        qty=qty,
        price=price,
        line_discount=line_discount,
        refund_qty=np.zeros(len(qty), np.int32),
        refund_cents=np.zeros(len(qty), np.int64),
    )
    _store_refunds(params, rng, orders, is_big)
    _shop_life_cycles(params, rng, orders, is_big, anchor, offset)
    orders.utc = _utc_instants(params, orders, stores)
    return orders


def _pick_store(rng, stores: Stores, people: People, person, channel) -> np.ndarray:
    store = np.where(channel == STORE, people.home_store[person], -1).astype(np.int16)
    away = (channel == STORE) & (rng.random(len(person)) > HOME_STORE_SHARE)
    country = people.country[person]
    for c in range(4):
        candidates = stores.of_country(c)
        rows = np.flatnonzero(away & (country == c))
        if len(candidates) and len(rows):
            store[rows] = candidates[(rng.random(len(rows)) * len(candidates)).astype(int)]
    return store


def _make_lines(rng, people: People, catalog: Catalog, person, is_big):
    """Basket lines: (order, product, quantity), grouped by order."""
    known = person >= 0
    arch = np.where(known, people.archetype[np.maximum(person, 0)], 1)
    n_lines = np.where(
        known, LINE_BASE[arch] + rng.poisson(LINE_RATE[arch]), 1 + rng.poisson(0.7, len(person))
    )
    line_order = np.repeat(np.arange(len(person), dtype=np.int64), n_lines)
    lp = person[line_order]
    favourite = (lp >= 0) & (rng.random(len(line_order)) < PREFERRED_CATEGORY_SHARE)
    category = np.where(
        favourite,
        people.pref_cat[np.maximum(lp, 0)],
        rng.choice(len(CATEGORY_P), size=len(line_order), p=CATEGORY_P),
    )
    big_line = is_big[line_order]
    product = catalog.pick(rng, category, big_line)
    r = rng.random(len(line_order))
    qty = np.where(
        big_line, 1 + rng.poisson(0.5, len(line_order)), 1 + (r > 0.85) + (r > 0.97)
    ).astype(np.int64)
    # The same SKU twice in one basket becomes one line with the summed quantity,
    # so no two lines of an export are identical by accident.
    key = line_order * catalog.n + product
    uniq, inverse = np.unique(key, return_inverse=True)
    qty = np.bincount(inverse, weights=qty).astype(np.int32)
    return (uniq // catalog.n).astype(np.int32), (uniq % catalog.n).astype(np.int32), qty


def _boost_big_spenders(people: People, person, currency, line_order, qty, price):
    """Big spenders buy in bulk until each one's spend is far above the average person's."""
    fx = np.asarray(FX_PER_USD)
    lp = person[line_order]
    known = lp >= 0
    big_person = people.archetype == BIG
    if not big_person.any():
        return qty
    usd_per_unit = np.where(known, price / fx[currency[line_order]], 0.0)
    idx = np.maximum(lp, 0)
    for _ in range(4):
        spend = np.bincount(idx, weights=usd_per_unit * qty * known, minlength=people.n)
        need = BIG_SPENDER_TARGET * spend.sum() / people.n
        factor = np.ones(people.n, dtype=np.int64)
        short = big_person & (spend < need) & (spend > 0)
        factor[short] = np.ceil(need / spend[short]).astype(np.int64)
        if not short.any():
            break
        qty = (qty * np.where(known, factor[idx], 1)).astype(np.int32)
    return qty


def _discounts(params, rng, channel, day, currency, line_order, qty, price, line_start):
    n = len(channel)
    line_gross = qty.astype(np.int64) * price
    gross = np.bincount(line_order, weights=line_gross, minlength=n).astype(np.int64)
    bfcm = is_bfcm(params)[day]
    p = np.where(channel == STORE, np.where(bfcm, 0.35, 0.08), np.where(bfcm, 0.45, 0.15))
    has_code = rng.random(n) < p
    everyday = rng.integers(0, BFCM_CODE, n)
    everyday = np.where((channel == ONLINE) & (rng.random(n) < 0.2), FIXED_CODE, everyday)
    code = np.where(has_code, np.where(bfcm, BFCM_CODE, everyday), -1).astype(np.int8)
    pct = np.array([c[1] or 0 for c in DISCOUNT_CODES])
    fixed = np.array([c[2] or (0, 0, 0, 0) for c in DISCOUNT_CODES]) * 100
    amount = np.where(
        code == FIXED_CODE,
        fixed[np.maximum(code, 0), currency],
        np.round(gross * pct[np.maximum(code, 0)] / 100.0),
    ).astype(np.int64)
    # A fixed amount only applies to baskets worth at least three times the amount.
    code = np.where((code == FIXED_CODE) & (gross < 3 * amount), -1, code).astype(np.int8)
    discount = np.where(code >= 0, amount, 0).astype(np.int64)
    # Spread the order discount over its lines in proportion; rounding left-overs go to line one.
    share = np.where(gross[line_order] > 0, line_gross / np.maximum(gross[line_order], 1), 0)
    line_discount = np.floor(discount[line_order] * share).astype(np.int64)
    rest = discount - np.bincount(line_order, weights=line_discount, minlength=n).astype(np.int64)
    line_discount[line_start[rest > 0]] += rest[rest > 0]
    return code, discount, line_discount, gross


def _one_line_refunds(rng, o: Orders, orders_idx: np.ndarray, is_big: np.ndarray):
    """Refund part of one line of each order: returns (line, qty).

    Big spenders return single units only, so a bulk line never wipes out their spend.
    """
    line = o.line_start[orders_idx] + (rng.random(len(orders_idx)) * o.line_count[orders_idx])
    line = line.astype(np.int64)
    rq = 1 + (rng.random(len(line)) * o.qty[line]).astype(np.int32)
    return line, np.where(is_big[orders_idx], 1, rq).astype(np.int32)


def _apply_refunds(o: Orders, full_orders: np.ndarray, line: np.ndarray, rq: np.ndarray):
    whole = np.zeros(o.n, dtype=bool)
    whole[full_orders] = True
    full_lines = np.flatnonzero(whole[o.line_order])
    lines = np.concatenate([full_lines, line])
    qtys = np.concatenate([o.qty[full_lines], rq]).astype(np.int32)
    net = o.qty[lines].astype(np.int64) * o.price[lines] - o.line_discount[lines]
    o.refund_qty[lines] = qtys
    o.refund_cents[lines] = np.round(net * qtys / o.qty[lines]).astype(np.int64)


def _store_refunds(params, rng, o: Orders, is_big):
    """Returns at the till: discounted sales are never refunded (their rows keep Discounts <= 0)."""
    n = o.n
    p = np.where(is_big, POS_REFUND_P / 2.5, POS_REFUND_P)
    delay = 1 + np.minimum(rng.geometric(0.12, n) - 1, 29)
    rday = o.day + delay
    refund = (o.channel == STORE) & (o.code < 0) & (rng.random(n) < p) & (rday < params.days)
    full = refund & ~is_big & (rng.random(n) < POS_FULL_REFUND_P)
    partial = np.flatnonzero(refund & ~full)
    line, rq = _one_line_refunds(rng, o, partial, is_big)
    _apply_refunds(o, np.flatnonzero(full), line, rq)
    o.refund_day[refund] = rday[refund]
    o.refund_clock[refund] = store_clock(rng, int(refund.sum()))


def _shop_life_cycles(params, rng, o: Orders, is_big, anchor, std_offset):
    n = o.n
    online = o.channel == ONLINE
    state = rng.choice(len(STATE_P), size=n, p=STATE_P).astype(np.int8)
    # Anchor orders and big spenders' orders are never cancelled; big spenders never send
    # a whole order back.
    keep = is_big | anchor
    state = np.where(keep & np.isin(state, (PENDING_VOID, PAID_CANCEL)), PAID, state)
    state = np.where(is_big & (state == REFUND_FULL), REFUND_PARTIAL, state)
    state = np.where(online, state, PAID).astype(np.int8)
    lo = np.array([d[0] for d in STATE_DELAY])[state]
    hi = np.array([d[1] for d in STATE_DELAY])[state]
    uday = o.day + lo + (rng.random(n) * (hi - lo + 1)).astype(np.int32)
    happened = (state != PAID) & (uday < params.days)
    o.state = state
    o.update_day = np.where(happened, uday, -1).astype(np.int32)
    o.update_clock = online_utc_clock(rng, std_offset)
    o.cancelled = happened & np.isin(state, (PENDING_VOID, PAID_CANCEL))
    reason_void = np.array([3, 0])[rng.integers(0, 2, n)]  # declined / customer
    reason_cancel = np.array([0, 1, 2, 4])[rng.integers(0, 4, n)]
    o.cancel_reason = np.where(
        o.cancelled, np.where(state == PENDING_VOID, reason_void, reason_cancel), -1
    ).astype(np.int8)
    full = np.flatnonzero(happened & np.isin(state, (PAID_CANCEL, REFUND_FULL)))
    partial = np.flatnonzero(happened & (state == REFUND_PARTIAL))
    line, rq = _one_line_refunds(rng, o, partial, is_big)
    _apply_refunds(o, full, line, rq)
    refunded = happened & np.isin(state, (PAID_CANCEL, REFUND_FULL, REFUND_PARTIAL))
    o.refund_day = np.where(refunded, o.update_day, o.refund_day).astype(np.int32)
    o.refund_clock = np.where(refunded, o.update_clock, o.refund_clock).astype(np.int32)


def _utc_instants(params: Params, o: Orders, stores: Stores) -> np.ndarray:
    """Shop clocks are already UTC; store clocks are local wall time in the store's zone."""
    local = params.start_epoch + o.day.astype(np.int64) * DAY_SECONDS + o.clock
    utc = local.copy()
    store_tz = stores.tz[np.maximum(o.store, 0)] if stores.n else np.zeros(o.n, np.int8)
    for z, name in enumerate(TIME_ZONES):
        rows = np.flatnonzero((o.channel == STORE) & (store_tz == z))
        if len(rows):
            utc[rows] = local_to_utc(local[rows], name)
    return utc


def local_to_utc(local_epoch: np.ndarray, zone: str) -> np.ndarray:
    """Wall-clock seconds (written as if UTC) in ``zone`` to true epoch seconds."""
    aware = pd.DatetimeIndex(pd.to_datetime(local_epoch, unit="s")).tz_localize(
        zone, ambiguous=False, nonexistent="shift_forward"
    )
    naive = aware.tz_convert("UTC").tz_localize(None)
    return naive.values.astype("datetime64[s]").astype(np.int64)


def first_orders(people: People, orders: Orders, channel: int | None = None):
    """Per person: (day, utc) of their first order (in ``channel``), -1 without one."""
    mask = orders.person >= 0
    if channel is not None:
        mask &= orders.channel == channel
    rows = np.flatnonzero(mask)
    day = np.full(people.n, -1, np.int64)
    utc = np.full(people.n, -1, np.int64)
    rows = rows[np.lexsort((orders.utc[rows], orders.person[rows]))]
    head = np.concatenate([[True], np.diff(orders.person[rows]) != 0])[: len(rows)]
    first = rows[head]
    day[orders.person[first]] = orders.day[first]
    utc[orders.person[first]] = orders.utc[first]
    return day, utc
