"""The daily_e2e phase's pure helpers: step times from event-log records, failed gates."""

from bench.daily import failures, share, step_seconds


def test_step_seconds_from_start_to_end():
    records = [
        (None, "RUN_START", 0.0),
        ("load", "STEP_START", 1.0),
        ("load", "STEP_SUCCESS", 3.5),
        ("gate", "STEP_START", 3.6),
        ("gate", "STEP_FAILURE", 4.1),
    ]
    assert step_seconds(records) == {"load": 2.5, "gate": 0.5}


def test_a_step_that_never_ended_or_never_started_is_left_out():
    records = [("a", "STEP_START", 1.0), ("b", "STEP_SUCCESS", 2.0)]
    assert step_seconds(records) == {}


def test_a_restarted_step_counts_from_its_first_start():
    records = [
        ("a", "STEP_START", 1.0),
        ("a", "STEP_START", 2.0),
        ("a", "STEP_SUCCESS", 4.0),
    ]
    assert step_seconds(records) == {"a": 3.0}


def test_only_failed_error_checks_are_failed_gates():
    evaluations = [
        ("raw/shop_orders:raw_shop_orders", True, "ERROR"),
        ("marts/dim_sms_audience:sms_audience", False, "ERROR"),
        ("raw/crm_tickets:raw_daily_volume", False, "WARN"),
    ]
    assert failures(evaluations) == ["marts/dim_sms_audience:sms_audience"]


def test_share_is_what_the_steps_leave_of_the_job():
    assert share({"a": 1.0, "b": 2.0}, 4.5) == {"in_steps": 3.0, "outside_steps": 1.5}
