"""Caps shared by campaigns and journeys: a collision is won by the higher priority.

A message not yet handed to a gateway gives way to a higher-priority one when both
cannot fit under the global marketing caps; one already sent never does, and the
caps hold for what is left either way.
"""

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from dagster_project.activation import eligibility as el
from dagster_project.activation.campaigns import Policy
from dagster_project.activation.caps import caps_hold

POLICY = Policy(marketing_per_day=1, marketing_per_week=3)
NOW = dt.datetime(2026, 3, 10, 14, 0, tzinfo=dt.UTC)  # 15:00 in Berlin: the window is open
PROGRAM = el.Program("abandoned-checkout-series", "marketing", (dt.time(9), dt.time(20)))
CANDIDATE = el.Candidate(
    "c1", frozenset(), phone_e164="+4915112345678", phone_type="mobile",
    consent_state="opted_in", marketing=el.MAY_RECEIVE, transactional=el.MAY_RECEIVE,
    time_zone="Europe/Berlin", country="DE",
    stated=("Europe/Berlin", "DE", None, "Europe/Berlin", "DE"),
)  # fmt: skip


def sent(campaign, hours, priority, movable, key=None):
    return el.Sent(campaign, NOW + dt.timedelta(hours=hours), priority, key or campaign, movable)


def deliver(history, priority=60):
    return el.deliver(
        CANDIDATE, PROGRAM, NOW, POLICY, history, held_out=False, variant="A", priority=priority
    )


def test_a_lower_priority_message_not_yet_sent_gives_way():
    d = deliver([sent("newcomer-offer", 3, 10, movable=True)])
    assert d.state == "planned"
    assert d.displaces == ("newcomer-offer",)


def test_a_holdout_row_gives_way_like_its_treated_twin_and_blocks_nothing():
    """A collision must leave both arms of the lower campaign alike: its holdout's row takes
    no slot, but is displaced exactly when a treated row would be."""
    held = el.Sent("newcomer-offer", NOW + dt.timedelta(hours=3), 10, "h", True, counts=False)
    d = deliver([held])
    assert d.state == "planned" and d.displaces == ("h",)
    # without a priority it neither blocks nor moves
    d = deliver([held], priority=None)
    assert d.state == "planned" and d.displaces == ()


def test_a_message_already_sent_keeps_its_slot():
    d = deliver([sent("newcomer-offer", -3, 10, movable=False)])
    assert d.state == "skipped" and "global cap 1 marketing per day" in d.reason
    assert d.displaces == ()


def test_a_higher_priority_message_is_not_displaced():
    d = deliver([sent("payment-ish", 3, 90, movable=True)])
    assert d.state == "skipped" and d.displaces == ()


def test_without_a_priority_nothing_moves():
    d = deliver([sent("newcomer-offer", 3, 10, movable=True)], priority=None)
    assert d.state == "skipped"


BERLIN = ZoneInfo("Europe/Berlin")


def day(s):
    return s.scheduled_at.astimezone(BERLIN).date()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=-6 * 24, max_value=6 * 24),  # hours from now
            st.integers(min_value=0, max_value=100),  # priority
            st.booleans(),  # movable: planned or deferred, not yet sent
        ),
        max_size=6,
    ),
    st.integers(min_value=0, max_value=100),
)
def test_what_is_left_keeps_the_caps_and_only_lower_movable_messages_give_way(rows, priority):
    history = [sent(f"p{i}", h, p, m, key=f"k{i}") for i, (h, p, m) in enumerate(rows)]
    assume(caps_hold([day(s) for s in history], POLICY))  # as admitted under the caps
    d = deliver(history, priority)
    by_key = {s.key: s for s in history}
    for key in d.displaces:
        assert by_key[key].movable and by_key[key].priority < priority
    left = [s for s in history if s.key not in d.displaces]
    if d.state in ("planned", "deferred"):
        # what stays, with the new message, keeps every cap
        assert caps_hold([*map(day, left), d.scheduled_at.astimezone(BERLIN).date()], POLICY)
        # a message that could stay beside it was not displaced
        for key in d.displaces:
            gone = by_key[key]
            assert not caps_hold(
                [*map(day, left), d.scheduled_at.astimezone(BERLIN).date(), day(gone)], POLICY
            )
    else:
        assert d.displaces == ()
        # skipped for the caps only when the messages that may not move fill them
        firm = [s for s in history if not (s.movable and s.priority < priority)]
        if d.reason.startswith("global cap"):
            today = NOW.astimezone(BERLIN).date()  # the window is open: the slot is now
            assert not caps_hold([*map(day, firm), today], POLICY)
