"""Generated data through the real Dagster assets into a real DuckDB file.

Everything the generator planted is known (``mess.jsonl``, ``mess_summary.json``,
row counts per entity), so the warehouse can be checked against it exactly.
"""

import json
import os
import shutil
from datetime import date
from pathlib import Path

import duckdb
import pytest
from dagster import AssetSelection, DagsterInstance, materialize

from dagster_project.demo import generate
from dagster_project.ingest.assets import daily_assets, raw_key, reference_assets
from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.ingest.specs import ALL_SPECS
from dagster_project.warehouse import WarehouseResource

END = date(2026, 11, 21)
DAYS = 120
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_ingest(instance, start: str, end: str, raise_on_error: bool = True):
    res = {"warehouse": WarehouseResource()}
    ref = materialize(reference_assets, instance=instance, resources=res, run_config=QUIET)
    assert ref.success
    return materialize(
        [*daily_assets, *reference_assets],
        selection=AssetSelection.assets(*daily_assets),
        instance=instance,
        resources=res,
        run_config=QUIET,
        raise_on_error=raise_on_error,
        tags={RANGE_START_TAG: start, RANGE_END_TAG: end},
    )


def raw_snapshot(path: Path) -> dict[str, list]:
    with duckdb.connect(str(path), read_only=True) as conn:
        out = {
            spec.entity: conn.execute(
                f"SELECT * EXCLUDE (_loaded_at) FROM raw.{spec.entity} ORDER BY ALL"
            ).fetchall()
            for spec in ALL_SPECS
        }
        out["rejects"] = conn.execute(
            "SELECT * EXCLUDE (rejected_at) FROM ingest.rejects ORDER BY ALL"
        ).fetchall()
    return out


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("world")
    summary = generate(
        out=base / "landing",
        truth_dir=base / "truth",
        customers=1500,
        days=DAYS,
        seed=11,
        end=END,
        mess_rate=0.01,
        late_rate=0.05,
    )
    env = {
        "SMS_LANDING_DIR": str(base / "landing"),
        "SMS_WAREHOUSE_PATH": str(base / "warehouse.duckdb"),
    }
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        with DagsterInstance.ephemeral() as instance:
            start = date.fromordinal(END.toordinal() - DAYS + 1).isoformat()
            result = run_ingest(instance, start, END.isoformat())
            assert result.success
            yield {
                "base": base,
                "summary": summary,
                "instance": instance,
                "start": start,
                "warehouse": base / "warehouse.duckdb",
                "mess": [
                    json.loads(line)
                    for line in (base / "truth/mess.jsonl").read_text().splitlines()
                ],
                "mess_summary": json.loads((base / "truth/mess_summary.json").read_text()),
            }


def test_every_written_row_is_loaded_or_rejected(world):
    with duckdb.connect(str(world["warehouse"]), read_only=True) as conn:
        for entity, written in world["summary"].rows.items():
            loaded = conn.execute(f"SELECT count(*) FROM raw.{entity}").fetchone()[0]
            rejected = conn.execute(
                "SELECT count(*) FROM ingest.rejects WHERE entity = ?", [entity]
            ).fetchone()[0]
            assert loaded + rejected == written, entity
            assert loaded > 0, entity


def test_rejects_are_exactly_the_planted_bad_lines_with_reasons(world):
    landing = world["base"] / "landing"
    with duckdb.connect(str(world["warehouse"]), read_only=True) as conn:
        rejects = conn.execute(
            "SELECT entity, source_file, line, error_type, column_name, reason FROM ingest.rejects"
        ).fetchall()
    got = {(e, os.path.relpath(f, landing), ln): k for e, f, ln, k, _, _ in rejects}
    planted = {(m["entity"], m["file"], m["line"]): m["kind"] for m in world["mess"]}
    assert len(planted) > 50  # the generator really planted mess at this rate
    assert got == planted
    assert all(reason and reason.strip() for *_, reason in rejects)
    # Type errors name the column a user sees in the file.
    wrong_type_columns = {c for _, _, _, k, c, _ in rejects if k == "wrong_type"}
    assert None not in wrong_type_columns
    assert wrong_type_columns & {"Qty", "Unit Price", "Date", "id", "created_at"}


def test_late_files_load_into_their_delivery_day_and_keep_their_timestamps(world):
    late_rows = world["mess_summary"]["pos_transactions"]["late_file_rows"]
    assert late_rows > 0
    with duckdb.connect(str(world["warehouse"]), read_only=True) as conn:
        delivered_late = conn.execute(
            "SELECT count(*) FROM raw.pos_transactions WHERE local_date < _partition_date"
        ).fetchone()[0]
    # Rows of late files minus the planted bad lines inside them.
    assert 0.8 * late_rows <= delivered_late <= late_rows


def test_phones_normalized_and_planted_invalid_numbers_flagged(world):
    with duckdb.connect(str(world["warehouse"]), read_only=True) as conn:
        valid, invalid, blank = conn.execute(
            """SELECT count(*) FILTER (phone_is_valid),
                      count(*) FILTER (NOT phone_is_valid AND phone IS NOT NULL),
                      count(*) FILTER (phone IS NULL)
               FROM raw.crm_contacts"""
        ).fetchone()
        mobile_share = conn.execute(
            # The US plan does not tell mobiles from landlines: fixed_line_or_mobile.
            "SELECT avg((phone_type IN ('mobile', 'fixed_line_or_mobile'))::INT) "
            "FROM raw.crm_contacts WHERE phone_is_valid"
        ).fetchone()[0]
        regions = {
            r[0]
            for r in conn.execute(
                "SELECT DISTINCT phone_region FROM raw.crm_contacts WHERE phone_is_valid"
            ).fetchall()
        }
        emails_clean = conn.execute(
            "SELECT bool_and(email_normalized = lower(trim(email))) FROM raw.crm_contacts "
            "WHERE email IS NOT NULL AND trim(email) <> ''"
        ).fetchone()[0]
    planted_invalid = world["mess_summary"]["crm_contacts"]["invalid_phone"]
    assert planted_invalid > 0
    # Every invalid number in the CRM is one the generator planted (none lost, none invented;
    # a planted number on a line that was also rejected is not in raw).
    assert 0 < invalid <= planted_invalid
    assert valid > 10 * invalid
    assert mobile_share > 0.95
    assert regions == {"US", "GB", "DE", "TR"}
    assert emails_clean


def test_materialization_metadata_tells_loaded_and_rejected(world):
    event = world["instance"].get_latest_materialization_event(raw_key("pos_transactions"))
    md = event.asset_materialization.metadata
    assert md["rows_loaded"].value > 0
    assert "rows_rejected" in md and "rejects_by_reason" in md and "preview" in md
    # Phones never appear unmasked in metadata.
    assert "+1" not in md["preview"].value.replace("+1••", "")


def test_rerunning_a_day_changes_nothing_and_a_bad_file_fails_without_touching_it(world):
    day = date.fromordinal(END.toordinal() - 30).isoformat()
    before = raw_snapshot(world["warehouse"])

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SMS_LANDING_DIR", str(world["base"] / "landing"))
        mp.setenv("SMS_WAREHOUSE_PATH", str(world["warehouse"]))
        assert run_ingest(world["instance"], day, day).success
        assert raw_snapshot(world["warehouse"]) == before

        # Same day again, now with a file that lacks a required column.
        broken = world["base"] / "broken_landing"
        shutil.copytree(world["base"] / "landing", broken)
        victim = sorted((broken / "pos/transactions" / day).glob("*.csv"))[0]
        lines = victim.read_text().splitlines()
        cols = lines[0].split(",")
        drop = cols.index("SKU")
        victim.write_text(
            "\n".join(",".join(c for i, c in enumerate(ln.split(",")) if i != drop) for ln in lines)
            + "\n"
        )
        mp.setenv("SMS_LANDING_DIR", str(broken))
        result = run_ingest(world["instance"], day, day, raise_on_error=False)
    assert not result.success
    failure = next(
        e for e in result.all_events if e.event_type_value == "STEP_FAILURE"
    ).event_specific_data.error
    message = failure.message + "".join(c.message for c in failure.cause and [failure.cause] or [])
    assert str(victim) in message and "'SKU'" in message
    # The failed load left POS exactly as it was (the other sources of that run did
    # load the day again, from the copied folder, which is their right).
    after = raw_snapshot(world["warehouse"])
    assert after["pos_transactions"] == before["pos_transactions"]
    assert [r for r in after["rejects"] if r[0] == "pos_transactions"] == [
        r for r in before["rejects"] if r[0] == "pos_transactions"
    ]
