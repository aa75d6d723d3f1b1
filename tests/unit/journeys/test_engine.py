"""The journey engine: entries move forward through waits, branches and sends, exits end
them, and how often a run looks never changes what an entry does."""

import datetime as dt

import hypothesis.strategies as st
from hypothesis import given, settings

from dagster_project.journeys import engine
from dagster_project.journeys.engine import Entry, Event, Facts, advance, may_enter
from dagster_project.journeys.spec import load_journey
from dagster_project.settings import REPO_ROOT

SHIPPED = REPO_ROOT / "journeys"
CHECKOUT = load_journey(SHIPPED / "abandoned-checkout-series.yml")
WELCOME = load_journey(SHIPPED / "welcome-series.yml")
WINBACK = load_journey(SHIPPED / "winback-series.yml")
REMINDERS = load_journey(SHIPPED / "payment-reminders.yml")
T0 = dt.datetime(2026, 3, 10, 10, 5, tzinfo=dt.UTC)  # a Tuesday


def at(minutes=0, hours=0, days=0):
    return T0 + dt.timedelta(days=days, hours=hours, minutes=minutes)


def entry(journey=CHECKOUT, **anchor):
    return Entry(
        journey.id, "c1", "checkout:1", T0, engine.TREATMENT, anchor=anchor or {"skus": ["A", "B"]}
    )


def run(journey, e, facts, moments):
    sends = []
    for moment in moments:
        e, new = advance(journey, e, facts, moment)
        sends += new
    return e, sends


def test_a_checkout_left_at_10_05_is_reminded_at_11_05_and_the_next_day():
    e, sends = run(CHECKOUT, entry(), Facts(), [at(minutes=25), at(hours=1)])
    assert [(s.step, s.due_at) for s in sends] == [("first-reminder", at(hours=1))]
    e, more = run(CHECKOUT, e, Facts(), [at(hours=2), at(hours=23), at(hours=24)])
    assert [(s.step, s.due_at) for s in more] == [("second-reminder", at(hours=24))]
    assert e.status == engine.COMPLETED
    assert [v.step for v in e.history] == [
        "wait-an-hour", "first-reminder", "wait-a-day", "bought-anything", "second-reminder",
        "completed",
    ]  # fmt: skip


def test_buying_the_cart_ends_the_entry_before_the_next_step():
    bought = Facts(events=(Event("order", at(hours=3), frozenset({"A", "B", "C"})),))
    e, sends = run(CHECKOUT, entry(), bought, [at(hours=1), at(hours=5), at(hours=24)])
    assert [s.step for s in sends] == ["first-reminder"]
    assert e.status == engine.EXITED
    assert e.exit_reason.startswith("purchased_entry_items")


def test_buying_something_else_is_no_exit_but_the_branch_ends_the_journey():
    other = Facts(events=(Event("order", at(hours=3), frozenset({"Z"})),))
    e, sends = run(CHECKOUT, entry(), other, [at(hours=1), at(hours=24)])
    assert [s.step for s in sends] == ["first-reminder"]
    assert e.status == engine.COMPLETED
    assert "then -> end" in e.history[-2].outcome


def test_an_opt_out_or_a_lost_verdict_ends_every_journey():
    stop = Facts(events=(Event("opt_out", at(minutes=30)),))
    e, sends = run(CHECKOUT, entry(), stop, [at(hours=1)])
    assert sends == [] and e.exit_reason.startswith("opted_out")
    blocked = Facts(may_receive=False, blocked_reason="phone suppressed: carrier")
    e, sends = run(CHECKOUT, entry(), blocked, [at(hours=1)])
    assert sends == [] and "carrier" in e.exit_reason


def test_entering_a_higher_priority_journey_since_takes_the_customer():
    later = Facts(higher_priority_entered_at=at(minutes=30))
    e, sends = run(CHECKOUT, entry(), later, [at(hours=1)])
    assert sends == [] and e.exit_reason.startswith("higher_priority_journey")
    # one they were already in when this entry began does not end it
    before = Facts(higher_priority_entered_at=at(days=-1))
    e, sends = run(CHECKOUT, entry(), before, [at(hours=1)])
    assert [s.step for s in sends] == ["first-reminder"] and e.status == engine.ACTIVE


def test_wait_until_a_local_time_uses_the_recipients_zone():
    e = Entry(WELCOME.id, "c1", "consent:9", T0, engine.TREATMENT)
    berlin = Facts(zone="Europe/Berlin")
    e, sends = run(WELCOME, e, berlin, [T0])
    assert [s.step for s in sends] == ["welcome"]
    e, _ = run(WELCOME, e, berlin, [at(days=2)])
    # two days after 10:05 UTC is 11:05 in Berlin: the next 10:00 there is the day after
    assert e.due_at == dt.datetime(2026, 3, 13, 9, 0, tzinfo=dt.UTC)


def test_a_wait_for_a_click_ends_at_the_click_or_at_its_timeout():
    e = Entry(WINBACK.id, "c1", "segment:lapsed:2026-03-10", T0, engine.TREATMENT)
    lapsed = frozenset({"lapsed"})  # left_segment would end it otherwise
    click = Facts(events=(Event("click", at(days=2)),), segments=lapsed)
    done, sends = run(WINBACK, e, click, [at(hours=1), at(days=1), at(days=3)])
    assert [s.step for s in sends] == ["nudge"]
    assert done.status == engine.COMPLETED and "clicked" in done.history[-2].outcome
    quiet, sends = run(WINBACK, e, Facts(segments=lapsed), [at(hours=1), at(days=3), at(days=9)])
    assert [s.step for s in sends] == ["nudge", "better-offer"]
    assert sends[1].due_at == dt.datetime(2026, 3, 17, 11, 0, tzinfo=dt.UTC)  # 7 days after 11:00


def test_payment_reminders_follow_the_due_date_and_stop_when_paid():
    e = Entry(REMINDERS.id, "c1", "invoice:7", T0, engine.TREATMENT,
              anchor={"invoice_id": "7", "due_on": "2026-03-20"})  # fmt: skip
    zone = Facts(zone="Europe/Istanbul")  # UTC+3
    e1, sends = run(REMINDERS, e, zone, [at(days=d) for d in range(0, 20)])
    assert [(s.step, s.due_at) for s in sends] == [
        ("upcoming", dt.datetime(2026, 3, 17, 7, 0, tzinfo=dt.UTC)),
        ("due-today", dt.datetime(2026, 3, 20, 7, 0, tzinfo=dt.UTC)),
        ("overdue", dt.datetime(2026, 3, 27, 7, 0, tzinfo=dt.UTC)),
    ]
    paid = Facts(zone="Europe/Istanbul", invoice_settled=True)
    e2, _ = run(REMINDERS, e, zone, [at(days=8)])
    e2, sends = run(REMINDERS, e2, paid, [at(days=10)])
    assert sends == [] and e2.exit_reason.startswith("invoice_paid")


def test_reentry_rules():
    done = Entry(CHECKOUT.id, "c1", "checkout:1", T0, engine.TREATMENT, status=engine.COMPLETED)
    assert may_enter(CHECKOUT, [done], "checkout:1", at(days=9)) == "already entered for this event"
    assert may_enter(CHECKOUT, [done], "checkout:2", at(days=3)).startswith("re-entry")
    assert may_enter(CHECKOUT, [done], "checkout:2", at(days=8)) is None
    assert may_enter(WELCOME, [done], "consent:2", at(days=400)) == "re-entry: once ever"
    live = Entry(CHECKOUT.id, "c1", "checkout:1", T0, engine.TREATMENT)
    assert may_enter(CHECKOUT, [live], "checkout:2", at(days=30)) == "already in the journey"
    assert may_enter(REMINDERS, [live], "invoice:2", at(days=1)) is None  # one entry per invoice


def test_the_arm_depends_on_journey_and_customer_only():
    arms = [engine.draw_arm(WINBACK, f"c{i}") for i in range(4000)]
    assert arms == [engine.draw_arm(WINBACK, f"c{i}") for i in range(4000)]
    share = arms.count(engine.HOLDOUT) / len(arms)
    assert abs(share - WINBACK.holdout_percent / 100) < 0.02
    assert all(engine.draw_arm(REMINDERS, f"c{i}") == engine.TREATMENT for i in range(500))


JOURNEYS = [CHECKOUT, WELCOME, WINBACK, REMINDERS]
moments = st.lists(st.integers(min_value=0, max_value=40 * 24 * 60), min_size=1, max_size=12)


@settings(max_examples=150, deadline=None)
@given(
    journey=st.sampled_from(JOURNEYS),
    looks=moments,
    zone=st.sampled_from(["UTC", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata"]),
)
def test_how_often_a_run_looks_never_changes_what_an_entry_does(journey, looks, zone):
    """Without events, any sequence of looks up to T ends where one look at T does."""
    e = Entry(
        journey.id, "c1", "k", T0, engine.TREATMENT, anchor={"skus": ["A"], "due_on": "2026-03-25"}
    )
    facts = Facts(zone=zone, segments=frozenset({"lapsed"}))
    end = T0 + dt.timedelta(minutes=max(looks))
    many, many_sends = run(journey, e, facts, [T0 + dt.timedelta(minutes=m) for m in sorted(looks)])
    once, once_sends = run(journey, e, facts, [end])
    assert many_sends == once_sends
    assert (many.status, many.position, many.due_at) == (once.status, once.position, once.due_at)
    assert len({s.step for s in many_sends}) == len(many_sends)  # no step sent twice


@settings(max_examples=150, deadline=None)
@given(
    journey=st.sampled_from(JOURNEYS),
    looks=moments,
    stop_after=st.integers(min_value=1, max_value=40 * 24 * 60),
    kind=st.sampled_from(["opt_out", "order"]),
)
def test_nothing_is_due_after_an_exit_event_the_run_had_seen(journey, looks, stop_after, kind):
    """A send is only reached by a look made before the exit event: never after it."""
    stop = T0 + dt.timedelta(minutes=stop_after)
    facts = Facts(events=(Event(kind, stop, frozenset({"A"})),), segments=frozenset({"lapsed"}))
    e = Entry(
        journey.id, "c1", "k", T0, engine.TREATMENT, anchor={"skus": ["A"], "due_on": "2026-03-25"}
    )
    seen = []
    for m in sorted(looks):
        now = T0 + dt.timedelta(minutes=m)
        e, sends = advance(journey, e, facts, now)
        seen += [(now, s) for s in sends]
    exits = (
        kind == "opt_out"
        or "purchased" in journey.exits
        or "purchased_entry_items" in journey.exits
    )
    if exits:
        assert all(now < stop for now, _ in seen)
        assert all(s.due_at <= now for now, s in seen)


def test_an_entry_survives_its_row_unchanged():
    """What state.save writes, state.entries reads back: the same entry, history and all."""
    from dagster_project.journeys import state

    e = Entry(REMINDERS.id, "c1", "invoice:7", T0, engine.TREATMENT,
              anchor={"invoice_id": "7", "due_on": "2026-03-20", "skus": []})  # fmt: skip
    moved, _ = run(REMINDERS, e, Facts(zone="Europe/Istanbul"), [at(days=8)])
    row = state.to_row(moved, [s.id for s in REMINDERS.steps], at(days=8), "run-1")
    assert row["next_step"] == "due-today" and row["status"] == engine.ACTIVE
    assert state.from_row(row) == moved
