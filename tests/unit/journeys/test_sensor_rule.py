"""When the journeys sensor starts an advance (pure rule)."""

import datetime as dt

from dagster_project.journeys.assets import due_for_a_look

NOW = dt.datetime(2026, 12, 7, 11, 5, tzinfo=dt.UTC)
EVERY = dt.timedelta(minutes=15)


def test_the_first_look_and_new_data_always_start_an_advance():
    assert due_for_a_look(NOW, None, None, False, EVERY) == "no advance yet"
    last = NOW - dt.timedelta(minutes=2)
    assert due_for_a_look(NOW, None, last, True, EVERY).startswith("new data landed")


def test_a_step_falling_due_starts_one_within_the_minute():
    last = NOW - dt.timedelta(minutes=5)
    assert due_for_a_look(NOW, NOW - dt.timedelta(seconds=30), last, False, EVERY).startswith(
        "a step fell due"
    )
    assert due_for_a_look(NOW, NOW + dt.timedelta(minutes=1), last, False, EVERY) is None


def test_nothing_new_nothing_due_waits_for_the_quarter_hour():
    assert due_for_a_look(NOW, None, NOW - dt.timedelta(minutes=14), False, EVERY) is None
    assert due_for_a_look(NOW, None, NOW - dt.timedelta(minutes=15), False, EVERY).startswith(
        "no advance for"
    )
