"""The store estate: Square-style locations, spread round-robin over the four countries."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .columns import ALNUM_UPPER, tokens
from .params import Params
from .reference import COUNTRIES, CURRENCIES, STORE_SITES, TIME_ZONES


@dataclass
class Stores:
    location_id: list[str]
    name: list[str]
    country: np.ndarray  # int8 index into COUNTRIES
    tz: np.ndarray  # int8 index into TIME_ZONES

    @property
    def n(self) -> int:
        return len(self.location_id)

    def of_country(self, country: int) -> np.ndarray:
        return np.flatnonzero(self.country == country)


def make_stores(params: Params) -> Stores:
    rng = params.rng("stores")
    k = params.stores
    country = np.arange(k, dtype=np.int8) % len(COUNTRIES)
    names, tzs = [], []
    for i in range(k):
        c = int(country[i])
        nth = i // len(COUNTRIES)
        sites = STORE_SITES[c]
        site, tz = sites[nth % len(sites)]
        round_ = nth // len(sites)
        names.append(site if round_ == 0 else f"{site} {round_ + 1}")
        tzs.append(tz)
    ids = tokens(rng, k, 12, ALNUM_UPPER).to_pylist() if k else []
    return Stores(
        location_id=["L" + s for s in ids],
        name=names,
        country=country,
        tz=np.array(tzs, dtype=np.int8),
    )


def stores_csv_rows(stores: Stores) -> list[list[str]]:
    return [
        [
            stores.location_id[i],
            stores.name[i],
            COUNTRIES[stores.country[i]],
            TIME_ZONES[stores.tz[i]],
            CURRENCIES[stores.country[i]],
        ]
        for i in range(stores.n)
    ]
