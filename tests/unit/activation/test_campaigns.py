"""Campaign files: the examples load; a mistake names the file and the field."""

from pathlib import Path

import pytest
import yaml

from dagster_project.activation.campaigns import CampaignError, load_campaign, load_campaigns
from dagster_project.settings import REPO_ROOT

EXAMPLES = REPO_ROOT / "campaigns"


def test_the_example_campaigns_load_in_priority_order():
    campaigns = load_campaigns(EXAMPLES)
    assert [c.id for c in campaigns] == [
        "abandoned-checkout", "vip-thank-you", "winback-lapsed", "newcomer-offer",
    ]  # fmt: skip
    newcomer = next(c for c in campaigns if c.id == "newcomer-offer")
    assert newcomer.segments == ["prospect"]
    assert [(f.field, f.op, f.value) for f in newcomer.filters] == [("orders_count", "=", 0)]


def write(tmp_path: Path, change: dict, drop: tuple[str, ...] = ()) -> Path:
    data = yaml.safe_load((EXAMPLES / "winback-lapsed.yml").read_text())
    for key in drop:
        data.pop(key)
    data.update(change)
    path = tmp_path / f"{data.get('id', 'winback-lapsed')}.yml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


@pytest.mark.parametrize(
    "change, drop, field",
    [
        ({"segments": ["lapsed", "whales"]}, (), "field segments"),
        ({"kind": "promo"}, (), "field kind"),
        ({"send_window": {"start": "07:00", "end": "20:00"}}, (), "field send_window"),
        ({"send_window": {"start": "10:00", "end": "22:00"}}, (), "field send_window"),
        ({"filters": [{"field": "credit_score", "op": ">", "value": 3}]}, (), "field filters[0]"),
        ({"filters": [{"field": "country", "op": ">", "value": "US"}]}, (), "field filters[0]"),
        (
            {"filters": [{"field": "orders_count", "op": "=", "value": "DROP TABLE"}]},
            (),
            "field filters[0]",
        ),
        ({"holdout_percent": 80}, (), "field holdout_percent"),
        ({"fallback_language": "fr"}, (), "fallback_language"),
        ({"sender_ids": {"US": "+1555"}}, (), "field sender_ids"),
        ({"unknown_option": 1}, (), "field unknown_option"),
        ({}, ("start_date",), "field start_date"),
        ({"id": "Not An Id"}, (), "field id"),
    ],
)
def test_a_bad_campaign_file_names_the_file_and_the_field(tmp_path, change, drop, field):
    path = write(tmp_path, change, drop)
    with pytest.raises(CampaignError) as err:
        load_campaign(path)
    assert str(path) in str(err.value) and field in str(err.value)


def test_the_id_must_match_the_file_name(tmp_path):
    path = write(tmp_path, {})
    path = path.rename(tmp_path / "other.yml")
    with pytest.raises(CampaignError, match="field id: must be the file name 'other'"):
        load_campaign(path)


def test_a_template_error_names_the_language(tmp_path):
    def strict(text):
        if "{{ oops" in text:
            raise ValueError("unclosed tag")

    path = write(tmp_path, {"templates": {"en": "ok", "de": "{{ oops"}})
    with pytest.raises(CampaignError, match=r"field templates\.de: unclosed tag"):
        load_campaign(path, strict)


def test_not_yaml_is_a_clear_error(tmp_path):
    path = tmp_path / "broken.yml"
    path.write_text("id: [unclosed\n")
    with pytest.raises(CampaignError, match="not valid YAML"):
        load_campaign(path)


def test_not_utf8_names_the_file_and_line(tmp_path):
    path = write(tmp_path, {})
    lines = [line.encode() for line in path.read_text().splitlines()]
    lines.insert(2, "# Café, saved in Latin-1".encode("latin-1"))
    path.write_bytes(b"\n".join(lines))
    with pytest.raises(CampaignError) as err:
        load_campaign(path)
    assert str(err.value) == (
        f"{path}: line 3, column 6: not UTF-8 text (byte 0xe9); save the file as UTF-8"
    )


def test_a_yaml_syntax_error_names_the_file_and_line_not_a_unicode_string(tmp_path):
    path = write(tmp_path, {})
    lines = path.read_text().splitlines()
    lines.insert(3, "segments: [lapsed")  # an unclosed list, then more keys
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(CampaignError) as err:
        load_campaign(path)
    message = str(err.value)
    assert message.startswith(f"{path}: line 5, column ")
    assert "not valid YAML" in message and "flow sequence at line 4" in message
    assert "<unicode string>" not in message and "\n" not in message


def test_a_key_given_twice_names_its_line(tmp_path):
    path = write(tmp_path, {})
    text = path.read_text()
    path.write_text(text + "holdout_percent: 20\n")
    with pytest.raises(CampaignError) as err:
        load_campaign(path)
    line = len(text.splitlines()) + 1
    assert str(err.value) == (
        f"{path}: line {line}, column 1: not valid YAML: duplicate key 'holdout_percent'"
    )


def test_an_unknown_field_lists_the_valid_ones_with_its_line(tmp_path):
    path = write(tmp_path, {"send_windw": {"start": "09:00"}})
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "send_windw" in t)
    with pytest.raises(CampaignError) as err:
        load_campaign(path)
    message = str(err.value)
    assert (
        f"field send_windw: Extra inputs are not permitted (line {line}; valid fields: "
        "budget_usd, cadence," in message
    )
    assert ", send_window," in message and ", templates," in message
    assert "source" not in message.split("valid fields:")[1]  # internal, not for a file


def test_an_unknown_nested_field_lists_that_level(tmp_path):
    path = write(tmp_path, {"send_window": {"begin": "09:00"}})
    with pytest.raises(CampaignError, match=r"field send_window\.begin: Extra inputs are not "
                       r"permitted \(line \d+; valid fields: end, start\)$"):  # fmt: skip
        load_campaign(path)


def test_a_field_error_names_its_line(tmp_path):
    path = write(tmp_path, {"holdout_percent": 80})
    line = next(
        i for i, t in enumerate(path.read_text().splitlines(), 1) if t.startswith("holdout")
    )
    with pytest.raises(CampaignError, match=rf"field holdout_percent: .* \(line {line}\)$"):
        load_campaign(path)


def test_yaml_files_load_like_yml_and_one_id_in_two_files_is_refused(tmp_path):
    folder = tmp_path / "campaigns"
    folder.mkdir()
    write(folder, {}).rename(folder / "winback-lapsed.yaml")
    assert [c.id for c in load_campaigns(folder)] == ["winback-lapsed"]
    write(folder, {})  # winback-lapsed.yml beside it
    with pytest.raises(CampaignError) as err:
        load_campaigns(folder)
    assert str(folder / "winback-lapsed.yml") in str(err.value)
    assert str(folder / "winback-lapsed.yaml") in str(err.value)
