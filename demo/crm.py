"""The CRM export: HubSpot-style contacts and support tickets, as daily CSV files.

A contact is exported on the day it is created and again on each later day it
is modified (the newest ``Last Modified Date`` wins downstream); a ticket when
it is opened and again when it is closed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from . import duck, mess, phones
from .columns import digits_as_strings, pick, unique_ints, vocab
from .orders import Orders, first_orders
from .params import DAY_SECONDS, Params
from .people import EMAIL_VARIANTS, FIRST_NAMES, LAST_NAMES, People
from .reference import (
    COUNTRIES,
    CRM_GENDER_LABELS,
    LANGUAGES,
    LEAD_STATUSES,
    TICKET_PRIORITIES,
    TICKET_PRIORITY_P,
    TICKET_SUBJECTS,
    TIME_ZONES,
    TZ_STD_OFFSET_HOURS,
)
from .seasonality import online_utc_clock
from .writers import Landing, daily_files, row_chunks

# fmt: off
CONTACTS_HEADER = [
    "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Date of Birth", "Gender",
    "Preferred Language", "Country/Region", "State/Region", "Time Zone", "Create Date",
    "Last Modified Date", "Lead Status",
]
TICKETS_HEADER = ["Ticket ID", "Contact ID", "Created At", "Status", "Priority", "Subject",
                  "Closed At"]
# fmt: on
CHUNK_ROWS = 300_000
TICKET_SHARE = 0.10  # buyers in the CRM who ever open a ticket
TICKET_RESOLVED_P = 0.85

CONTACTS_CORRUPT = mess.CsvCorruptor(
    CONTACTS_HEADER,
    [("Create Date", mess.day_first_timestamp), ("Last Modified Date", mess.time_in_words)],
)
TICKETS_CORRUPT = mess.CsvCorruptor(
    TICKETS_HEADER,
    [("Created At", mess.day_first_timestamp), ("Created At", mess.time_in_words)],
)

_CONTACTS_SQL = """
SELECT rid || ',' || csvq(first) || ',' || csvq(last) || ',' || csvq(email) || ','
    || csvq(coalesce(junk, phone)) || ',' || coalesce(csv_date(dob), '') || ','
    || coalesce(gender, '') || ',' || coalesce(lang, '') || ',' || country || ','
    || csvq(state) || ',' || coalesce(zone, '') || ','
    || csv_ts(created) || ',' || csv_ts(modified) || ',' || coalesce(status, '') || chr(10)
FROM t ORDER BY rn
"""
_TICKETS_SQL = """
SELECT tid || ',' || rid || ',' || csv_ts(created) || ',' || status || ',' || priority || ','
    || csvq(subject) || ',' || coalesce(csv_ts(closed), '') || chr(10)
FROM t ORDER BY rn
"""


@dataclass
class CrmContacts:
    record_id: pa.Array  # per person, NULL outside the CRM
    create_day: np.ndarray  # per person (meaningful inside the CRM)
    create_utc: np.ndarray


def assign_contacts(params: Params, people: People, orders: Orders) -> CrmContacts:
    """Record ids for the people in the CRM, ascending in order of creation.

    Buyers are entered around their first purchase; prospects any time they are around.
    """
    rng = params.rng("crm")
    days = params.days
    first_day, _ = first_orders(people, orders)
    jitter = rng.integers(-30, 61, people.n)
    free_day = people.win_lo + (rng.random(people.n) * (days - people.win_lo)).astype(np.int64)
    create_day = np.where(first_day >= 0, np.clip(first_day + jitter, 0, days - 1), free_day)
    offset = np.asarray(TZ_STD_OFFSET_HOURS)[people.tz]
    create_utc = (
        params.start_epoch + create_day * DAY_SECONDS + online_utc_clock(rng, offset)
    ).astype(np.int64)
    members = np.flatnonzero(people.in_crm)
    members = members[np.argsort(create_utc[members], kind="stable")]
    number = np.full(people.n, -1, np.int64)
    number[members] = np.sort(unique_ints(rng, len(members), 10**10, 9 * 10**10))
    record_id = pick(
        digits_as_strings(np.maximum(number, 0), 11), np.where(number >= 0, np.arange(people.n), -1)
    )
    return CrmContacts(record_id, create_day.astype(np.int32), create_utc)


def write_contacts(params: Params, con, landing: Landing, people: People, crm: CrmContacts):
    rng = params.rng("crm-contacts")
    days = params.days
    members = np.flatnonzero(people.in_crm)
    create_day = crm.create_day
    # Modifications on distinct later days; each is a full re-export of the contact.
    n_mod = np.minimum(rng.poisson(0.9, len(members)), 4)
    n_mod = np.where(create_day[members] >= days - 1, 0, n_mod)
    owner = np.repeat(members, n_mod)
    later = create_day[owner] + 1 + (rng.random(len(owner)) * (days - 1 - create_day[owner]))
    key = np.unique(owner.astype(np.int64) * days + later.astype(np.int64))
    owner, mod_day = key // days, key % days
    offset = np.asarray(TZ_STD_OFFSET_HOURS)[people.tz[owner]]
    mod_utc = params.start_epoch + mod_day * DAY_SECONDS + online_utc_clock(rng, offset)

    p = np.concatenate([members, owner]).astype(np.int64)
    first_version = np.concatenate([np.ones(len(members), bool), np.zeros(len(owner), bool)])
    day = np.concatenate([create_day[members], mod_day]).astype(np.int64)
    modified = np.concatenate([crm.create_utc[members], mod_utc])
    order = np.lexsort((p, modified, day))
    p, first_version, day, modified = p[order], first_version[order], day[order], modified[order]
    n_rows = len(p)

    # What a contact holds is fixed per person; a phone is often added after creation.
    u = rng.random(people.n)
    variant = np.where(
        u < 0.75, 0, np.where(u < 0.96, rng.integers(1, EMAIL_VARIANTS, people.n), -1)
    )
    email_idx = np.where(variant >= 0, np.arange(people.n) * EMAIL_VARIANTS + variant, -1)
    phone_ever = rng.random(people.n) < 0.90
    phone_at_create = phone_ever & (rng.random(people.n) < 0.75)
    typed = np.arange(people.n) * phones.SLOTS + phones.pick_format(rng, people.country)
    dob_known = rng.random(people.n) < 0.80
    gender_known = rng.random(people.n) < 0.70
    lang_known = rng.random(people.n) < 0.90
    status = np.where(
        first_version,
        np.where(rng.random(n_rows) < 0.7, 0, 1),
        rng.integers(0, len(LEAD_STATUSES), n_rows),
    )
    shows_phone = np.where(first_version, phone_at_create[p], phone_ever[p])
    zone, state = stated_whereabouts(params.rng("crm-whereabouts"), people)
    row_mess = mess.plan_rows(rng, params.mess_rate, day, days)
    landing.count_row_mess("crm_contacts", row_mess)

    for r0, r1 in row_chunks(day, days, CHUNK_ROWS):
        s = slice(r0, r1)
        q = p[s]
        table = pa.table(
            {
                "rn": np.arange(r1 - r0, dtype=np.int32),
                "rid": pick(crm.record_id, q),
                "first": vocab(people.first[q], FIRST_NAMES),
                "last": vocab(people.last[q], LAST_NAMES),
                "email": pick(people.email_variants, email_idx[q]),
                "phone": pick(people.phone_typed, np.where(shows_phone[s], typed[q], -1)),
                "junk": vocab(row_mess.junk_phone[s], phones.JUNK_PHONES),
                "dob": pa.array(people.birth_day[q], mask=~dob_known[q]),
                "gender": vocab(np.where(gender_known[q], people.gender[q], -1), CRM_GENDER_LABELS),
                "lang": vocab(np.where(lang_known[q], people.country[q], -1), LANGUAGES),
                "country": vocab(people.country[q], COUNTRIES),
                "state": vocab(state[q], STATE_SPELLINGS),
                "zone": vocab(zone[q], ZONE_SPELLINGS),
                "created": crm.create_utc[q],
                "modified": modified[s] + row_mess.future_days[s].astype(np.int64) * DAY_SECONDS,
                "status": vocab(status[s], LEAD_STATUSES),
            }
        )
        lines = duck.query_lines(con, _CONTACTS_SQL, t=table)
        files = daily_files("crm/contacts", "csv", params, day[s])
        landing.write_chunk(
            "crm_contacts",
            CONTACTS_HEADER,
            lines,
            files,
            r0,
            row_mess.inserts,
            CONTACTS_CORRUPT,
            future=row_mess.future_days > 0,
            future_column="Last Modified Date",
        )


# How a stated time zone or state is typed: IANA names and HubSpot's internal values;
# state codes, names and lower case.
ZONE_SPELLINGS = [*TIME_ZONES, *(z.lower().replace("/", "_slash_") for z in TIME_ZONES)]
_STATES = sorted(set(phones.US_AREA_STATE.values()))
_STATE_NAMES = {"CA": "California", "FL": "Florida", "IL": "Illinois", "MA": "Massachusetts",
                "NV": "Nevada", "NY": "New York", "TX": "Texas", "WA": "Washington"}  # fmt: skip
STATE_SPELLINGS = [*_STATES, *(_STATE_NAMES[s] for s in _STATES), *(s.lower() for s in _STATES)]
STATED_ZONE_SHARE = 0.35  # contacts whose time zone the CRM holds
STATED_STATE_SHARE = 0.5  # US contacts whose address state the CRM holds


def stated_whereabouts(rng, people: People) -> tuple[np.ndarray, np.ndarray]:
    """Per person, an index into ZONE_SPELLINGS and STATE_SPELLINGS (-1: not stated).

    A contact states the zone they live in, and only when their number is local to it (a
    number from elsewhere has another zone in phonenumbers, and the demo's audit checks
    every zone of the number); a US contact's state is their number's.
    """
    n = people.n
    zone = people.tz.astype(np.int64).copy()
    state = np.full(n, -1, np.int64)
    us = np.flatnonzero(people.country == 0)
    if len(us):
        area = np.asarray(
            [int(str(x)[2:5]) for x in people.phone_e164.take(pa.array(us)).to_pylist()]
        )
        local_zone = np.vectorize(phones.US_AREA_ZONE.get)(area)
        zone[us[local_zone != people.tz[us]]] = -1
        state[us] = np.searchsorted(_STATES, np.vectorize(phones.US_AREA_STATE.get)(area))
    spelling = rng.integers(0, 3, n)
    zone = np.where(zone >= 0, zone + len(TIME_ZONES) * (spelling == 1), -1)
    zone[rng.random(n) >= STATED_ZONE_SHARE] = -1
    state = np.where(state >= 0, state + len(_STATES) * spelling, -1)
    state[rng.random(n) >= STATED_STATE_SHARE] = -1
    return zone, state


def write_tickets(params: Params, con, landing: Landing, people: People, crm: CrmContacts):
    rng = params.rng("crm-tickets")
    days = params.days
    end_utc = params.start_epoch + days * DAY_SECONDS - 1
    eligible = people.in_crm & people.buyer & (rng.random(people.n) < TICKET_SHARE)
    owner = np.repeat(np.arange(people.n), np.where(eligible, 1 + rng.poisson(0.3, people.n), 0))
    n = len(owner)
    lo = crm.create_day[owner].astype(np.int64)
    opened_day = lo + (rng.random(n) * (days - lo)).astype(np.int64)
    offset = np.asarray(TZ_STD_OFFSET_HOURS)[people.tz[owner]]
    opened = params.start_epoch + opened_day * DAY_SECONDS + online_utc_clock(rng, offset)
    closed_at = opened + 1800 + rng.exponential(2.0 * DAY_SECONDS, n).astype(np.int64)
    closed = (rng.random(n) < TICKET_RESOLVED_P) & (closed_at <= end_utc)
    closed_day = (closed_at - params.start_epoch) // DAY_SECONDS
    rank = np.empty(n, np.int64)
    rank[np.argsort(opened, kind="stable")] = np.arange(n)
    ticket_no = 4_000_000_000 + rank * 10 + rng.integers(0, 10, n)
    priority = rng.choice(len(TICKET_PRIORITIES), size=n, p=TICKET_PRIORITY_P)
    subject = rng.integers(0, len(TICKET_SUBJECTS), n)

    # Closed the same day: one closed row. Closed later: an open row, then a closed row.
    two = closed & (closed_day > opened_day)
    tk = np.concatenate([np.arange(n), np.flatnonzero(two)])
    second = np.concatenate([np.zeros(n, bool), np.ones(int(two.sum()), bool)])
    is_closed = second | (closed[tk] & ~two[tk])
    day = np.where(second, closed_day[tk], opened_day[tk])
    stamp = np.where(second, closed_at[tk], opened[tk])
    order = np.lexsort((rank[tk], stamp, day))
    tk, is_closed, day = tk[order], is_closed[order], day[order]
    row_mess = mess.plan_rows(rng, params.mess_rate, opened_day[tk], days, phones=False)
    landing.count_row_mess("crm_tickets", row_mess)

    for r0, r1 in row_chunks(day, days, CHUNK_ROWS):
        s = slice(r0, r1)
        k = tk[s]
        table = pa.table(
            {
                "rn": np.arange(r1 - r0, dtype=np.int32),
                "tid": pa.array(ticket_no[k]).cast(pa.string()),
                "rid": pick(crm.record_id, owner[k]),
                "created": opened[k] + row_mess.future_days[s].astype(np.int64) * DAY_SECONDS,
                "status": vocab(is_closed[s].astype(np.int32), ("open", "closed")),
                "priority": vocab(priority[k], TICKET_PRIORITIES),
                "subject": vocab(subject[k], TICKET_SUBJECTS),
                "closed": pa.array(closed_at[k], mask=~is_closed[s]),
            }
        )
        lines = duck.query_lines(con, _TICKETS_SQL, t=table)
        files = daily_files("crm/tickets", "csv", params, day[s])
        landing.write_chunk(
            "crm_tickets",
            TICKETS_HEADER,
            lines,
            files,
            r0,
            row_mess.inserts,
            TICKETS_CORRUPT,
            future=row_mess.future_days > 0,
            future_column="Created At",
        )
