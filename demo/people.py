"""The people behind the source systems: who they are, how they shop, how to reach them.

One row per person, as parallel numpy arrays plus Arrow string arrays for the
per-person text (e-mail, phone formats) that rows later pick by index.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import duck, phones
from .columns import digits_as_strings, pick, unique_ints, vocab
from .params import Params
from .reference import (
    CATEGORY_P_PEOPLE,
    COUNTRIES,
    COUNTRY_P,
    EMAIL_DOMAINS,
    GENDER_P,
    NAMES,
    TRANSLITERATION,
    TZ_COUNTRY,
    US_TZ_P,
)
from .stores import Stores

ARCHETYPES = ("prospect", "one_time", "occasional", "loyal", "big_spender")
ARCHETYPE_P = (0.30, 0.21, 0.28, 0.19, 0.02)
PROSPECT, ONE_TIME, OCCASIONAL, LOYAL, BIG = range(5)
CHANNELS = ("in_store", "online", "both")
CHANNEL_P = (0.40, 0.30, 0.30)
IN_STORE, ONLINE, BOTH = range(3)

# Lapsed buyers stop at least this many days before the end (comfortably > 6 months).
LAPSE_GAP_DAYS = 200
LAPSED_SHARE_OF_BUYERS = 0.20
BIG_LAPSED_SHARE = 0.15
EXISTING_CUSTOMER_SHARE = 0.40  # already active on day 0
HOME_STORE_SAME_TZ_WEIGHT = 4.0

EMAIL_PATTERNS_P = (0.40, 0.20, 0.15, 0.10, 0.15)
EMAIL_VARIANTS = 4  # clean, Capitalised, UPPER, padded with spaces


def _flatten_names():
    first, first_off, first_len, last, last_off, last_len = [], [], [], [], [], []
    first_slug, last_slug = [], []
    for c, (female, male, surnames) in enumerate(NAMES):
        offs, lens = [], []
        for names in (female, male):
            offs.append(len(first))
            lens.append(len(names))
            first += names
            first_slug += [_slug(n, c) for n in names]
        first_off.append(offs)
        first_len.append(lens)
        last_off.append(len(last))
        last_len.append(len(surnames))
        last += surnames
        last_slug += [_slug(n, c) for n in surnames]
    return (
        first,
        np.array(first_off),
        np.array(first_len),
        first_slug,
        last,
        np.array(last_off),
        np.array(last_len),
        last_slug,
    )


def _slug(name: str, country: int) -> str:
    table = TRANSLITERATION[country]
    out = []
    for ch in name:
        low = "i" if ch == "İ" else ch.lower()
        out.append(table.get(ch) or table.get(low) or low)
    ascii_ = unicodedata.normalize("NFKD", "".join(out)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", ascii_)


(FIRST_NAMES, FIRST_OFF, FIRST_LEN, FIRST_SLUGS, LAST_NAMES, LAST_OFF, LAST_LEN, LAST_SLUGS) = (
    _flatten_names()
)
DOMAINS = [d for ds in EMAIL_DOMAINS for d in ds]
DOMAIN_OFF = np.cumsum([0] + [len(ds) for ds in EMAIL_DOMAINS])[:-1]
DOMAIN_LEN = np.array([len(ds) for ds in EMAIL_DOMAINS])


@dataclass
class People:
    n: int
    country: np.ndarray
    tz: np.ndarray
    gender: np.ndarray
    first: np.ndarray  # index into FIRST_NAMES
    last: np.ndarray  # index into LAST_NAMES
    birth_day: np.ndarray  # epoch day
    archetype: np.ndarray
    lapsed: np.ndarray
    channel: np.ndarray
    pref_cat: np.ndarray
    home_store: np.ndarray  # -1 when the country has no store
    has_loyalty: np.ndarray
    win_lo: np.ndarray  # first day the person may act
    win_hi: np.ndarray  # last day the person may buy
    in_crm: np.ndarray
    email: pa.Array  # clean, lower case
    email_variants: pa.Array  # EMAIL_VARIANTS per person, person-major
    phone_e164: pa.Array
    phone_keypad: pa.Array  # digits only, as typed on a payment terminal
    phone_typed: pa.Array  # phones.SLOTS formats per person, person-major
    loyalty_id: pa.Array  # NULL without a card

    @property
    def buyer(self) -> np.ndarray:
        return self.archetype != PROSPECT


def make_people(params: Params, stores: Stores, con) -> People:
    rng = params.rng("people")
    n, days = params.customers, params.days
    country = rng.choice(len(COUNTRIES), size=n, p=COUNTRY_P).astype(np.int8)
    tz_by_country = np.array([0, 4, 5, 6], dtype=np.int8)
    tz = np.where(country == 0, rng.choice(4, size=n, p=US_TZ_P), tz_by_country[country]).astype(
        np.int8
    )
    gender = rng.choice(3, size=n, p=GENDER_P).astype(np.int8)
    name_gender = np.where(gender == 2, rng.integers(0, 2, n), gender)
    first = (
        FIRST_OFF[country, name_gender]
        + (rng.random(n) * FIRST_LEN[country, name_gender]).astype(int)
    ).astype(np.int16)
    last = (LAST_OFF[country] + (rng.random(n) * LAST_LEN[country]).astype(int)).astype(np.int16)
    age_days = (np.clip(rng.normal(41, 13, n), 18, 88) * 365.25).astype(np.int32)
    end_day = params.start_epoch_day + days - 1
    birth_day = (end_day - age_days - rng.integers(0, 365, n)).astype(np.int32)

    archetype = rng.choice(len(ARCHETYPES), size=n, p=ARCHETYPE_P).astype(np.int8)
    buyer = archetype != PROSPECT
    can_lapse = buyer & (days > LAPSE_GAP_DAYS + 30)
    # Big spenders lapse too (the win-back campaign's best audience), less often.
    lapse_p = np.where(archetype == BIG, BIG_LAPSED_SHARE, LAPSED_SHARE_OF_BUYERS)
    lapsed = can_lapse & (rng.random(n) < lapse_p)
    channel = rng.choice(3, size=n, p=CHANNEL_P).astype(np.int8)
    pref_cat = rng.choice(len(CATEGORY_P_PEOPLE), size=n, p=CATEGORY_P_PEOPLE).astype(np.int8)

    home_store = _home_stores(rng, stores, country, tz)
    channel[home_store < 0] = ONLINE  # nowhere to shop in person

    existing = rng.random(n) < EXISTING_CUSTOMER_SHARE
    win_lo = np.where(existing, 0, rng.integers(0, days, n)).astype(np.int32)
    win_hi = np.full(n, days - 1, dtype=np.int32)
    lapsed_end = rng.integers(0, max(days - LAPSE_GAP_DAYS, 1), n).astype(np.int32)
    # A lapsed big spender was one for a long time first: active over the later half.
    late_half = (max(days - LAPSE_GAP_DAYS, 1) + lapsed_end) // 2
    lapsed_end = np.where(archetype == BIG, late_half, lapsed_end).astype(np.int32)
    win_hi = np.where(lapsed, lapsed_end, win_hi)
    win_lo = np.where(
        lapsed, np.where(existing, 0, (rng.random(n) * (lapsed_end + 1)).astype(np.int32)), win_lo
    ).astype(np.int32)

    in_crm = np.where(buyer, rng.random(n) < 0.65, rng.random(n) < 0.85)
    has_loyalty = buyer & (channel != ONLINE) & (rng.random(n) < 0.45)
    loyalty_numbers = 7_000_000_000 + unique_ints(rng, n, 0, 1_000_000_000)
    loyalty_id = pick(
        digits_as_strings(loyalty_numbers, 10), np.where(has_loyalty, np.arange(n), -1)
    )

    nsn = phones.national_numbers(params.rng("phones"), country)
    typed, e164, keypad = phones.render(con, country, nsn)
    email, email_variants = _emails(rng, con, country, first, last)
    return People(
        n=n,
        country=country,
        tz=tz,
        gender=gender,
        first=first,
        last=last,
        birth_day=birth_day,
        archetype=archetype,
        lapsed=lapsed,
        channel=channel,
        pref_cat=pref_cat,
        home_store=home_store,
        has_loyalty=has_loyalty,
        win_lo=win_lo,
        win_hi=win_hi,
        in_crm=in_crm,
        email=email,
        email_variants=email_variants,
        phone_e164=e164,
        phone_keypad=keypad,
        phone_typed=typed,
        loyalty_id=loyalty_id,
    )


def _home_stores(rng, stores: Stores, country: np.ndarray, tz: np.ndarray) -> np.ndarray:
    home = np.full(len(country), -1, dtype=np.int16)
    for c in range(len(COUNTRIES)):
        candidates = stores.of_country(c)
        if len(candidates) == 0:
            continue
        for z in range(len(TZ_COUNTRY)):
            rows = np.flatnonzero((country == c) & (tz == z))
            if len(rows) == 0:
                continue
            w = np.where(stores.tz[candidates] == z, HOME_STORE_SAME_TZ_WEIGHT, 1.0)
            home[rows] = rng.choice(candidates, size=len(rows), p=w / w.sum())
    return home


_EMAIL_SQL = """
WITH b AS (
  SELECT pid, dom, CASE pat
      WHEN 0 THEN f || '.' || l WHEN 1 THEN f || l WHEN 2 THEN f[1] || l
      WHEN 3 THEN l || '.' || f ELSE f || '_' || l END AS base
  FROM people),
n AS (SELECT pid, dom, base, row_number() OVER (PARTITION BY base, dom ORDER BY pid) AS k FROM b)
SELECT base || CASE WHEN k > 1 THEN ((k - 1) * 100 + pid % 97)::VARCHAR ELSE '' END
       || '@' || dom AS email
FROM n ORDER BY pid
"""

_EMAIL_VARIANTS_SQL = f"""
SELECT CASE v
    WHEN 0 THEN email
    WHEN 1 THEN upper(email[1]) || email[2:strpos(email, '@')]
                || upper(email[strpos(email, '@') + 1]) || email[strpos(email, '@') + 2:]
    WHEN 2 THEN upper(email)
    ELSE ' ' || email || ' ' END AS variant
FROM emails CROSS JOIN range({EMAIL_VARIANTS}) r(v) ORDER BY pid, v
"""


def _emails(rng, con, country, first, last) -> tuple[pa.Array, pa.Array]:
    """Addresses derived from names; a numeric suffix only where the plain form is taken."""
    n = len(country)
    pattern = rng.choice(len(EMAIL_PATTERNS_P), size=n, p=EMAIL_PATTERNS_P).astype(np.int8)
    domain = DOMAIN_OFF[country] + (rng.random(n) * DOMAIN_LEN[country]).astype(int)
    people = pa.table(
        {
            "pid": np.arange(n, dtype=np.int64),
            "f": vocab(first, FIRST_SLUGS),
            "l": vocab(last, LAST_SLUGS),
            "pat": pattern,
            "dom": vocab(domain, DOMAINS),
        }
    )
    email = duck.query_table(con, _EMAIL_SQL, people=people).column(0).combine_chunks()
    emails = pa.table({"pid": np.arange(n, dtype=np.int64), "email": email})
    variants = duck.query_table(con, _EMAIL_VARIANTS_SQL, emails=emails).column(0)
    return email, variants.combine_chunks()
