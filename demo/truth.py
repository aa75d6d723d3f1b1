"""Ground truth: what the generator knows about the people behind its files.

``people.parquet`` has one row per person. An order counts unless it was
cancelled by the end; spend is net of discounts and of refunds made by the end,
converted to USD at the fixed demo rates. Invalid phones, future timestamps and
late files do not change the truth: they are data errors, not events.
``mess.jsonl`` lists every injected line a loader must reject,
``mess_summary.json`` counts every kind of mess per entity, and
``summary.json`` holds the parameters and the rows written per entity.
``invoices.parquet`` has one row per customer invoice in its final state as meant
(the real paid day where the export shows a slip, the currency as typed and whether
it is a known code), ``invoice_balances.parquet`` one row per person with open
invoices at the end (open balance in USD over known currencies, per invoice rounded
half-up to the cent, then summed).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from .consent import STATES
from .invoices import Invoices, balance_truth, invoice_truth
from .orders import Orders
from .params import DAY_SECONDS, Params
from .people import ARCHETYPES, BIG, CHANNELS, FIRST_NAMES, LAST_NAMES, People
from .reference import (
    CATEGORIES,
    COUNTRIES,
    CURRENCIES,
    FX_PER_USD,
    GENDERS,
    LANGUAGES,
    TIME_ZONES,
)
from .seasonality import ONLINE, STORE
from .shop import ShopAccounts
from .stores import Stores
from .writers import Landing

TRUTH_FILES = (
    "people.parquet",
    "summary.json",
    "mess.jsonl",
    "mess_summary.json",
    "invoices.parquet",
    "invoice_balances.parquet",
)
BIG_SPENDER_MULTIPLE = 10.0


def _strings(values, indices) -> pa.Array:
    return pa.array(np.asarray(values, dtype=object)[indices], type=pa.string())


def person_totals(people: People, orders: Orders):
    """Per person: orders not cancelled, USD spend, first and last order (epoch seconds)."""
    rows = np.flatnonzero((orders.person >= 0) & ~orders.cancelled)
    who = orders.person[rows]
    net = orders.gross - orders.discount - orders.refunded_cents()
    usd = net[rows] / np.asarray(FX_PER_USD)[orders.currency[rows]] / 100.0
    n_orders = np.bincount(who, minlength=people.n).astype(np.int32)
    spend = np.round(np.bincount(who, weights=usd, minlength=people.n), 2)
    first = np.full(people.n, np.iinfo(np.int64).max, np.int64)
    last = np.full(people.n, np.iinfo(np.int64).min, np.int64)
    np.minimum.at(first, who, orders.utc[rows])
    np.maximum.at(last, who, orders.utc[rows])
    return n_orders, spend, first, last


def write_truth(
    truth_dir: Path,
    params: Params,
    people: People,
    orders: Orders,
    crm_record_id: pa.Array,
    consent_state: np.ndarray,
    shop: ShopAccounts,
    landing: Landing,
) -> dict:
    n_orders, spend, first, last = person_totals(people, orders)
    has = n_orders > 0
    is_big = (people.archetype == BIG) & (spend > BIG_SPENDER_MULTIPLE * spend.mean())
    ts = pa.timestamp("s", tz="UTC")
    table = pa.table(
        {
            "person_id": np.arange(people.n, dtype=np.int64),
            "archetype": _strings(ARCHETYPES, people.archetype),
            "is_big_spender": is_big,
            "is_lapsed": people.lapsed & has,
            "is_prospect": ~people.buyer,
            "country": _strings(COUNTRIES, people.country),
            "time_zone": _strings(TIME_ZONES, people.tz),
            "language": _strings(LANGUAGES, people.country),
            "currency": _strings(CURRENCIES, people.country),
            "first_name": _strings(FIRST_NAMES, people.first),
            "last_name": _strings(LAST_NAMES, people.last),
            "email": people.email,
            "phone_e164": people.phone_e164,
            "crm_contact_id": crm_record_id,
            "shop_customer_id": pa.array(shop.customer_id, mask=shop.customer_id < 0),
            "loyalty_id": people.loyalty_id,
            "channel": _strings(CHANNELS, people.channel),
            "n_orders": n_orders,
            "first_order_at": pa.array(first, mask=~has).cast(ts),
            "last_order_at": pa.array(last, mask=~has).cast(ts),
            "total_spend_usd": spend,
            "preferred_category": _strings(CATEGORIES, people.pref_cat),
            "consent_state_at_end": _strings(STATES, consent_state),
            "gender": _strings(GENDERS, people.gender),
            "birth_date": pa.array(people.birth_day, type=pa.int32()).cast(pa.date32()),
        }
    )
    truth_dir.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, truth_dir / "people.parquet", compression="zstd")
    landing.write_mess_log(truth_dir / "mess.jsonl")
    (truth_dir / "mess_summary.json").write_text(json.dumps(landing.mess, indent=2) + "\n")
    summary = {
        "parameters": params.as_dict(),
        "rows": landing.rows,
        "files": landing.files,
        "people": {
            "total": people.n,
            "archetypes": {
                a: int(np.count_nonzero(people.archetype == i)) for i, a in enumerate(ARCHETYPES)
            },
            "big_spenders": int(is_big.sum()),
            "lapsed": int((people.lapsed & has).sum()),
            "in_crm": int(people.in_crm.sum()),
            "shop_customers": int((shop.customer_id >= 0).sum()),
            "loyalty_members": int(people.has_loyalty.sum()),
            "consent_at_end": {
                s: int(np.count_nonzero(consent_state == i)) for i, s in enumerate(STATES)
            },
            "mean_spend_usd": round(float(spend.mean()), 2),
        },
        "orders": {
            "store_transactions": int(np.count_nonzero(orders.channel == STORE)),
            "walk_in_transactions": int(np.count_nonzero(orders.person < 0)),
            "shop_orders": int(np.count_nonzero(orders.channel == ONLINE)),
            "order_lines": len(orders.line_order),
            "cancelled": int(orders.cancelled.sum()),
        },
        "end_instant_utc": params.start_epoch + params.days * DAY_SECONDS,
    }
    (truth_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def clear_truth(truth_dir: Path) -> None:
    for name in TRUTH_FILES:
        (truth_dir / name).unlink(missing_ok=True)


def write_invoice_truth(
    truth_dir: Path, params: Params, people: People, stores: Stores, invoices: Invoices
) -> dict:
    """Write the invoice truth files; return their counts, which summary.json also keeps."""
    table = invoice_truth(params, people, stores, invoices)
    balances = balance_truth(params, invoices)
    pq.write_table(table, truth_dir / "invoices.parquet", compression="zstd")
    pq.write_table(balances, truth_dir / "invoice_balances.parquet", compression="zstd")
    status = table.column("status").to_pylist()
    counts = {
        "invoices": table.num_rows,
        "by_status": {s: status.count(s) for s in sorted(set(status))},
        "customers_with_open_invoices": balances.num_rows,
    }
    path = truth_dir / "summary.json"
    summary = json.loads(path.read_text())
    summary["invoices"] = counts
    path.write_text(json.dumps(summary, indent=2) + "\n")
    return counts
