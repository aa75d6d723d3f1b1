"""Journey files: the shipped ones load; a mistake names the file and the field."""

from pathlib import Path

import pytest
import yaml

from dagster_project.activation.campaigns import BrokenFile
from dagster_project.activation.resources import validate_journey_template
from dagster_project.journeys.spec import JourneyError, load_journey, scan_journeys
from dagster_project.settings import REPO_ROOT

SHIPPED = REPO_ROOT / "journeys"


def test_the_five_shipped_journeys_load_in_priority_order():
    journeys, broken = scan_journeys(SHIPPED, validate_journey_template)
    assert broken == []
    assert [j.id for j in journeys] == [
        "payment-reminders", "abandoned-checkout-series", "welcome-series",
        "winback-series", "cross-sell",
    ]  # fmt: skip
    reminders = journeys[0]
    assert reminders.kind == "transactional" and reminders.holdout_percent == 0
    assert [s.action for s in reminders.steps] == ["wait_until", "send"] * 3
    assert [s.wait_until.offset_days for s in reminders.steps if s.wait_until] == [-3, 0, 7]


def write(tmp_path: Path, change: dict, base: str = "abandoned-checkout-series") -> Path:
    data = yaml.safe_load((SHIPPED / f"{base}.yml").read_text())
    data.update(change)
    path = tmp_path / f"{data['id']}.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def steps(*more):
    send = {"id": "hello", "send": {"templates": {"en": "{{ greeting }}, hello"}}}
    return [send, *more]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"entry": {"event": "checkout_left"}}, "field entry.event"),
        ({"entry": {"event": "segment_entered"}}, "segment is required"),
        ({"entry": {"event": "order", "segment": "vip"}}, "segment is required"),
        ({"entry": {"event": "segment_entered", "segment": "whales"}}, "unknown segment"),
        ({"entry": {"event": "reply_keyword"}}, "keywords are required"),
        ({"exits": ["purchased"]}, "exits must include opted_out"),
        ({"exits": ["opted_out", "invoice_paid"]}, "invoice_paid needs the invoice_open"),
        ({"steps": [{"id": "w", "wait": {"hours": 1}}]}, "at least one send step"),
        ({"steps": steps({"id": "w", "wait": {}})}, "field steps[1].wait"),
        (
            {"steps": steps({"id": "w", "wait": {"hours": 1}, "send": {"templates": {"en": "x"}}})},
            "exactly one of",
        ),
        (
            {
                "steps": steps(
                    {"id": "b", "branch": {"when": {"bought_since_entry": True}, "then": "nowhere"}}
                )
            },
            "no such step",
        ),
        (
            {
                "steps": steps(
                    {"id": "b", "branch": {"when": {"bought_since_entry": True}, "then": "hello"}}
                )
            },
            "goes back",
        ),
        (
            {
                "steps": steps(
                    {
                        "id": "b",
                        "branch": {"when": {"bought_since_entry": True, "in_segment": "vip"}},
                    }
                )
            },
            "exactly one of",
        ),
        ({"steps": steps({"id": "hello", "wait": {"hours": 1}})}, "step ids must be unique"),
        ({"steps": [{"id": "s", "send": {"templates": {"de": "Hallo"}}}]}, "fallback language"),
        (
            {"steps": [{"id": "s", "send": {"templates": {"en": "{{ invoice_number }}"}}}]},
            "unknown token 'invoice_number'",
        ),
        ({"kind": "transactional"}, "only invoice reminders may be transactional"),
        ({"reentry": {"policy": "every"}}, "days is required"),
        ({"send_window": {"start": "07:00", "end": "20:00"}}, "field send_window"),
        ({"holdout_percent": 80}, "field holdout_percent"),
        ({"colour": "red"}, "field colour"),
    ],
)
def test_a_mistake_names_the_file_and_the_field(tmp_path, change, field):
    path = write(tmp_path, change)
    with pytest.raises(JourneyError) as err:
        load_journey(path, validate_journey_template)
    assert str(path) in str(err.value)
    assert field in str(err.value)


def test_a_broken_file_is_kept_with_its_error_and_the_others_load(tmp_path):
    for name in ("welcome-series", "cross-sell"):
        (tmp_path / f"{name}.yml").write_text((SHIPPED / f"{name}.yml").read_text())
    write(tmp_path, {"id": "broken", "entry": {"event": "segment_entered", "segment": "at-risk"}})
    journeys, broken = scan_journeys(tmp_path, validate_journey_template)
    assert [j.id for j in journeys] == ["welcome-series", "cross-sell"]
    assert [b.id for b in broken] == ["broken"]
    assert "broken.yml" in broken[0].error and "entry" in broken[0].error


def test_a_journey_may_not_take_a_campaign_id(tmp_path):
    write(tmp_path, {"id": "winback-lapsed"})
    journeys, broken = scan_journeys(tmp_path, None, frozenset({"winback-lapsed"}))
    assert journeys == []
    assert isinstance(broken[0], BrokenFile) and "also a campaign id" in broken[0].error


def test_a_missing_folder_holds_no_journeys(tmp_path):
    assert scan_journeys(tmp_path / "nope") == ([], [])
