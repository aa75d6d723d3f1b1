"""Where a recipient may be: every time zone and region a send has to respect. Pure.

Quiet hours are a legal rule in the recipient's own time (TCPA: 08:00-21:00 at the
called party's location), and a guess about that location is never treated as the
truth. ``locate`` returns the candidates:

* **zones.** Certain only when the profile states them: a time zone given in the CRM,
  or an address (a US state means that state's zones, a country with one clock its
  zone). The number's own zones (libphonenumber's prefix data, ``phonenumbers.timezone``)
  are kept beside a stated zone they disagree with: the area code is what carriers and
  TCPA plaintiffs read, and a stale CRM field must not open a send at 03:00 there.
  Without a stated zone the candidates are every zone the number can be in together
  with the home store's zone; with neither, every zone of the recipient's country (the
  tz database's ``zone.tab``). A window must then hold in **all** of them.
* **regions** (ISO 3166 codes: ``US``, ``US-FL``, ``FR``) decide which regional send
  rules apply (``send_rules``). The US state comes from the profile's address where
  there is one, else from the number's area code (``phonenumbers.geocoder``); a US
  recipient whose state is unknown gets ``US-*``: every state's rule, the strictest
  reading.

No Dagster, no DuckDB: plain values in, a frozen ``Whereabouts`` out (cached, so a plan
of a million candidates parses each distinct number once).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
import us
from phonenumbers import geocoder
from phonenumbers import timezone as phone_timezones

UNKNOWN_ZONE = "Etc/Unknown"  # libphonenumber's answer when it has no zone for a number
ANY_STATE = "*"  # ``US-*``: the state is not known, every state's rule applies

# How each source of zones is named on the ledger row (``zone_source``).
PROFILE_TIME_ZONE = "profile_time_zone"
PROFILE_ADDRESS = "profile_address"
PROFILE_AND_PHONE = "profile_and_phone"  # stated, and the number is from elsewhere
PHONE = "phone"
PHONE_AND_HOME_STORE = "phone_and_home_store"
HOME_STORE = "home_store"
COUNTRY = "country"
UNKNOWN = "unknown"
CERTAIN_SOURCES = frozenset({PROFILE_TIME_ZONE, PROFILE_ADDRESS})

_CITY_STATE = re.compile(r",\s*([A-Z]{2})$")


@dataclass(frozen=True)
class Whereabouts:
    """The zones a recipient may be in and the regions whose rules apply."""

    zones: tuple[str, ...]  # sorted IANA names; empty when nothing is known
    zone_source: str
    regions: tuple[str, ...]  # sorted ISO 3166 codes, e.g. ("US", "US-FL")

    @property
    def certain(self) -> bool:
        return self.zone_source in CERTAIN_SOURCES

    @property
    def known(self) -> bool:
        return bool(self.zones)

    def describe(self) -> str:
        return ", ".join(self.zones) or "no known zone"


@cache
def _zone_names() -> dict[str, str]:
    """Lower-case spelling -> canonical IANA name, for zones typed in a CRM."""
    return {name.lower(): name for name in available_timezones()}


def zone_name(value: str | None) -> str | None:
    """A usable IANA zone for what a CRM holds (``America/New_York``, HubSpot's
    ``america_slash_new_york``), else None: an unusable value is never a guess."""
    if not value or not str(value).strip():
        return None
    text = str(value).strip().replace("_slash_", "/")
    name = _zone_names().get(text.lower())
    if name is None or name == "UTC" and text.upper() != "UTC":
        return None
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return name


@cache
def country_zones() -> dict[str, tuple[str, ...]]:
    """ISO country -> its zones, from the tz database's ``zone.tab`` (the tzdata package)."""
    text = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text()
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        code, _, name, *_ = line.split("\t")
        out.setdefault(code, []).append(name)
    return {code: tuple(sorted(names)) for code, names in out.items()}


def us_state(value: str | None) -> str | None:
    """A US state or territory's code from free text (``FL``, ``Florida``, ``fla``)."""
    if not value or not str(value).strip():
        return None
    text = str(value).strip()
    state = us.states.lookup(text)
    if state is None and text.lower().endswith(" state"):
        state = us.states.lookup(text[: -len(" state")])
    if state is None and text.replace(".", "").upper() in ("DC", "WASHINGTON DC"):
        state = us.states.DC
    return state.abbr if state is not None else None


@lru_cache(maxsize=200_000)
def phone_facts(phone_e164: str | None) -> tuple[tuple[str, ...], str | None, str | None]:
    """(zones, country, US state) libphonenumber knows for a number; () / None if unknown."""
    if not phone_e164:
        return (), None, None
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        return (), None, None
    if not phonenumbers.is_valid_number(number):
        return (), None, None
    country = phonenumbers.region_code_for_number(number)
    zones = tuple(
        sorted(z for z in phone_timezones.time_zones_for_number(number) if z != UNKNOWN_ZONE)
    )
    state = None
    if country == "US":
        description = geocoder.description_for_number(number, "en")
        match = _CITY_STATE.search(description)
        state = us_state(match.group(1) if match else description)
    return zones, country, state


def _regions(countries: set[str], state: str | None) -> tuple[str, ...]:
    out = set(countries)
    if "US" in countries:
        out.add(f"US-{state or ANY_STATE}")
    return tuple(sorted(out))


@lru_cache(maxsize=200_000)
def locate(
    phone_e164: str | None,
    *,
    profile_time_zone: str | None = None,
    profile_country: str | None = None,
    profile_state: str | None = None,
    home_store_time_zone: str | None = None,
    home_store_country: str | None = None,
) -> Whereabouts:
    """Where a recipient may be.

    ``profile_*`` are what the customer's profile states explicitly (the CRM's time
    zone, address state and country), never derived values; ``home_store_*`` the store
    they buy in most.
    """
    phone_zones, phone_country, phone_state = phone_facts(phone_e164)
    profile_country = (profile_country or "").strip().upper() or None
    store_country = (home_store_country or "").strip().upper() or None
    store_zone = zone_name(home_store_time_zone)
    state = us_state(profile_state) if profile_country in (None, "US") else None
    if state is not None:
        profile_country = "US"
    # Rules only ever narrow a window, so every country the recipient may be in counts.
    countries = {c for c in (profile_country, phone_country) if c}
    profile_zones = country_zones().get(profile_country or "", ())

    stated, source = _stated(zone_name(profile_time_zone), state, profile_zones)
    if stated:
        # The number's own zones stay: a stale CRM field must not open a 03:00 send to an
        # area code elsewhere (carriers and TCPA plaintiffs read the area code). A stated
        # zone the number can be in drops the home store's zone and the country default.
        elsewhere = {p for p in phone_zones if not any(one_clock((p, z)) for z in stated)}
        zones = set(stated) | elsewhere
        source = PROFILE_AND_PHONE if elsewhere else source
    else:
        zones = set(phone_zones)
        if store_zone:
            zones.add(store_zone)
            if store_country:
                countries.add(store_country)
        if profile_zones and not zones & set(profile_zones):
            # the profile's (multi-zone) country is where they live: all of its zones
            zones |= set(profile_zones)
        source = (
            PHONE_AND_HOME_STORE
            if phone_zones and store_zone
            else PHONE
            if phone_zones
            else HOME_STORE
            if store_zone
            else COUNTRY
        )
        if not zones:
            zones = {z for c in countries for z in country_zones().get(c, ())}
    if state is None and phone_country == "US":
        state = phone_state
    if not zones:
        return Whereabouts((), UNKNOWN, _regions(countries, state))
    return Whereabouts(tuple(sorted(zones)), source, _regions(countries, state))


def _stated(
    zone: str | None, state: str | None, country_zones_: tuple[str, ...]
) -> tuple[tuple[str, ...], str | None]:
    """What the profile states about the recipient's zone: a zone, a state, a one-clock
    country (in that order), with the source it is recorded under."""
    if zone:
        return (zone,), PROFILE_TIME_ZONE
    if state is not None and (named := _state_zones(state)):
        return named, PROFILE_ADDRESS
    if country_zones_ and one_clock(country_zones_):
        return country_zones_, PROFILE_ADDRESS
    return (), None


@cache
def one_clock(zones: tuple[str, ...]) -> bool:
    """True when the zones keep the same time all year (Germany's Berlin and Busingen)."""
    year = dt.datetime.now(dt.UTC).year
    probes = [
        dt.datetime(y, m, 15, 12, tzinfo=dt.UTC) for y in (year, year + 1) for m in (1, 4, 7, 10)
    ]
    offsets = {tuple(p.astimezone(ZoneInfo(z)).utcoffset() for p in probes) for z in zones}
    return len(offsets) == 1


@cache
def _state_zones(state: str) -> tuple[str, ...]:
    found = us.states.lookup(state)
    names = {zone_name(n) for n in (found.time_zones or ())} if found else set()
    return tuple(sorted(n for n in names if n))
