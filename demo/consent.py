"""SMS consent events (``crm/consent``, JSONL): opt-ins, STOPs and re-joins, and their truth.

Opt-ins come from web forms and checkout boxes (phone free-typed), shop tills'
keypads (digits) and SMS keywords (E.164). The wording agreed to changes once
during the window. Junk sign-ups with numbers that are no numbers are extra
events tied to nobody.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import duck, mess, phones
from .columns import HEX, pick, tokens, vocab
from .orders import Orders, first_orders
from .params import DAY_SECONDS, Params
from .people import BOTH, IN_STORE, People
from .reference import (
    CONSENT_SOURCES,
    COUNTRIES,
    OPT_OUT_KEYWORD_P,
    OPT_OUT_KEYWORDS,
    TZ_STD_OFFSET_HOURS,
)
from .seasonality import ONLINE, STORE, online_utc_clock
from .writers import Landing, daily_files, row_chunks

CHUNK_ROWS = 300_000
WEB_FORM, POS_KEYPAD, KEYWORD, CHECKOUT_BOX = range(4)
OPT_IN, OPT_OUT = 0, 1
NONE, OPTED_IN, OPTED_OUT = range(3)
STATES = ("none", "opted_in", "opted_out")
TEXT_VERSIONS = ("sms-terms-v1", "sms-terms-v2")
KEYWORDS = ("JOIN", *OPT_OUT_KEYWORDS, "START")
JOIN_P = (0.40, 0.30)  # buyers, prospects
LEAVE_P = 0.15
RETURN_P = 0.25

CORRUPT = mess.JsonCorruptor(
    [
        mess.set_field("occurred_at", mess.time_in_words),
        mess.set_field("occurred_at", mess.day_first_timestamp),
    ]
)

_SQL = """
SELECT to_json(struct_pack(
    event_id := h[1:8] || '-' || h[9:12] || '-4' || h[14:16] || '-' || h[17:20] || '-' || h[21:32],
    contact_id := contact, phone := coalesce(junk, phone), country_code := country,
    event_type := etype, source := src, occurred_at := iso_utc(occurred),
    consent_text_version := version, keyword := kw)) || chr(10)
FROM t ORDER BY rn
"""


def era_start(params: Params) -> int:
    """When the consent wording changed: the first of the month about 45% into the window."""
    mid = params.start_epoch + int(params.days * 0.45) * DAY_SECONDS
    month = np.datetime64(mid, "s").astype("datetime64[M]").astype("datetime64[s]")
    return int(month.astype(np.int64))


def _sources(rng, people: People, has_store: np.ndarray, has_online: np.ndarray) -> np.ndarray:
    u = rng.random(people.n)
    ch = people.channel
    src = np.select(
        [~people.buyer, ch == IN_STORE, ch == BOTH],
        [
            np.where(u < 0.75, WEB_FORM, KEYWORD),
            np.where(u < 0.70, POS_KEYPAD, KEYWORD),
            np.select(
                [u < 0.35, u < 0.70, u < 0.85], [POS_KEYPAD, CHECKOUT_BOX, WEB_FORM], KEYWORD
            ),
        ],
        np.select([u < 0.55, u < 0.80], [CHECKOUT_BOX, WEB_FORM], KEYWORD),
    )
    # The till and the checkout box ask at a first purchase in that channel; without one, a form.
    src = np.where((src == POS_KEYPAD) & ~has_store, WEB_FORM, src)
    return np.where((src == CHECKOUT_BOX) & ~has_online, WEB_FORM, src)


def write_consent(
    params: Params, con, landing: Landing, people: People, orders: Orders, record_id: pa.Array
) -> np.ndarray:
    """Write the events; return each person's state at the end (index into ``STATES``)."""
    rng = params.rng("consent")
    days = params.days
    end_utc = params.start_epoch + days * DAY_SECONDS - 1
    store_day, store_utc = first_orders(people, orders, STORE)
    online_day, online_utc = first_orders(people, orders, ONLINE)
    src = _sources(rng, people, store_day >= 0, online_day >= 0)
    joins = rng.random(people.n) < np.where(people.buyer, JOIN_P[0], JOIN_P[1])
    offset = np.asarray(TZ_STD_OFFSET_HOURS)[people.tz]
    free_day = people.win_lo + (rng.random(people.n) * (days - people.win_lo)).astype(np.int64)
    free_at = params.start_epoch + free_day * DAY_SECONDS + online_utc_clock(rng, offset)
    t0 = np.select([src == POS_KEYPAD, src == CHECKOUT_BOX], [store_utc, online_utc], free_at)
    # A till's export is cut by the store's local day, whatever the UTC date of the sale.
    d0 = np.select([src == POS_KEYPAD, src == CHECKOUT_BOX], [store_day, online_day], free_day)
    t1 = t0 + 3600 + rng.exponential(90.0 * DAY_SECONDS, people.n).astype(np.int64)
    t2 = t1 + 3600 + rng.exponential(45.0 * DAY_SECONDS, people.n).astype(np.int64)
    leaves = joins & (rng.random(people.n) < LEAVE_P) & (t1 <= end_utc)
    returns = leaves & (rng.random(people.n) < RETURN_P) & (t2 <= end_utc)
    state = np.select([returns, leaves, joins], [OPTED_IN, OPTED_OUT, OPTED_IN], NONE)

    ins, outs, backs = np.flatnonzero(joins), np.flatnonzero(leaves), np.flatnonzero(returns)
    back_by_keyword = rng.random(len(backs)) < 0.6
    person = np.concatenate([ins, outs, backs])
    etype = np.repeat([OPT_IN, OPT_OUT, OPT_IN], [len(ins), len(outs), len(backs)])
    source = np.concatenate(
        [src[ins], np.full(len(outs), KEYWORD), np.where(back_by_keyword, KEYWORD, WEB_FORM)]
    )
    at = np.concatenate([t0[ins], t1[outs], t2[backs]])
    day = np.concatenate(
        [
            d0[ins],
            (t1[outs] - params.start_epoch) // DAY_SECONDS,
            (t2[backs] - params.start_epoch) // DAY_SECONDS,
        ]
    )
    kw = np.concatenate(
        [
            np.where(src[ins] == KEYWORD, 0, -1),
            1 + rng.choice(len(OPT_OUT_KEYWORDS), size=len(outs), p=OPT_OUT_KEYWORD_P),
            np.where(back_by_keyword, len(KEYWORDS) - 1, -1),
        ]
    )

    # Junk sign-ups: a form filled in with a number that is no number.
    n_junk = int(rng.binomial(len(person), params.mess_rate)) if params.mess_rate > 0 else 0
    landing.count("crm_consent", "invalid_phone", n_junk)
    junk_day = rng.integers(0, days, n_junk)
    person = np.concatenate([person, np.full(n_junk, -1)]).astype(np.int64)
    etype = np.concatenate([etype, np.full(n_junk, OPT_IN)])
    source = np.concatenate([source, np.full(n_junk, WEB_FORM)])
    at = np.concatenate(
        [at, params.start_epoch + junk_day * DAY_SECONDS + rng.integers(0, DAY_SECONDS, n_junk)]
    ).astype(np.int64)
    day = np.concatenate([day, junk_day]).astype(np.int64)
    kw = np.concatenate([kw, np.full(n_junk, -1)])
    junk = np.concatenate(
        [np.full(len(at) - n_junk, -1), rng.integers(0, len(phones.JUNK_PHONES), n_junk)]
    )
    known = person >= 0
    country = np.where(
        known, people.country[np.maximum(person, 0)], rng.integers(0, len(COUNTRIES), len(at))
    )

    order = np.lexsort((np.arange(len(at)), at, day))
    person, etype, source, at, day, kw, junk, country, known = (
        a[order] for a in (person, etype, source, at, day, kw, junk, country, known)
    )
    n_rows = len(at)
    event_hex = tokens(rng, n_rows, 32, HEX)
    p = np.maximum(person, 0)
    typed = p * phones.SLOTS + phones.pick_format(rng, people.country[p])
    contact = known & np.isin(source, (WEB_FORM, CHECKOUT_BOX)) & (rng.random(n_rows) < 0.8)
    version = np.where(etype == OPT_IN, (at >= era_start(params)).astype(np.int32), -1)
    row_mess = mess.plan_rows(
        rng, params.mess_rate, (at - params.start_epoch) // DAY_SECONDS, days, phones=False
    )
    landing.count_row_mess("crm_consent", row_mess)

    for r0, r1 in row_chunks(day, days, CHUNK_ROWS):
        s = slice(r0, r1)
        q = p[s]
        table = pa.table(
            {
                "rn": np.arange(r1 - r0, dtype=np.int32),
                "h": pick(event_hex, np.arange(r0, r1)),
                "contact": pick(record_id, np.where(contact[s], q, -1)),
                "phone": _captured_phone(people, q, source[s], typed[s], known[s]),
                "junk": vocab(junk[s], phones.JUNK_PHONES),
                "country": vocab(country[s], COUNTRIES),
                "etype": vocab(etype[s], ("opt_in", "opt_out")),
                "src": vocab(source[s], CONSENT_SOURCES),
                "occurred": at[s] + row_mess.future_days[s].astype(np.int64) * DAY_SECONDS,
                "version": vocab(version[s], TEXT_VERSIONS),
                "kw": vocab(kw[s], KEYWORDS),
            }
        )
        lines = duck.query_lines(con, _SQL, t=table)
        files = daily_files("crm/consent", "jsonl", params, day[s])
        landing.write_chunk(
            "crm_consent",
            None,
            lines,
            files,
            r0,
            row_mess.inserts,
            CORRUPT,
            # A future-dated opt-out is loaded (it counts from its delivery day).
            future=(row_mess.future_days > 0) & (etype != OPT_OUT),
            future_column="occurred_at",
        )
    return state


def _captured_phone(people: People, q, source, typed, known) -> pa.Array:
    """E.164 from keywords, keypad digits from tills, free-typed from forms."""
    e164 = pick(people.phone_e164, np.where(known & (source == KEYWORD), q, -1))
    keypad = pick(people.phone_keypad, np.where(known & (source == POS_KEYPAD), q, -1))
    free = np.isin(source, (WEB_FORM, CHECKOUT_BOX))
    form = pick(people.phone_typed, np.where(known & free, typed, -1))
    return pc.coalesce(e164, keypad, form)
