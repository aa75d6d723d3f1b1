"""The suites and the validation module, without Dagster: GX on pandas batches.

Each gate is fed data broken the way it guards against and must fail with the
right severity; clean data must pass; phones never leave the module unmasked.
"""

import json
from datetime import date, timedelta

import pandas as pd
import pytest

from dagster_project.quality import datasets, validation
from dagster_project.quality.checks import EXPECTATIONS_DIR

SUITES = sorted(p.stem for p in EXPECTATIONS_DIR.glob("*.json"))


def suite(name):
    return validation.load_suite(EXPECTATIONS_DIR / f"{name}.json")


def test_every_dataset_has_its_suite_and_every_suite_is_used():
    from dagster_project.activation.assets import PLAN_GATES  # the plans' gates, by kind

    used = {d.suite for d in datasets.ALL_DATASETS} | set(PLAN_GATES.values())
    assert used == set(SUITES)


@pytest.mark.parametrize("name", SUITES)
def test_suite_files_load_with_gx_and_explain_every_expectation(name):
    raw = json.loads((EXPECTATIONS_DIR / f"{name}.json").read_text())
    s = suite(name)
    assert s.name == name
    assert len(s.expectations) == len(raw["expectations"]) > 0
    assert all(e["meta"]["why"].strip() for e in raw["expectations"])
    # Every gated dataset has at least one gate; a signal-only suite says so, and is one.
    signal_only = raw["meta"].get("signal_only", False)
    assert validation.suite_is_blocking(s) != signal_only


@pytest.mark.parametrize("name", ["sms_audience", "sms_transactional_audience"])
def test_the_compliance_gates_are_critical_throughout(name):
    assert {validation._severity(e) for e in suite(name).expectations} == {"critical"}


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("expectations")[0]["meta"].pop("why") and None, "expectations"),
        (lambda d: d["expectations"][0]["meta"].pop("why"), "meta.why"),
        (lambda d: d.update(name="other"), "'name'"),
        (lambda d: d["expectations"][0].update(severity="fatal"), "'severity'"),
        (lambda d: d["expectations"][0].update(type="expect_nonsense"), "Great Expectations"),
    ],
)
def test_a_broken_suite_file_names_the_file_and_the_field(tmp_path, mutate, message):
    data = json.loads((EXPECTATIONS_DIR / "raw_crm_tickets.json").read_text())
    mutate(data)
    path = tmp_path / "raw_crm_tickets.json"
    path.write_text(json.dumps(data))
    with pytest.raises(validation.SuiteError) as err:
        validation.load_suite(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_invalid_json_names_the_file(tmp_path):
    path = tmp_path / "raw_crm_tickets.json"
    path.write_text("{not json")
    with pytest.raises(validation.SuiteError, match="not valid JSON"):
        validation.load_suite(path)


def pos_batch(n=100, invalid_share=0.0, **overrides):
    invalid = int(n * invalid_share)
    frame = pd.DataFrame(
        {
            "transaction_id": [f"t{i}" for i in range(n)],
            "sku": ["SKU-1"] * n,
            "event_type": ["Payment"] * n,
            "quantity": [1] * n,
            "net_sales": [10.0] * n,
            "currency": ["USD"] * n,
            "customer_phone": [f"+1312555{i:04d}" for i in range(n)],
            "customer_phone_is_valid": [False] * invalid + [True] * (n - invalid),
            "_partition_date": [date(2026, 11, 21)] * n,
            "_source_file": ["pos/transactions/2026-11-21/a.csv"] * n,
            "_source_line": list(range(2, n + 2)),
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return with_sizes(frame, "customer_phone")


def with_sizes(frame, *phones):
    """The size columns the batch query adds (datasets._range)."""
    frame["batch_rows"] = len(frame)
    for phone in phones:
        frame[f"{phone}_rows"] = int(frame[phone].notna().sum())
    return frame


def run(frame, name="raw_pos_transactions", phones=("customer_phone",)):
    ds = next(d for d in datasets.ALL_DATASETS if d.suite == name)
    return validation.validate(
        frame, suite(name), phone_columns=phones, example_columns=ds.example_columns
    )


def test_clean_pos_day_passes():
    out = run(pos_batch())
    assert out.passed, out.reason()
    assert out.rows == 100 and len(out.outcomes) == 9


def test_pos_day_with_40_percent_invalid_phones_fails_the_gate_with_masked_examples():
    out = run(pos_batch(invalid_share=0.4))
    assert not out.passed and out.gate_failed and out.severity == "ERROR"
    [failed] = out.failed
    assert failed.column == "customer_phone_is_valid"
    assert failed.unexpected_count == 40 and failed.unexpected_percent == pytest.approx(40.0)
    assert 0 < len(failed.examples) <= validation.MAX_EXAMPLES
    shown = json.dumps(failed.examples, ensure_ascii=False)
    assert "+1312555" not in shown and "••" in shown
    # GX's own stored result (the Data Docs page) is masked too.
    assert "+1312555" not in json.dumps(out.result.to_json_dict())


def test_a_few_invalid_phones_are_tolerated():
    assert run(pos_batch(invalid_share=0.05)).passed


def test_negative_payment_and_positive_refund_fail():
    out = run(
        pos_batch(
            n=4,
            event_type=["Payment", "Refund", "Payment", "Refund"],
            net_sales=[-5.0, 5.0, 10.0, -10.0],
        )
    )
    assert {(o.column, o.unexpected_count) for o in out.failed} == {("net_sales", 1)}
    assert len(out.failed) == 2 and out.gate_failed


def test_amounts_are_bounded_in_units_of_their_own_currency():
    # A million lira (about 29,000 US dollars) is a large but real basket: the M benchmark
    # world holds such an order, and a bound of a million units blocked its whole backfill.
    lira = run(pos_batch(n=3, currency=["TRY"] * 3, net_sales=[1_012_700.0, 10.0, 10.0]))
    assert lira.passed, lira.reason()
    # A parsing error (digits run together) is still caught, payment and refund alike.
    garbage = run(
        pos_batch(
            n=3,
            event_type=["Payment", "Refund", "Payment"],
            net_sales=[2_500_000_000.0, -2_500_000_000.0, 10.0],
        )
    )
    assert {(o.column, o.unexpected_count) for o in garbage.failed} == {("net_sales", 1)}
    assert len(garbage.failed) == 2 and garbage.gate_failed


def test_a_file_delivered_twice_fails_uniqueness_but_one_resent_line_does_not():
    once = pos_batch(n=50)
    assert run(pd.concat([once, once.iloc[:1]], ignore_index=True)).passed
    out = run(pd.concat([once, once], ignore_index=True))
    assert [o.expectation for o in out.failed] == ["expect_compound_columns_to_be_unique"]


def test_a_small_batch_is_judged_on_gross_breakage_only():
    # A quiet day: 17 lines. Two invalid phones are 12%, which must not stop the
    # pipeline; a day where most phones are broken still must.
    few_phones = pos_batch(n=17, invalid_share=2 / 17)
    assert run(few_phones).passed
    broken_phones = pos_batch(n=17, invalid_share=12 / 17)
    assert [o.column for o in run(broken_phones).failed] == ["customer_phone_is_valid"]


def test_a_gate_reason_names_the_file_and_line_of_the_first_failing_rows():
    frame = pos_batch(n=6, event_type=["Payment", "Refund"] * 3, net_sales=[10.0, 5.0] * 3)
    frame["_source_file"] = "/data/landing/pos/transactions/2026-11-21/a.csv"
    frame.loc[5, "_source_line"] = None  # a CSV row read without its line keeps its key
    ds = next(d for d in datasets.ALL_DATASETS if d.suite == "raw_pos_transactions")
    out = validation.validate(
        frame,
        suite("raw_pos_transactions"),
        phone_columns=("customer_phone",),
        example_columns=ds.example_columns,
        source_root="/data/landing",
    )
    assert out.reason() == (
        "expect_column_values_to_be_between(net_sales): 3 unexpected (100.0%) at "
        "pos/transactions/2026-11-21/a.csv:3, pos/transactions/2026-11-21/a.csv:5, "
        "pos/transactions/2026-11-21/a.csv (transaction_id=t5)"
    )
    assert "+1312555" not in out.reason()


def quarantine_batch(rows: list[tuple[int, int]]) -> pd.DataFrame:
    """(rows loaded, rows quarantined) per delivery day, as datasets.QUARANTINE_DATASETS."""
    return pd.DataFrame(
        {
            "day": [date(2026, 11, 21) - timedelta(days=i) for i in range(len(rows))],
            "rows_loaded": [a for a, _ in rows],
            "rows_quarantined": [b for _, b in rows],
            "batch_rows": [a + b for a, b in rows],
            "quarantined_share": [b / (a + b) for a, b in rows],
            "first_fault": ["future_dated (occurred_at)"] * len(rows),
            "_source_file": ["/data/landing/crm/consent/2026-11-21/c.jsonl"] * len(rows),
            "_source_line": [4] * len(rows),
        }
    )


@pytest.mark.parametrize(
    "day, gate_fails",
    [
        ((2, 3), False),  # a quiet day, three rows dated next year: quarantined, day loads
        ((27, 3), False),
        ((980, 20), False),  # 2%: typos
        ((940, 60), True),  # 6% of a normal day: the export is broken
        ((10, 12), True),  # most of a small day
        ((150, 40), False),  # a small day, under half
    ],
)
def test_the_quarantine_gate_stops_only_a_systemic_share(day, gate_fails):
    out = run(quarantine_batch([day]), "raw_quarantine", ())
    assert out.gate_failed == gate_fails, out.reason()
    if gate_fails:
        assert out.reason().endswith("at /data/landing/crm/consent/2026-11-21/c.jsonl:4")


def test_a_suite_reading_a_column_the_batch_lacks_fails_with_the_error():
    out = run(pos_batch().drop(columns=["batch_rows"]))
    assert not out.passed
    assert any(o.error and "batch_rows" in o.error for o in out.failed), out.reason()


def consent_batch(**overrides):
    n = 4
    frame = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n)],
            "event_type": ["opt_in", "opt_out", "opt_in", "opt_in"],
            "source": ["web_form", "keyword", "pos_keypad", "checkout_box"],
            "phone": ["+4915112345678"] * n,
            "phone_is_valid": [True] * n,
            "consent_text_version": ["v2", None, "v1", "v2"],
            "days_after_delivery": [0] * n,
            "_partition_date": [date(2026, 11, 21)] * n,
            "_source_file": ["crm/consent/x.jsonl"] * n,
            "_source_line": list(range(1, n + 1)),
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return with_sizes(frame, "phone")


def test_consent_events_of_unknown_type_or_source_fail():
    assert run(consent_batch(), "raw_crm_consent", ("phone",)).passed
    out = run(
        consent_batch(event_type=["opt_in", "unsubscribe", "opt_in", "opt_in"]),
        "raw_crm_consent",
        ("phone",),
    )
    assert [o.column for o in out.failed] == ["event_type"] and out.gate_failed
    out = run(
        consent_batch(source=["web_form", "keyword", "sms_blast", "checkout_box"]),
        "raw_crm_consent",
        ("phone",),
    )
    assert [o.column for o in out.failed] == ["source"]


def test_an_opt_in_without_text_version_fails():
    out = run(
        consent_batch(consent_text_version=["v2", None, None, "v2"]), "raw_crm_consent", ("phone",)
    )
    assert [o.column for o in out.failed] == ["consent_text_version"]


def audience_batch(**overrides):
    frame = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3"],
            "phone_e164": ["+4915112345678", "+447911123456", "+13125550100"],
            "latest_consent_event": ["opt_in"] * 3,
            "latest_consent_source": ["web_form"] * 3,
            "latest_consent_text_version": ["v2"] * 3,
            "suppression_reasons": [None] * 3,
            "phone_is_valid": [True] * 3,
            "phone_type": ["mobile", "mobile", "fixed_line_or_mobile"],
            "may_receive_marketing": [True] * 3,
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


@pytest.mark.parametrize(
    "broken, column",
    [
        ({"latest_consent_event": ["opt_in", "opt_out", "opt_in"]}, "latest_consent_event"),
        ({"latest_consent_event": ["opt_in", "none", "opt_in"]}, "latest_consent_event"),
        ({"suppression_reasons": [None, "manual_block", None]}, "suppression_reasons"),
        ({"phone_is_valid": [True, False, True]}, "phone_is_valid"),
        ({"phone_type": ["mobile", "fixed_line", "mobile"]}, "phone_type"),
        # the one rule refuses what no single fact above shows (a shared hub phone)
        ({"may_receive_marketing": [True, False, True]}, "may_receive_marketing"),
        ({"customer_id": ["c1", "c1", "c3"]}, "customer_id"),
        ({"phone_e164": ["+4915112345678", "+4915112345678", "+13125550100"]}, "phone_e164"),
    ],
)
def test_compliance_gate_fails_on_any_unsendable_row(broken, column):
    assert run(audience_batch(), "sms_audience", ("phone_e164",)).passed
    out = run(audience_batch(**broken), "sms_audience", ("phone_e164",))
    assert [o.column for o in out.failed] == [column]
    assert out.severity == "ERROR"
    assert "+4915112345678" not in json.dumps([o.examples for o in out.outcomes])


def test_lifecycle_gate_needs_exactly_one_stage_per_customer():
    ok = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "stage_rows": [1, 1],
            "lifecycle_stage": ["new", "lapsed"],
            "in_dim_customers": [True, True],
        }
    )
    assert run(ok, "dim_customer_lifecycle", ()).passed
    out = run(ok.assign(stage_rows=[0, 2]), "dim_customer_lifecycle", ())
    assert [(o.column, o.unexpected_count) for o in out.failed] == [("stage_rows", 2)]


def transactional_batch(**overrides):
    frame = audience_batch(**overrides)
    frame["may_receive_transactional"] = overrides.get("may_receive_transactional", [True] * 3)
    return frame


def run_transactional(frame):
    return validation.validate(
        frame,
        suite("sms_transactional_audience"),
        phone_columns=("phone_e164",),
        example_columns=("customer_id", "phone_e164", "latest_consent_event"),
    )


def test_transactional_gate_needs_no_opt_in():
    """A receipt or a payment reminder goes to a phone that never opted in to marketing."""
    no_opt_in = {
        "latest_consent_event": ["none", "opt_in", "none"],
        "latest_consent_source": [None, "web_form", None],
        "latest_consent_text_version": [None, "v2", None],
        "may_receive_marketing": [False, True, False],
    }
    assert run_transactional(transactional_batch(**no_opt_in)).passed
    # ... while the marketing gate refuses the same rows.
    assert not run(audience_batch(**no_opt_in), "sms_audience", ("phone_e164",)).passed


@pytest.mark.parametrize(
    "broken, column",
    [
        # STOP holds for every kind of message
        ({"latest_consent_event": ["opt_in", "opt_out", "none"]}, "latest_consent_event"),
        ({"suppression_reasons": [None, "hard_bounce", None]}, "suppression_reasons"),
        ({"phone_is_valid": [True, False, True]}, "phone_is_valid"),
        ({"phone_type": ["mobile", "fixed_line", "mobile"]}, "phone_type"),
        ({"may_receive_transactional": [True, False, True]}, "may_receive_transactional"),
        ({"customer_id": ["c1", "c1", "c3"]}, "customer_id"),
    ],
)
def test_transactional_gate_fails_on_any_unsendable_row(broken, column):
    out = run_transactional(transactional_batch(**broken))
    assert [o.column for o in out.failed] == [column]
    assert out.severity == "ERROR"
    assert "+447911123456" not in json.dumps([o.examples for o in out.outcomes])


def test_a_volume_check_never_judges_the_day_still_landing():
    """Intra-day cuts: today's files are half there at 11:00; the last complete day is
    judged instead, and a day in the past is judged as loaded."""
    from datetime import date

    from dagster_project.quality.checks import day_to_judge

    today = date(2026, 12, 7)
    assert day_to_judge(today, today) == date(2026, 12, 6)
    assert day_to_judge(date(2026, 12, 5), today) == date(2026, 12, 5)
