"""The compliance rules as properties: hypothesis tries hard to break them.

Random customers (consent histories, suppression, phones, time zones), random
clocks and random campaign sets, planned day after day in priority order as the
plan assets do. Whatever it finds, a marketing message never goes without an
explicit opt-in on record, never to a suppressed phone, never outside the local
window in any zone the recipient may be in, never above a cap, and never twice for
the same key. The zones are worked out here from ``phonenumbers`` directly, not
from the code under test (``tests/unit/activation/test_send_rules.py`` covers phones of every
supported country, explicit profiles and the regional rules).

Whether a phone may receive now (valid mobile, opt-in, not suppressed) is decided
by the dbt view ``dim_sms_reachability``, whose unit tests pin each verdict and
reason; ``decide`` only reads its verdict. Here ``judged`` gives each candidate the
verdicts that rule gives its facts (the rule as its .yml states it, written again
as this test's oracle), so the properties below still vary consent, suppression
and phone type; ``test_decide_obeys_the_verdict_whatever_the_facts`` draws verdicts
at random to show ``decide`` sends nothing the verdict refused.
"""

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phonenumbers import timezone as phone_timezones

from dagster_project.activation import eligibility as el
from dagster_project.activation.campaigns import HARD_WINDOW, Campaign, Policy
from dagster_project.activation.whereabouts import Whereabouts

ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin",
         "Europe/Istanbul", "Pacific/Auckland", "Asia/Kolkata", None, "Not/AZone"]  # fmt: skip
PHONES = ["+4915112345678", "+14155552671", "+12125550147", "+19075550123", "+447400123456"]


# The line types that take SMS: the dbt var the view reads.
DBT_PROJECT = Path(__file__).resolve().parents[3] / "dbt" / "dbt_project.yml"
SMS_LINE_TYPES = frozenset(yaml.safe_load(DBT_PROJECT.read_text())["vars"]["sms_phone_types"])


def reachability(c: el.Candidate, hub: bool = False) -> tuple[el.Verdict, el.Verdict]:
    """(marketing, transactional): what dim_sms_reachability answers for these facts."""
    if not c.phone_e164 or c.phone_type not in SMS_LINE_TYPES:
        no = el.Verdict(False, "valid_mobile", "no valid mobile number")
        return no, no
    suppressed = (
        el.Verdict(False, "not_suppressed", f"suppressed: {c.suppression or 'opt_out'}")
        if c.suppression or c.consent_state == "opted_out"
        else None
    )
    if c.consent_state == "opted_out":
        marketing = el.Verdict(False, "opt_in", "opted out")
    elif c.consent_state != "opted_in":
        marketing = el.Verdict(False, "opt_in", "no opt-in on record")
    elif not (c.opt_in_event_id and c.opt_in_source and c.opt_in_text_version):
        marketing = el.Verdict(
            False, "opt_in", "opt-in record incomplete (source or text version missing)"
        )
    elif hub:
        marketing = el.Verdict(
            False, "opt_in", "opt-in on a shared hub phone (not one person's consent)"
        )
    else:
        marketing = suppressed or el.MAY_RECEIVE
    return marketing, suppressed or el.MAY_RECEIVE


def judged(hub: bool = False, **facts) -> el.Candidate:
    """A candidate carrying the verdicts the view gives its facts, as the planner's are."""
    bare = el.Candidate(**facts)
    marketing, transactional = reachability(bare, hub)
    return el.Candidate(**{**facts, "marketing": marketing, "transactional": transactional})


def zones_to_honour(c: el.Candidate) -> set[str]:
    """Every zone the candidate may be in, from phonenumbers and the profile zone alone."""
    zones = set()
    if c.phone_e164:
        number = phonenumbers.parse(c.phone_e164)
        zones |= set(phone_timezones.time_zones_for_number(number)) - {"Etc/Unknown"}
    if c.time_zone and c.time_zone in ZONES[:7]:
        zones.add(c.time_zone)
    return zones


SEGMENTS = [
    "lapsed",
    "vip",
    "big_spender",
    "prospect",
    "abandoned_checkout",
    "open_ticket_exclusion",
]


def campaign(**kw) -> Campaign:
    base = dict(
        id="camp", name="camp", segments=["lapsed"], templates={"en": "hi"},
        start_date=dt.date(2026, 1, 1), sender_ids={"default": "S"},
    )  # fmt: skip
    return Campaign.model_validate({**base, **kw})


@st.composite
def windows(draw):
    start = draw(st.integers(8, 20))
    end = draw(st.integers(start + 1, 21))
    return {"start": f"{start:02d}:00", "end": f"{end:02d}:00"}


@st.composite
def campaigns(draw, n=None):
    count = n or draw(st.integers(1, 4))
    out = []
    for i in range(count):
        out.append(
            campaign(
                id=f"camp-{i}",
                kind=draw(st.sampled_from(["marketing", "marketing", "transactional"])),
                segments=draw(
                    st.lists(st.sampled_from(SEGMENTS[:5]), min_size=1, max_size=3, unique=True)
                ),
                send_window=draw(windows()),
                cadence=draw(st.sampled_from(["once", "daily", "segment_entry"])),
                priority=draw(st.integers(0, 100)),
                holdout_percent=draw(st.sampled_from([0, 10, 50])),
                cap=draw(
                    st.sampled_from([None, {"max": 1, "per_days": 3}, {"max": 2, "per_days": 7}])
                ),
            )
        )
    return sorted(out, key=lambda c: (-c.priority, c.id))


@st.composite
def candidates(draw, customer_id="cust-1"):
    consent = draw(st.sampled_from(["opted_in", "opted_out", "none"]))
    complete = draw(st.booleans())
    return judged(
        hub=draw(st.booleans()),
        customer_id=customer_id,
        segments=frozenset(draw(st.lists(st.sampled_from(SEGMENTS), max_size=4))),
        phone_e164=draw(st.sampled_from([None, *PHONES])),
        phone_type=draw(
            st.sampled_from([None, "mobile", "fixed_line", "fixed_line_or_mobile", "voip"])
        ),
        consent_state=consent,
        opt_in_event_id="e1"
        if consent == "opted_in" and complete
        else draw(st.sampled_from([None, "e0"])),
        opt_in_source="web_form" if complete else None,
        opt_in_text_version=draw(st.sampled_from([None, "v1"])) if not complete else "v2",
        suppression=draw(st.sampled_from([None, None, "opt_out", "manual_block"])),
        time_zone=draw(st.sampled_from(ZONES)),
        entered_on=draw(st.sampled_from([None, dt.date(2026, 11, 20), dt.date(2026, 11, 21)])),
    )


moments = st.datetimes(
    min_value=dt.datetime(2026, 1, 1),
    max_value=dt.datetime(2026, 12, 31),
    timezones=st.just(dt.UTC),
)


@settings(max_examples=400, deadline=None)
@given(c=candidates(), camp=campaigns(n=1), now=moments)
def test_a_sendable_decision_satisfies_every_rule(c, camp, now):
    camp = camp[0]
    d = el.decide(c, camp, now, Policy())
    if d.state not in ("planned", "deferred"):
        return
    # Consent: marketing only with an explicit, complete opt-in on record.
    if camp.kind == "marketing":
        assert c.consent_state == "opted_in"
        assert c.opt_in_event_id and c.opt_in_source and c.opt_in_text_version
    # Never a suppressed phone, never a number that cannot take SMS.
    assert c.suppression is None
    assert c.phone_e164 and c.phone_type in SMS_LINE_TYPES
    # The view's verdict for the campaign's kind allowed it.
    assert c.verdict(camp.kind).may_receive
    assert c.segments & set(camp.segments)
    # Never outside the window in any zone they may be in, nor outside 08:00-21:00.
    zones = zones_to_honour(c)
    assert zones
    for zone in zones:
        local = d.scheduled_at.astimezone(ZoneInfo(zone))
        assert camp.send_window.start <= local.time() < camp.send_window.end, zone
        assert HARD_WINDOW[0] <= local.time() < HARD_WINDOW[1], zone
    if d.state == "planned":
        assert d.scheduled_at == now
    else:
        # Deferred to the first moment the window is open everywhere: a second earlier,
        # some zone is still outside it.
        assert d.scheduled_at > now
        before = d.scheduled_at - dt.timedelta(seconds=1)
        assert any(
            not camp.send_window.start
            <= before.astimezone(ZoneInfo(z)).time()
            < camp.send_window.end
            for z in zones
        )


@st.composite
def eligible(draw):
    """A customer every rule before the caps lets through: the caps get exercised."""
    return judged(
        customer_id="cust-1", segments=frozenset(SEGMENTS[:5]),
        phone_e164=draw(st.sampled_from(PHONES)), phone_type="mobile", consent_state="opted_in",
        opt_in_event_id="e", opt_in_source="web_form", opt_in_text_version="v2",
        time_zone=draw(st.sampled_from([None, "America/New_York", "Europe/Berlin"])),
        entered_on=dt.date(2026, 1, 1),
    )  # fmt: skip


def plan_ten_days(c, camps, start, hours, policy) -> list[el.Sent]:
    """Plan every campaign in priority order, several times a day, for ten days."""
    history: list[el.Sent] = []
    keys: set[tuple] = set()
    for day in range(10):
        for hour in sorted(set(hours)):
            now = (start + dt.timedelta(days=day)).replace(
                hour=hour, minute=0, second=0, microsecond=0
            )
            for camp in camps:
                d = el.decide(c, camp, now, policy, history)
                if d.state in ("planned", "deferred"):
                    key = (camp.id, c.customer_id, now.date(), d.variant)
                    if key in keys:
                        continue  # the ledger keeps one row per key: a re-plan is not a resend
                    keys.add(key)
                    history.append(el.Sent(camp.id, d.scheduled_at))
    return history


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    c=st.one_of(eligible(), candidates()),
    camps=campaigns(),
    start=moments,
    hours=st.lists(st.integers(0, 23), min_size=1, max_size=3),
    policy=st.builds(
        Policy, marketing_per_day=st.integers(1, 2), marketing_per_week=st.integers(1, 4)
    ),
)
def test_caps_hold_and_no_key_is_planned_twice_over_days_of_planning(
    c, camps, start, hours, policy
):
    history = plan_ten_days(c, camps, start, hours, policy)
    zones = zones_to_honour(c)
    if not zones:
        assert history == []
        return
    marketing_ids = {camp.id for camp in camps if camp.kind == "marketing"}
    # The caps count local days: they hold in every zone the recipient may be in.
    for tz in map(ZoneInfo, zones):
        days = sorted(
            s.scheduled_at.astimezone(tz).date() for s in history if s.campaign_id in marketing_ids
        )
        for d in set(days):
            assert days.count(d) <= policy.marketing_per_day
            week = sum(d - dt.timedelta(days=6) <= x <= d for x in days)
            assert week <= policy.marketing_per_week
        for camp in camps:
            mine = [s for s in history if s.campaign_id == camp.id]
            if camp.cadence == "once":
                assert len(mine) <= 1
            if camp.cap:
                local = sorted(s.scheduled_at.astimezone(tz).date() for s in mine)
                for d in set(local):
                    window = [
                        x for x in local if d - dt.timedelta(days=camp.cap.per_days - 1) <= x <= d
                    ]
                    assert len(window) <= camp.cap.max


def test_the_cap_property_really_plans_messages():
    """Guard against a vacuous property, on its own: the same planning as above, over
    the same kind of input, does plan, and often several messages."""
    sent = []

    @settings(max_examples=60, deadline=None, database=None, derandomize=True)
    @given(
        c=eligible(),
        camps=campaigns(),
        start=moments,
        hours=st.lists(st.integers(0, 23), min_size=1, max_size=3),
    )
    def count(c, camps, start, hours):
        sent.append(len(plan_ten_days(c, camps, start, hours, Policy(marketing_per_week=4))))

    count()
    assert sum(n > 0 for n in sent) > len(sent) / 4 and max(sent) >= 3


@given(c=candidates(), camp=campaigns(n=1), now=moments)
def test_decisions_are_deterministic(c, camp, now):
    assert el.decide(c, camp[0], now, Policy()) == el.decide(c, camp[0], now, Policy())


def test_holdout_is_stable_and_close_to_its_share():
    ids = [f"customer-{i}" for i in range(20_000)]
    held = [el.in_holdout("winback", i, 10) for i in ids]
    assert held == [el.in_holdout("winback", i, 10) for i in ids]
    assert 0.09 < sum(held) / len(ids) < 0.11
    # Another campaign draws another group.
    other = [el.in_holdout("vip", i, 10) for i in ids]
    assert sum(a and b for a, b in zip(held, other, strict=True)) < 0.02 * len(ids)


def test_window_closed_defers_to_the_next_local_opening():
    """A German mobile with no other zone: Berlin's window decides."""
    camp = campaign(send_window={"start": "09:00", "end": "20:00"})
    c = judged(
        customer_id="x", segments=frozenset({"lapsed"}), phone_e164="+4915112345678",
        phone_type="mobile", consent_state="opted_in", opt_in_event_id="e", opt_in_source="web_form",
        opt_in_text_version="v2", time_zone="Europe/Berlin",
    )  # fmt: skip
    late = dt.datetime(2026, 11, 22, 20, 30, tzinfo=dt.UTC)  # 21:30 in Berlin
    d = el.decide(c, camp.model_copy(update={"holdout_percent": 0}), late, Policy())
    assert d.state == "deferred"
    assert d.scheduled_at == dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.UTC)  # 09:00 Berlin
    early = dt.datetime(2026, 11, 22, 6, 0, tzinfo=dt.UTC)  # 07:00 Berlin
    d = el.decide(c, camp.model_copy(update={"holdout_percent": 0}), early, Policy())
    assert d.scheduled_at == dt.datetime(2026, 11, 22, 8, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"consent_state": "opted_out"}, "opted out"),
        ({"consent_state": "none"}, "no opt-in on record"),
        ({"opt_in_text_version": None}, "opt-in record incomplete"),
        ({"suppression": "manual_block"}, "suppressed: manual_block"),
        ({"phone_type": "fixed_line"}, "no valid mobile number"),
        ({"phone_type": None}, "no valid mobile number"),
        ({"hub": True}, "opt-in on a shared hub phone"),
        (
            {"whereabouts": Whereabouts((), "unknown", ())},
            "no time zone known for the recipient",
        ),
        ({"segments": frozenset({"vip"})}, "not in a target segment"),
        ({"segments": frozenset({"lapsed", "open_ticket_exclusion"})}, "open support ticket"),
    ],
)
def test_each_rule_names_its_reason(change, reason):
    base = dict(
        customer_id="x", segments=frozenset({"lapsed"}), phone_e164="+4915112345678",
        phone_type="mobile", consent_state="opted_in", opt_in_event_id="e", opt_in_source="web_form",
        opt_in_text_version="v2", time_zone="Europe/Berlin",
    )  # fmt: skip
    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    d = el.decide(judged(**{**base, **change}), campaign(holdout_percent=0), now, Policy())
    assert d.state == "skipped" and d.reason.startswith(reason)
    assert el.decide(judged(**base), campaign(holdout_percent=0), now, Policy()).state == "planned"


@pytest.mark.parametrize(
    "change, state, reason",
    [
        ({"consent_state": "opted_out"}, "skipped", "suppressed: opt_out"),
        ({"suppression": "hard_bounce"}, "skipped", "suppressed: hard_bounce"),
        ({"phone_type": "fixed_line"}, "skipped", "no valid mobile number"),
        # no opt-in needed, and a hub phone may get its own order's message
        ({"consent_state": "none"}, "planned", "window open"),
        ({"opt_in_text_version": None}, "planned", "window open"),
        ({"hub": True}, "planned", "window open"),
    ],
)
def test_transactional_needs_no_opt_in_but_a_stop_still_blocks(change, state, reason):
    base = dict(
        customer_id="x", segments=frozenset({"lapsed"}), phone_e164="+4915112345678",
        phone_type="mobile", consent_state="opted_in", opt_in_event_id="e", opt_in_source="web_form",
        opt_in_text_version="v2", time_zone="Europe/Berlin",
    )  # fmt: skip
    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    camp = campaign(holdout_percent=0, kind="transactional")
    d = el.decide(judged(**{**base, **change}), camp, now, Policy())
    assert d.state == state and d.reason.startswith(reason)


verdicts = st.one_of(
    st.just(el.MAY_RECEIVE),
    st.builds(
        el.Verdict,
        may_receive=st.just(False),
        step=st.sampled_from(el.REACHABILITY_STEPS),
        reason=st.sampled_from(["opted out", "suppressed: manual_block", "no valid mobile number"]),
    ),
)


@settings(max_examples=300, deadline=None)
@given(c=candidates(), camp=campaigns(n=1), now=moments, m=verdicts, t=verdicts)
def test_decide_obeys_the_verdict_whatever_the_facts(c, camp, now, m, t):
    """The view decides; decide adds nothing of its own to those three steps and never
    sends what the verdict for the campaign's kind refused."""
    camp = camp[0]
    c = el.Candidate(**{**c.__dict__, "marketing": m, "transactional": t})
    verdict = c.verdict(camp.kind)
    d = el.decide(c, camp, now, Policy())
    if d.state in ("planned", "deferred", "held_out"):
        assert verdict.may_receive and c.phone_e164
    if d.step in el.REACHABILITY_STEPS:
        assert d.state == "skipped"
        assert (d.step, d.reason) == (verdict.step, verdict.reason) or not c.phone_e164
    elif not verdict.may_receive:
        assert d.step in ("in_segment", "filters")


def test_a_refusing_verdict_must_name_its_step_and_reason():
    with pytest.raises(ValueError):
        el.Verdict(False)
    with pytest.raises(ValueError):
        el.Verdict(False, "send_window", "closed")
    assert not el.Candidate(customer_id="x", segments=frozenset()).verdict("marketing").may_receive


def test_funnel_counts_add_up():
    now = dt.datetime(2026, 11, 22, 12, tzinfo=dt.UTC)
    camp = campaign(holdout_percent=50)
    people = [
        judged(
            customer_id=f"p{i}",
            segments=frozenset({"lapsed"}),
            phone_e164="+4915112345678",
            phone_type="mobile",
            consent_state="opted_in" if i % 3 else "none",
            opt_in_event_id="e",
            opt_in_source="s",
            opt_in_text_version="v",
            time_zone="Europe/Berlin",
        )  # fmt: skip
        for i in range(300)
    ]
    decisions = [el.decide(p, camp, now, Policy()) for p in people]
    rows = el.funnel(decisions)
    assert rows[0] == ("in_segment", 300, 0)
    assert dict((s, stopped) for s, _, stopped in rows)["opt_in"] == 100
    held = sum(d.state == "held_out" for d in decisions)
    planned = sum(d.state == "planned" for d in decisions)
    assert held + planned == 200 and 70 < held < 130


def test_a_message_deferred_to_tomorrow_counts_for_the_weekly_cap_of_today():
    """Found by the property above: with 1 a week, planning at 19:00 in New York saw a
    message already deferred to 08:00 the next morning as outside "the 7 days up to
    today", and planned a second one that evening."""
    c = judged(
        customer_id="cust-1", segments=frozenset({"lapsed"}), phone_e164="+12125550147",
        phone_type="mobile", consent_state="opted_in", opt_in_event_id="e",
        opt_in_source="web_form", opt_in_text_version="v2", time_zone="America/New_York",
    )  # fmt: skip
    policy = Policy(marketing_per_day=1, marketing_per_week=1)
    now = dt.datetime(2026, 1, 2, 0, 0, tzinfo=dt.UTC)  # 19:00 on 1 January in New York
    early = campaign(id="camp-0", send_window={"start": "08:00", "end": "09:00"})
    late = campaign(id="camp-1", send_window={"start": "08:00", "end": "20:00"})
    first = el.decide(c, early, now, policy, [])
    assert first.state == "deferred"  # to 08:00 on 2 January, New York
    second = el.decide(c, late, now, policy, [el.Sent(early.id, first.scheduled_at)])
    assert (second.state, second.step) == ("skipped", "frequency_caps")
    assert "per 7 days" in second.reason


@pytest.mark.parametrize(
    ("days", "day", "span", "cap", "full"),
    [
        ([], dt.date(2026, 1, 10), 7, 1, False),
        ([dt.date(2026, 1, 4)], dt.date(2026, 1, 10), 7, 1, True),  # 6 days before
        ([dt.date(2026, 1, 3)], dt.date(2026, 1, 10), 7, 1, False),  # 7 days before
        ([dt.date(2026, 1, 16)], dt.date(2026, 1, 10), 7, 1, True),  # 6 days after
        ([dt.date(2026, 1, 17)], dt.date(2026, 1, 10), 7, 1, False),
        ([dt.date(2026, 1, 4), dt.date(2026, 1, 16)], dt.date(2026, 1, 10), 7, 2, False),
        ([dt.date(2026, 1, 8), dt.date(2026, 1, 12)], dt.date(2026, 1, 10), 7, 2, True),
    ],
)
def test_window_full_counts_every_window_through_the_day(days, day, span, cap, full):
    assert el.window_full(days, day, span, cap) is full
