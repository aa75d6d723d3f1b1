"""Quiet hours in every zone a recipient may be in, and the regional rules, as properties.

Hypothesis draws phones of every supported country (US area codes of every zone,
Alaska and Hawaii, numbers libphonenumber places in several zones), profiles with
and without a stated zone, state or country, home stores in other zones, clocks
around the DST changes, campaign windows and both message kinds. The verdict is
checked against an oracle written here from the sources themselves:
``phonenumbers.timezone`` for the zones of a number, a table of this file for the
states of area codes and the zones of states, ``holidays`` for France's holidays,
and the statutes' hours. Nothing of the code under test decides what the oracle
accepts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import holidays
import phonenumbers
import pytest
import tzdata
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as phone_timezones

from dagster_project.activation import eligibility as el
from dagster_project.activation.campaigns import Campaign, Policy, load_policy
from dagster_project.activation.send_rules import (
    SendClock,
    SendRules,
    SendRulesError,
    load_send_rules,
)
from dagster_project.activation.whereabouts import locate

REPO = Path(__file__).resolve().parents[3]
RULES = load_send_rules(REPO / "campaigns" / "settings" / "send_rules.yml")

# Area code -> (state, the state's rule as (earliest, latest) local hour; None: TCPA only).
US_AREAS = {
    "212": ("NY", None), "646": ("NY", None), "617": ("MA", None), "404": ("GA", None),
    "312": ("IL", None), "713": ("TX", None), "303": ("CO", None), "602": ("AZ", None),
    "415": ("CA", None), "310": ("CA", None), "702": ("NV", None), "907": ("AK", None),
    "808": ("HI", None), "305": ("FL", (8, 20)), "850": ("FL", (8, 20)), "206": ("WA", (8, 20)),
    "509": ("WA", (8, 20)), "203": ("CT", (9, 20)), "410": ("MD", (8, 20)),
    "405": ("OK", (8, 20)), "915": ("TX", None), "906": ("MI", None), "219": ("IN", None),
}  # fmt: skip
STATE_RULES = {"FL": (8, 20), "WA": (8, 20), "CT": (9, 20), "MD": (8, 20), "OK": (8, 20)}
# Zones of the states a profile may state (the tz database's view of each state).
STATE_ZONES = {
    "NY": {"America/New_York"}, "CA": {"America/Los_Angeles"},
    "FL": {"America/New_York", "America/Chicago"}, "TX": {"America/Chicago", "America/Denver"},
    "WA": {"America/Los_Angeles"}, "CT": {"America/New_York"}, "HI": {"Pacific/Honolulu"},
}  # fmt: skip
COUNTRIES = ["US", "CA", "GB", "IE", "DE", "AT", "CH", "FR", "NL", "ES", "IT", "TR", "AU"]
STORE_ZONES = [None, "America/New_York", "America/Chicago", "America/Los_Angeles",
               "Europe/London", "Europe/Berlin", "Europe/Istanbul", "Europe/Paris"]  # fmt: skip
STATED_ZONES = [None, "America/Denver", "america_slash_chicago", "Europe/Paris", "Not/AZone", ""]


def _mobiles(region: str, n: int = 6) -> list[str]:
    """Valid mobile numbers of a region, from libphonenumber's own example."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    base = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    out = []
    for i in range(40):
        candidate = base[:-2] + f"{(int(base[-2:]) + 7 * i) % 100:02d}"
        if phonenumbers.is_valid_number(phonenumbers.parse(candidate)):
            out.append(candidate)
        if len(out) == n:
            break
    return out


US_PHONES = [f"+1{area}{exchange}0{last:03d}"
             for area in US_AREAS for exchange, last in (("555", 147), ("734", 268))]  # fmt: skip
PHONES = [p for p in US_PHONES if phonenumbers.is_valid_number(phonenumbers.parse(p))] + [
    p for region in COUNTRIES if region != "US" for p in _mobiles(region, 3)
]

# Clocks near the 2026 DST changes (US: 8 March, 1 November; EU: 29 March, 25 October),
# and anywhere else in the year.
DST_DAYS = [dt.date(2026, 3, 8), dt.date(2026, 3, 29), dt.date(2026, 10, 25), dt.date(2026, 11, 1)]
moments = st.one_of(
    st.builds(
        lambda day, minutes: dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        + dt.timedelta(minutes=minutes),
        st.sampled_from([d + dt.timedelta(days=k) for d in DST_DAYS for k in (-1, 0, 1)]),
        st.integers(0, 24 * 60 - 1),
    ),
    st.datetimes(
        min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 31),
        timezones=st.just(dt.UTC),
    ),
)  # fmt: skip


@st.composite
def windows(draw):
    if draw(st.booleans()):  # half the campaigns keep a common window
        return draw(st.sampled_from([{"start": "09:00", "end": "20:00"},
                                     {"start": "10:00", "end": "19:00"},
                                     {"start": "08:00", "end": "21:00"}]))  # fmt: skip
    start = draw(st.integers(8 * 4, 20 * 4))
    end = draw(st.integers(start + 1, 21 * 4))
    fmt = lambda q: f"{q // 4:02d}:{(q % 4) * 15:02d}"  # noqa: E731
    return {"start": fmt(start), "end": fmt(end)}


@st.composite
def recipients(draw):
    phone = draw(st.sampled_from(PHONES))
    profile = draw(st.sampled_from(["none", "none", "zone", "state", "country"]))
    return {
        "phone": phone,
        "zone": draw(st.sampled_from(STATED_ZONES[1:])) if profile == "zone" else None,
        "state": draw(st.sampled_from([*STATE_ZONES, "Florida", "tx"])) if profile == "state"
        else None,
        "country": draw(st.sampled_from(COUNTRIES)) if profile == "country" else None,
        "store_zone": draw(st.sampled_from(STORE_ZONES)),
    }  # fmt: skip


def _valid_zone(text: str | None) -> str | None:
    if not text:
        return None
    name = text.replace("_slash_", "/")
    for candidate in (name, "/".join(p.capitalize() for p in name.split("/"))):
        try:
            ZoneInfo(candidate)
            return candidate
        except (ValueError, KeyError, Exception):  # noqa: BLE001
            continue
    return None


def _state(text: str | None) -> str | None:
    return {"Florida": "FL", "tx": "TX"}.get(text, text) if text else None


def _phone_zones(phone: str) -> set[str]:
    number = phonenumbers.parse(phone)
    return set(phone_timezones.time_zones_for_number(number)) - {"Etc/Unknown"}


ONE_CLOCK_COUNTRIES = {
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "DE": "Europe/Berlin",
    "AT": "Europe/Vienna",
    "CH": "Europe/Zurich",
    "FR": "Europe/Paris",
    "NL": "Europe/Amsterdam",
    "IT": "Europe/Rome",
    "TR": "Europe/Istanbul",
}


def oracle_zones(r: dict) -> set[str]:
    """Zones the window must hold in: every zone libphonenumber gives the number, and what
    the profile states (a zone, a state's zones, a one-clock country's zone); without a
    statement, the home store's zone too."""
    zones = _phone_zones(r["phone"])
    if zone := _valid_zone(r["zone"]):
        return zones | {zone}
    if (state := _state(r["state"])) and r["country"] in (None, "US"):
        return zones | STATE_ZONES[state]
    if r["country"] in ONE_CLOCK_COUNTRIES:
        return zones | {ONE_CLOCK_COUNTRIES[r["country"]]}
    if r["store_zone"]:
        zones.add(r["store_zone"])
    country = TZ_COUNTRIES.get(r["country"] or "", set())
    if country and not zones & country:
        zones |= country  # they live in that (multi-zone) country: anywhere in it
    return zones


def _tz_countries() -> dict[str, set[str]]:
    """Country -> zones, read straight from the tz database's zone.tab."""
    text = (Path(tzdata.__file__).parent / "zoneinfo" / "zone.tab").read_text()
    out: dict[str, set[str]] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            code, _, name = line.split("\t")[:3]
            out.setdefault(code, set()).add(name)
    return out


TZ_COUNTRIES = _tz_countries()


def oracle_us_state_hours(r: dict) -> tuple[int, int] | None:
    """The strictest state hours that may apply: the stated state's, else the area code's,
    else (a US number whose state is unknown) every state's."""
    if state := _state(r["state"]):
        return STATE_RULES.get(state)
    if r["zone"] is None and r["country"] is None and r["phone"].startswith("+1"):
        area = r["phone"][2:5]
        if area in US_AREAS:
            return US_AREAS[area][1]
    return None


def campaign(**kw) -> Campaign:
    base = dict(
        id="camp",
        name="camp",
        segments=["lapsed"],
        templates={"en": "hi"},
        start_date=dt.date(2026, 1, 1),
        sender_ids={"default": "S"},
        holdout_percent=0,
    )
    return Campaign.model_validate({**base, **kw})  # fmt: skip


def candidate(r: dict) -> el.Candidate:
    return el.Candidate(
        customer_id="c1", segments=frozenset({"lapsed"}), phone_e164=r["phone"],
        phone_type="mobile", consent_state="opted_in", opt_in_event_id="e",
        opt_in_source="web_form", opt_in_text_version="v1",
        marketing=el.MAY_RECEIVE, transactional=el.MAY_RECEIVE,
        whereabouts=locate(
            r["phone"], profile_time_zone=r["zone"], profile_country=r["country"],
            profile_state=r["state"], home_store_time_zone=r["store_zone"],
            home_store_country=None,
        ),
    )  # fmt: skip


POLICY = Policy(send_rules=RULES, marketing_per_week=7)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    r=recipients(),
    window=windows(),
    now=moments,
    kind=st.sampled_from(["marketing", "transactional"]),
)
def test_no_message_leaves_outside_the_window_in_any_zone_or_rule(r, window, now, kind):
    camp = campaign(send_window=window, kind=kind)
    d = el.decide(candidate(r), camp, now, POLICY)
    zones = oracle_zones(r)
    assume(zones)
    start, end = camp.send_window.bounds
    if d.state == "skipped":
        # Only for want of a moment: the window is empty in some day of every zone...
        assert d.step == "send_window", d.reason
        assert "no moment inside the window" in d.reason
        return
    moment = d.scheduled_at
    assert moment >= now
    for zone in zones:
        local = moment.astimezone(ZoneInfo(zone))
        assert start <= local.time() < end, (zone, local)
        assert dt.time(8) <= local.time() < dt.time(21), (zone, local)
        if hours := oracle_us_state_hours(r):
            assert dt.time(hours[0]) <= local.time() < dt.time(hours[1]), (zone, local, hours)
    french = r["phone"].startswith("+33") or r["country"] == "FR"
    if french and kind == "marketing":
        paris = moment.astimezone(ZoneInfo("Europe/Paris")).date()
        assert paris.weekday() != 6, paris  # Sunday
        assert paris not in holidays.country_holidays("FR", years=paris.year), paris
    # The window the message must expire by ends inside the allowed stretch too.
    last = d.window_ends_at - dt.timedelta(seconds=1)
    for zone in zones:
        local = last.astimezone(ZoneInfo(zone))
        assert start <= local.time() < end, (zone, "expiry", local)


def _open_somewhere_soon(zones, start, end, now, step_minutes=20, days=15) -> bool:
    moment = now
    while moment < now + dt.timedelta(days=days):
        if all(start <= moment.astimezone(ZoneInfo(z)).time() < end for z in zones):
            return True
        moment += dt.timedelta(minutes=step_minutes)
    return False


@settings(max_examples=150, deadline=None)
@given(r=recipients(), window=windows(), now=moments)
def test_a_skip_for_want_of_a_moment_is_never_a_lost_message(r, window, now):
    """When the plan gives up, a brute-force search finds no shared moment either
    (transactional: no day rules, only hours)."""
    camp = campaign(send_window=window, kind="transactional")
    d = el.decide(candidate(r), camp, now, Policy())  # no regional rules: hours only
    zones = oracle_zones(r)
    assume(zones and d.state == "skipped")
    start, end = camp.send_window.bounds
    assert not _open_somewhere_soon(zones, start, end, now)


def test_the_property_exercises_deferrals_skips_and_several_zones():
    """Guard against a vacuous property: its inputs do plan, defer, skip, span zones."""
    seen = {"planned": 0, "deferred": 0, "skipped": 0, "multi": 0}

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(r=recipients(), window=windows(), now=moments)
    def sample(r, window, now):
        d = el.decide(candidate(r), campaign(send_window=window), now, POLICY)
        seen[d.state] = seen.get(d.state, 0) + 1
        seen["multi"] += len(oracle_zones(r)) > 1

    sample()
    assert min(seen["planned"], seen["deferred"], seen["skipped"], seen["multi"]) >= 10, seen


# --- whereabouts, by example ---------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "profile", "zones", "source", "regions"),
    [
        ("+14155552671", {}, {"America/Los_Angeles"}, "phone", {"US", "US-CA"}),
        ("+14155552671", {"home_store_time_zone": "America/New_York"},
         {"America/Los_Angeles", "America/New_York"}, "phone_and_home_store", {"US", "US-CA"}),
        ("+14155552671", {"profile_time_zone": "America/Los_Angeles",
                          "home_store_time_zone": "America/New_York"},
         {"America/Los_Angeles"}, "profile_time_zone", {"US", "US-CA"}),
        ("+14155552671", {"profile_time_zone": "america_slash_chicago"},
         {"America/Chicago", "America/Los_Angeles"}, "profile_and_phone", {"US", "US-CA"}),
        ("+13055550147", {"profile_state": "Florida"}, {"America/New_York", "America/Chicago"},
         "profile_address", {"US", "US-FL"}),
        ("+14155552671", {"profile_state": "Florida"},
         {"America/New_York", "America/Chicago", "America/Los_Angeles"}, "profile_and_phone",
         {"US", "US-FL"}),
        ("+19075550123", {"profile_time_zone": "America/Anchorage"},
         {"America/Anchorage", "America/Adak"}, "profile_and_phone", {"US", "US-AK"}),
        ("+4915112345678", {"profile_country": "DE", "home_store_time_zone": "Europe/London"},
         {"Europe/Berlin", "Europe/Busingen"}, "profile_address", {"DE"}),
        ("+19075550123", {}, {"America/Anchorage", "America/Adak"}, "phone", {"US", "US-AK"}),
        ("+18085550123", {}, {"Pacific/Honolulu"}, "phone", {"US", "US-HI"}),
        ("+4915112345678", {}, {"Europe/Berlin"}, "phone", {"DE"}),
        ("+33612345678", {}, {"Europe/Paris"}, "phone", {"FR"}),
        (None, {"home_store_time_zone": "Europe/Berlin", "home_store_country": "DE"},
         {"Europe/Berlin"}, "home_store", {"DE"}),
        ("+14155552671", {"profile_time_zone": "Not/AZone"}, {"America/Los_Angeles"}, "phone",
         {"US", "US-CA"}),
    ],
)  # fmt: skip
def test_whereabouts_by_example(phone, profile, zones, source, regions):
    where = locate(phone, **profile)
    assert set(where.zones) == zones and where.zone_source == source
    assert set(where.regions) == regions


def test_a_country_default_means_every_zone_of_the_country():
    where = locate(None, profile_country="US")
    assert {"America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "America/Anchorage"} \
        <= set(where.zones)  # fmt: skip
    assert where.zone_source == "country" and "US-*" in where.regions
    assert not where.certain


def test_a_us_number_whose_state_is_unknown_gets_every_state_rule():
    clock = SendClock(RULES)
    rules = dict(clock.rules.applicable(("US", "US-*"), "marketing"))
    assert {"US", "US-FL", "US-CT", "US-MD", "US-OK", "US-WA"} <= set(rules)
    # CT starts at 09:00 and the others end at 20:00: 08:30 and 20:30 are both closed.
    where = locate(None, profile_country="US")
    slot = clock.slot(dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC), where,
                      (dt.time(8), dt.time(21)), "marketing")  # fmt: skip
    ny, honolulu = (
        slot.at.astimezone(ZoneInfo(z)).time() for z in ("America/New_York", "Pacific/Honolulu")
    )
    assert ny >= dt.time(9) and honolulu >= dt.time(9)
    assert slot.until.astimezone(ZoneInfo("America/New_York")).time() <= dt.time(20)


def test_zones_too_far_apart_skip_with_every_zone_named():
    camp = campaign(send_window={"start": "09:00", "end": "10:00"})
    r = {"phone": "+14155552671", "zone": None, "state": None, "country": None,
         "store_zone": "Europe/Berlin"}  # fmt: skip
    d = el.decide(candidate(r), camp, dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC), POLICY)
    assert (d.state, d.step) == ("skipped", "send_window")
    assert "America/Los_Angeles" in d.reason and "Europe/Berlin" in d.reason
    assert "09:00-10:00" in d.reason


def test_france_defers_a_sunday_and_a_holiday_to_the_next_open_day():
    r = {"phone": "+33612345678", "zone": None, "state": None, "country": None,
         "store_zone": None}  # fmt: skip
    sunday = dt.datetime(2026, 5, 10, 10, tzinfo=dt.UTC)  # Sunday; Monday 11 May is no holiday
    d = el.decide(candidate(r), campaign(), sunday, POLICY)
    assert d.state == "deferred"
    assert d.scheduled_at == dt.datetime(2026, 5, 11, 7, tzinfo=dt.UTC)  # 09:00 Paris
    ascension = dt.datetime(2026, 5, 14, 10, tzinfo=dt.UTC)  # Thursday, Ascension Day
    d = el.decide(candidate(r), campaign(), ascension, POLICY)
    assert d.scheduled_at == dt.datetime(2026, 5, 15, 7, tzinfo=dt.UTC)
    # A transactional message is not bound by the marketing day rule.
    d = el.decide(candidate(r), campaign(kind="transactional"), sunday, POLICY)
    assert d.state == "planned"


# --- the rules file ------------------------------------------------------------------


def test_the_repository_rules_file_loads_with_the_policy():
    policy = load_policy(REPO / "campaigns" / "settings" / "policy.yml")
    assert set(policy.send_rules.regions) >= {"US", "US-FL", "US-CT", "US-MD", "US-OK",
                                              "US-WA", "FR"}  # fmt: skip
    assert all(rule.why for rule in policy.send_rules.regions.values())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("regions:\n  Florida:\n    why: x\n", "field regions: Value error, region keys"),
        ("regions:\n  US-FL:\n    hours: {start: '08:00', end: '20:00'}\n", "regions.US-FL.why"),
        ("regions:\n  FR:\n    why: x\n    no_send_on: [sundays]\n", "regions.FR.no_send_on[0]"),
        ("regions:\n  US-FL:\n    why: x\n    hours: {start: '20:00', end: '08:00'}\n",
         "start must be before end"),
        ("regions:\n  US-FL:\n    why: x\n    hour: {start: '08:00', end: '20:00'}\n",
         "regions.US-FL.hour"),
    ],
)  # fmt: skip
def test_a_broken_rules_file_names_the_file_and_the_field(tmp_path, text, message):
    path = tmp_path / "send_rules.yml"
    path.write_text(text)
    with pytest.raises(SendRulesError) as caught:
        load_send_rules(path)
    assert str(path) in str(caught.value)
    assert message.replace("Value error, ", "") in str(caught.value)


def test_a_holiday_rule_for_a_region_without_a_calendar_says_so():
    rules = SendRules.model_validate(
        {"regions": {"ZZ": {"why": "test", "no_send_on": ["public_holidays"]}}}
    )
    with pytest.raises(SendRulesError, match="no public-holiday calendar for 'ZZ'"):
        SendClock(rules).slot(
            dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC),
            el.Whereabouts(("Europe/Berlin",), "phone", ("ZZ",)),
            (dt.time(9), dt.time(20)),
            "marketing",
        )
