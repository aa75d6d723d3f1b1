"""Mobile numbers: one unique, valid number per person, the ways people type it, and junk.

Numbers come from ranges ``phonenumbers`` accepts as mobile of that very
country (US numbers are fixed-line-or-mobile there): US area codes with a
2xx-9xx exchange other than 555 or N11; GB 074xx-079xx without the 076xx pager
block, the 07700 block (Ofcom's drama range) and the Channel Islands / Isle of
Man blocks; DE 015x/016x/017x; TR 050x/053x-055x. Every typed format is
rendered once per person in DuckDB; rows then pick a format by index.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from . import duck
from .columns import unique_ints

US_AREA_CODES = np.array([212, 310, 312, 415, 617, 646, 702, 713, 305, 206])
# Where each of those area codes is (TIME_ZONES index, state): what a contact who states
# a time zone or a state in the CRM would say when their number is local.
US_AREA_ZONE = {212: 0, 310: 3, 312: 1, 415: 3, 617: 0, 646: 0, 702: 3, 713: 1, 305: 0, 206: 3}
US_AREA_STATE = {212: "NY", 310: "CA", 312: "IL", 415: "CA", 617: "MA", 646: "NY", 702: "NV",
                 713: "TX", 305: "FL", 206: "WA"}  # fmt: skip
US_EXCHANGES = np.array([e for e in range(200, 1000) if e != 555 and e % 100 != 11])
# Excluded: Jersey, Guernsey and Isle of Man blocks (other regions to phonenumbers), pagers,
# and the 07700 block that holds Ofcom's drama range.
GB_NOT_MAINLAND = (7457, 7509, 7524, 7700, 7781, 7797, 7829, 7839, 7911, 7937)
GB_PREFIXES = np.array(
    [p for p in range(7400, 8000) if not (7600 <= p < 7700) and p not in GB_NOT_MAINLAND]
)
DE_LONG_PREFIXES = np.array([151, 152, 155, 157, 159])  # 8-digit subscriber numbers
DE_SHORT_PREFIXES = np.array([160, 162, 163, *range(170, 180)])  # 7-digit subscriber numbers
TR_PREFIXES = np.array([501, 505, 506, 507, *range(530, 556)])

# How many typed formats each country has (slots beyond that repeat earlier formats).
FORMATS_PER_COUNTRY = np.array([5, 3, 4, 3], dtype=np.int8)
SLOTS = 5

# Typed at tills and on forms; none is a valid number in any of the four countries.
JUNK_PHONES = (
    "12345",
    "000000",
    "n/a",
    "N/A",
    "-",
    "0",
    "1234567890123456",
    "99999999999999999",
    "00000000000000",
    "123",
)


def national_numbers(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """National significant numbers (no trunk 0), unique within each country."""
    nsn = np.zeros(len(country), dtype=np.int64)
    for c in range(4):
        rows = np.flatnonzero(country == c)
        if len(rows) == 0:
            continue
        if c == 0:
            per_area = len(US_EXCHANGES) * 10_000
            idx = unique_ints(rng, len(rows), 0, len(US_AREA_CODES) * per_area)
            area = US_AREA_CODES[idx // per_area]
            exchange = US_EXCHANGES[(idx % per_area) // 10_000]
            nsn[rows] = area * 10_000_000 + exchange * 10_000 + idx % 10_000
        elif c == 1:
            idx = unique_ints(rng, len(rows), 0, len(GB_PREFIXES) * 1_000_000)
            nsn[rows] = GB_PREFIXES[idx // 1_000_000] * 1_000_000 + idx % 1_000_000
        elif c == 2:
            long_space = len(DE_LONG_PREFIXES) * 10**8
            idx = unique_ints(rng, len(rows), 0, long_space + len(DE_SHORT_PREFIXES) * 10**7)
            short = idx >= long_space
            sidx = idx - long_space
            nsn[rows] = np.where(
                short,
                DE_SHORT_PREFIXES[np.where(short, sidx // 10**7, 0)] * 10**7 + sidx % 10**7,
                DE_LONG_PREFIXES[np.where(short, 0, idx // 10**8)] * 10**8 + idx % 10**8,
            )
        else:
            idx = unique_ints(rng, len(rows), 0, len(TR_PREFIXES) * 10**7)
            nsn[rows] = TR_PREFIXES[idx // 10**7] * 10**7 + idx % 10**7
    return nsn


_FORMAT_SQL = f"""
WITH p AS (SELECT pid, c, nsn::VARCHAR AS s FROM people),
v AS (SELECT pid, c, s, slot,
             slot % CASE c WHEN 0 THEN 5 WHEN 1 THEN 3 WHEN 2 THEN 4 ELSE 3 END AS f
      FROM p CROSS JOIN range({SLOTS}) r(slot))
SELECT CASE c
  WHEN 0 THEN CASE f
    WHEN 0 THEN '(' || s[1:3] || ') ' || s[4:6] || '-' || s[7:10]
    WHEN 1 THEN s[1:3] || '-' || s[4:6] || '-' || s[7:10]
    WHEN 2 THEN s
    WHEN 3 THEN '+1 ' || s[1:3] || ' ' || s[4:6] || ' ' || s[7:10]
    ELSE '1-' || s[1:3] || '-' || s[4:6] || '-' || s[7:10] END
  WHEN 1 THEN CASE f
    WHEN 0 THEN '0' || s[1:4] || ' ' || s[5:]
    WHEN 1 THEN '+44 ' || s[1:4] || ' ' || s[5:]
    ELSE '0044 ' || s END
  WHEN 2 THEN CASE f
    WHEN 0 THEN '0' || s[1:3] || ' ' || s[4:]
    WHEN 1 THEN '+49 ' || s[1:3] || ' ' || s[4:]
    WHEN 2 THEN '0049 ' || s[1:3] || ' ' || s[4:]
    ELSE '0' || s[1:3] || '/' || s[4:] END
  ELSE CASE f
    WHEN 0 THEN '0' || s[1:3] || ' ' || s[4:6] || ' ' || s[7:8] || ' ' || s[9:10]
    WHEN 1 THEN '+90 ' || s[1:3] || ' ' || s[4:6] || ' ' || s[7:8] || ' ' || s[9:10]
    ELSE s[1:3] || ' ' || s[4:6] || ' ' || s[7:10] END
  END AS typed
FROM v ORDER BY pid, slot
"""

_CANONICAL_SQL = """
SELECT '+' || CASE c WHEN 0 THEN '1' WHEN 1 THEN '44' WHEN 2 THEN '49' ELSE '90' END
           || nsn::VARCHAR AS e164,
       CASE c WHEN 0 THEN nsn::VARCHAR ELSE '0' || nsn::VARCHAR END AS keypad
FROM people ORDER BY pid
"""


def render(con, country: np.ndarray, nsn: np.ndarray) -> tuple[pa.Array, pa.Array, pa.Array]:
    """(typed formats, ``SLOTS`` per person in person order; E.164; digits typed on a keypad)."""
    people = pa.table(
        {"pid": np.arange(len(nsn), dtype=np.int64), "c": country.astype(np.int8), "nsn": nsn}
    )
    typed = duck.query_table(con, _FORMAT_SQL, people=people).column(0).combine_chunks()
    canon = duck.query_table(con, _CANONICAL_SQL, people=people)
    return typed, canon.column(0).combine_chunks(), canon.column(1).combine_chunks()


def pick_format(rng: np.random.Generator, country: np.ndarray) -> np.ndarray:
    """A format slot per row, uniform over the formats used in the row's country."""
    return (rng.random(len(country)) * FORMATS_PER_COUNTRY[country]).astype(np.int64)
