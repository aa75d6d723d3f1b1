"""The product catalog: SKUs over six categories, prices per currency, and popularity.

SKUs are stored grouped by category so one ``searchsorted`` over per-category
cumulative weights picks a product for any mix of categories at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .columns import unique_ints
from .params import Params
from .reference import (
    ADJECTIVES,
    AWKWARD_PRODUCTS,
    CATEGORIES,
    CATEGORY_NOUNS,
    CATEGORY_PRICE,
    CATEGORY_VENDORS,
    COLORS,
    FX_PER_USD,
)

PRODUCTS_PER_CATEGORY = 22
STATUSES = ("active", "archived", "draft")
STATUS_P = (0.93, 0.05, 0.02)


@dataclass
class Catalog:
    sku: list[str]
    title: list[str]  # product title, repeated on each of its variants
    handle: list[str]
    status: list[str]
    category: np.ndarray  # int8 per SKU
    product_id: np.ndarray  # int64 per SKU (shared by variants)
    usd_cents: np.ndarray  # int64 base price per SKU
    local_cents: np.ndarray  # int64 [currency, SKU]
    popular_edges: np.ndarray  # category + cumulative share, for everyday picks
    premium_edges: np.ndarray  # same, tilted towards expensive items, for big spenders

    @property
    def n(self) -> int:
        return len(self.sku)

    def pick(self, rng: np.random.Generator, category: np.ndarray, premium: np.ndarray):
        q = category + rng.random(len(category))
        popular = np.searchsorted(self.popular_edges, q, side="right")
        fancy = np.searchsorted(self.premium_edges, q, side="right")
        return np.where(premium, fancy, popular).astype(np.int32)


def _handle(title: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")


def local_prices(usd_cents: np.ndarray) -> np.ndarray:
    """Convert at a fixed rate, then round the way shops do: x.99, or whole tens of lira."""
    out = np.zeros((len(FX_PER_USD), len(usd_cents)), dtype=np.int64)
    for c, rate in enumerate(FX_PER_USD):
        amount = usd_cents / 100.0 * rate
        if c == 0:
            out[c] = usd_cents
        elif rate < 10:
            out[c] = np.ceil(amount).astype(np.int64) * 100 - 1
        else:
            out[c] = np.maximum(np.round(amount / 10.0), 1).astype(np.int64) * 1000
    return out


def make_catalog(params: Params) -> Catalog:
    rng = params.rng("catalog")
    titles, cats = [], []
    for c, nouns in enumerate(CATEGORY_NOUNS):
        combos = [(a, n) for n in nouns for a in ADJECTIVES]
        chosen = rng.choice(len(combos), size=PRODUCTS_PER_CATEGORY, replace=False)
        titles += [f"{combos[i][0]} {combos[i][1]}" for i in sorted(chosen)]
        cats += [c] * PRODUCTS_PER_CATEGORY
    for c, title in AWKWARD_PRODUCTS:
        titles.append(title)
        cats.append(c)
    cats = np.array(cats, dtype=np.int8)
    order = np.argsort(cats, kind="stable")
    titles = [titles[i] for i in order]
    cats = cats[order]
    n_products = len(titles)

    lo = np.array([CATEGORY_PRICE[c][0] for c in cats], dtype=float)
    hi = np.array([CATEGORY_PRICE[c][1] for c in cats], dtype=float)
    dollars = np.floor(np.exp(np.log(lo) + rng.random(n_products) * np.log(hi / lo)))
    product_cents = dollars.astype(np.int64) * 100 + 99
    product_ids = np.sort(unique_ints(rng, n_products, 7_000_000_000_000, 7_999_999_999_999))
    product_status = rng.choice(len(STATUSES), size=n_products, p=STATUS_P)
    # Zipf-like popularity: a few bestsellers per category, a long tail.
    product_w = 1.0 / (rng.permutation(n_products) % PRODUCTS_PER_CATEGORY + 3.0)
    product_w[product_status == 2] = 0.0  # drafts are never sold
    n_variants = rng.integers(1, 6, size=n_products)

    sku, title, handle, status = [], [], [], []
    cat_v, pid_v, cents_v, w_v = [], [], [], []
    for p in range(n_products):
        colors = sorted(rng.choice(len(COLORS), size=n_variants[p], replace=False))
        for color in colors:
            sku.append(f"{CATEGORIES[cats[p]][:3].upper()}-{p + 1:04d}-{COLORS[color][:3].upper()}")
            title.append(titles[p])
            handle.append(_handle(titles[p]))
            status.append(STATUSES[product_status[p]])
            cat_v.append(cats[p])
            pid_v.append(product_ids[p])
            cents_v.append(product_cents[p])
            w_v.append(product_w[p] / n_variants[p])
    category = np.array(cat_v, dtype=np.int8)
    usd_cents = np.array(cents_v, dtype=np.int64)
    weights = np.array(w_v)
    return Catalog(
        sku=sku,
        title=title,
        handle=handle,
        status=status,
        category=category,
        product_id=np.array(pid_v, dtype=np.int64),
        usd_cents=usd_cents,
        local_cents=local_prices(usd_cents),
        popular_edges=_edges(category, weights),
        premium_edges=_edges(category, weights * (usd_cents / 100.0) ** 1.5),
    )


def _edges(category: np.ndarray, weights: np.ndarray) -> np.ndarray:
    edges = np.zeros(len(weights))
    for c in range(len(CATEGORIES)):
        rows = np.flatnonzero(category == c)
        w = weights[rows] if weights[rows].sum() > 0 else np.ones(len(rows))
        cum = np.cumsum(w)
        edges[rows] = c + cum / cum[-1]
    return edges


def products_csv_rows(catalog: Catalog) -> list[list[str]]:
    return [
        [
            catalog.handle[i],
            catalog.title[i],
            CATEGORY_VENDORS[catalog.category[i]],
            CATEGORIES[catalog.category[i]],
            catalog.sku[i],
            f"{catalog.usd_cents[i] // 100}.{catalog.usd_cents[i] % 100:02d}",
            catalog.status[i],
        ]
        for i in range(catalog.n)
    ]
