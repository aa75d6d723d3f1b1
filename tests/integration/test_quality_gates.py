"""Blocking for real: a failed gate stops everything downstream, in the run and after it.

A small generated world is loaded and built once (every gate passes). Each test
then works on its own copy of the warehouse and landing folder with a fresh
Dagster instance, breaks the data the way a gate guards against, and runs the
real jobs: the daily load the schedule starts, the dbt build its sensor starts,
a manual publish. Nothing downstream of the failed gate may materialize, and
the reason must be in the check's metadata, phones masked.
"""

import csv
import json
import shutil
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import AssetCheckKey, AssetKey, AssetSelection, DagsterInstance

from dagster_project.definitions import defs, materialize_selection
from dagster_project.ingest.assets import daily_assets, reference_assets
from dagster_project.ingest.jobs import RANGE_END_TAG, RANGE_START_TAG
from dagster_project.publish.assets import analytics_snapshot
from dagster_project.quality import mart_checks, raw_checks
from dagster_project.transform import dbt_models

END = date(2026, 11, 21)
DAYS = 60
AS_OF = (END + timedelta(days=1)).isoformat()
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
DBT_CONFIG = {"ops": {"dbt_models": {"config": {"as_of": AS_OF}}}}


@pytest.fixture(scope="module")
def world(tmp_path_factory, generated):
    """Every day but the last loaded, built and published in one run; all gates pass."""
    base = tmp_path_factory.mktemp("gates")
    generated(customers=1500, days=DAYS, seed=3, end=END).copy_to(base)
    start = (END - timedelta(days=DAYS - 1)).isoformat()
    with pytest.MonkeyPatch.context() as mp:
        env(mp, base)
        with DagsterInstance.ephemeral() as instance:
            assert materialize_selection(
                AssetSelection.assets(*reference_assets),
                instance=instance,
                run_config=QUIET,
            ).success
            result = materialize_selection(
                AssetSelection.assets(*daily_assets, dbt_models, analytics_snapshot),
                instance=instance,
                run_config={**QUIET, **DBT_CONFIG},
                tags={RANGE_START_TAG: start, RANGE_END_TAG: (END - timedelta(days=1)).isoformat()},
            )
            assert result.success
            gx_checks = {s.name for c in [*raw_checks, *mart_checks] for s in c.check_specs}
            evaluations = [
                e for e in result.get_asset_check_evaluations() if e.check_name in gx_checks
            ]
            # 7 raw suites + 7 quarantine shares + 6 volume bands (customer invoices have
            # none: datasets.LOW_VOLUME_TABLES) + 3 demand signals + 3 mart gates, all
            # passing on clean data.
            assert len(evaluations) == 26
            assert [e for e in evaluations if not e.passed] == []
    return base


def env(mp, base):
    mp.setenv("SMS_DATA_DIR", str(base))
    mp.setenv("SMS_LANDING_DIR", str(base / "landing"))
    mp.setenv("SMS_WAREHOUSE_PATH", str(base / "warehouse.duckdb"))
    mp.setenv("SMS_PUBLISHED_PATH", str(base / "published" / "warehouse.duckdb"))


@pytest.fixture
def copy(world, tmp_path, monkeypatch):
    """This test's own copy of the built world, and its own Dagster instance."""
    for name in ("landing", "warehouse.duckdb", "published"):
        src = world / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, tmp_path / name)
    env(monkeypatch, tmp_path)
    with DagsterInstance.ephemeral() as instance:
        yield tmp_path, instance


def job(name):
    return defs.resolve_job_def(name)


def materialized(result) -> set[AssetKey]:
    return {e.asset_key for e in result.get_asset_materialization_events()}


def evaluation(result, asset: str, check: str):
    [e] = [
        e
        for e in result.get_asset_check_evaluations()
        if e.asset_key == AssetKey(asset.split("/")) and e.check_name == check
    ]
    return e


def meta(e, key):
    value = e.metadata[key]
    return getattr(value, "value", getattr(value, "md_str", getattr(value, "text", value)))


def marts_as_of(base) -> str:
    with duckdb.connect(str(base / "warehouse.duckdb"), read_only=True) as conn:
        return str(conn.execute("SELECT max(as_of_date) FROM marts.dim_customers").fetchone()[0])


def break_phones(base, day: date, share: float = 0.5) -> list[str]:
    """Replace the phone of the first ``share`` of the day's POS lines with garbage."""
    files = sorted((base / "landing" / "pos" / "transactions" / day.isoformat()).glob("*.csv"))
    assert files
    originals = []
    for f in files:
        rows = list(csv.reader(f.open(newline="")))
        header, body = rows[0], rows[1:]
        col = header.index("Customer Phone")
        for row in body[: max(1, int(len(body) * share))]:
            if len(row) == len(header):
                if row[col]:
                    originals.append(row[col])
                row[col] = "12"
        with f.open("w", newline="") as out:
            csv.writer(out).writerows([header, *body])
    return originals


def test_pos_day_of_invalid_phones_stops_the_scheduled_load_the_build_and_the_publish(copy):
    base, instance = copy
    published = base / "published" / "warehouse.duckdb"
    published_before = published.stat().st_mtime_ns
    day_folder = base / "landing" / "pos" / "transactions" / END.isoformat()
    pristine = shutil.copytree(day_folder, base / "pristine")
    assert break_phones(base, END)

    # The run the morning schedule starts: the daily job for the new delivery day.
    load = job("ingest_daily").execute_in_process(
        instance=instance, partition_key=END.isoformat(), run_config=QUIET, raise_on_error=False
    )
    assert not load.success
    gate = evaluation(load, "raw/pos_transactions", "raw_pos_transactions")
    assert not gate.passed and gate.severity.value == "ERROR"
    assert "customer_phone_is_valid" in meta(gate, "reason")
    examples = meta(gate, "examples")
    assert "customer_phone_is_valid" in examples and "| 12 |" not in examples  # masked
    assert f"pos/transactions/{END}/" in examples  # the file (and line) to look at
    # The other sources loaded and passed: a gate stops what depends on its data only.
    assert evaluation(load, "raw/shop_orders", "raw_shop_orders").passed

    # The marts_after_load sensor only follows successful loads; someone runs the build
    # by hand anyway: the gate's failure still stops it, with the reason.
    build = job("refresh_marts").execute_in_process(
        instance=instance, run_config={**QUIET, **DBT_CONFIG}, raise_on_error=False
    )
    assert not build.success
    assert materialized(build) == set()
    failure = next(e for e in build.all_events if e.event_type_value == "STEP_FAILURE")
    assert "raw/pos_transactions:raw_pos_transactions" in str(failure.event_specific_data.error)
    assert marts_as_of(base) == AS_OF  # yesterday's build, untouched

    publish = job("publish_snapshot").execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False
    )
    assert not publish.success and materialized(publish) == set()
    assert published.stat().st_mtime_ns == published_before

    # Fixed at the source (the export re-sent), the day reloads, the gate passes and
    # the build is allowed again.
    shutil.copytree(pristine, day_folder, dirs_exist_ok=True)
    reload = job("ingest_daily").execute_in_process(
        instance=instance, partition_key=END.isoformat(), run_config=QUIET
    )
    assert evaluation(reload, "raw/pos_transactions", "raw_pos_transactions").passed
    rebuilt = job("refresh_marts").execute_in_process(
        instance=instance, run_config={**QUIET, **DBT_CONFIG}
    )
    assert AssetKey(["marts", "dim_sms_audience"]) in materialized(rebuilt)


def test_opt_out_after_the_build_stops_the_send_side_until_the_audience_is_rebuilt(copy):
    base, instance = copy
    with duckdb.connect(str(base / "warehouse.duckdb"), read_only=True) as conn:
        phone, customer = conn.execute(
            "SELECT phone_e164, customer_id FROM marts.dim_sms_audience ORDER BY customer_id LIMIT 1"
        ).fetchone()
    # The customer texts STOP; the consent export of the new day carries it.
    folder = base / "landing" / "crm" / "consent" / END.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    stop = {
        "event_id": "stop-after-build",
        "contact_id": None,
        "phone": phone,
        "country_code": None,
        "event_type": "opt_out",
        "source": "keyword",
        "occurred_at": f"{END}T09:00:00+00:00",
        "consent_text_version": None,
        "keyword": "STOP",
    }
    (folder / "consent-late-stop.jsonl").write_text(json.dumps(stop) + "\n")
    load = job("ingest_daily").execute_in_process(
        instance=instance, partition_key=END.isoformat(), run_config=QUIET, raise_on_error=False
    )
    assert load.success  # a clean day

    # The send side runs on the marts built before the STOP arrived.
    audience_check = AssetCheckKey(AssetKey(["marts", "dim_sms_audience"]), "sms_audience")
    send_side = materialize_selection(
        AssetSelection.checks(audience_check) | AssetSelection.assets(analytics_snapshot),
        instance=instance,
        run_config=QUIET,
        raise_on_error=False,
    )
    assert not send_side.success
    assert materialized(send_side) == set()
    gate = evaluation(send_side, "marts/dim_sms_audience", "sms_audience")
    assert not gate.passed and gate.severity.value == "ERROR"
    assert "latest_consent_event" in meta(gate, "reason")
    outcomes = {o["column"]: o for o in meta(gate, "outcomes_json")}
    # Ours, and any genuine opt-out of that day's export for someone in the audience.
    assert 1 <= outcomes["latest_consent_event"]["unexpected_count"] <= 5
    # The consent and suppression views are live: the STOP shows in both, and in the
    # one rule's verdict over them.
    failed = {c for c, o in outcomes.items() if not o["success"]}
    assert failed == {"latest_consent_event", "suppression_reasons", "may_receive_marketing"}
    assert phone not in " ".join(str(meta(gate, k)) for k in gate.metadata)
    assert customer in meta(gate, "examples")
    docs = meta(gate, "data_docs")
    page = Path(docs).read_text()
    assert "opt_out" in page and phone not in page
    assert "dataContextId" not in page  # GX's tracking beacon stripped

    # A later manual publish is refused while the gate's latest verdict is a failure.
    again = job("publish_snapshot").execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False
    )
    assert not again.success and materialized(again) == set()

    # The dbt build (its own gate is not upstream of it) rebuilds the audience without
    # the phone; the gate passes and the publish goes through.
    build = job("refresh_marts").execute_in_process(
        instance=instance, run_config={**QUIET, **DBT_CONFIG}, raise_on_error=False
    )
    assert build.success
    assert evaluation(build, "marts/dim_sms_audience", "sms_audience").passed
    with duckdb.connect(str(base / "warehouse.duckdb"), read_only=True) as conn:
        assert (
            conn.execute(
                "SELECT count(*) FROM marts.dim_sms_audience WHERE phone_e164 = ?", [phone]
            ).fetchone()[0]
            == 0
        )
    assert job("publish_snapshot").execute_in_process(instance=instance, run_config=QUIET).success


def consent_event(i: int, occurred: date, event_type: str = "opt_in") -> str:
    return json.dumps(
        {
            "event_id": f"issue17-{i}",
            "contact_id": None,
            "phone": f"+49151{12340000 + i}",
            "country_code": "DE",
            "event_type": event_type,
            "source": "web_form",
            "occurred_at": f"{occurred}T10:00:00+00:00",
            "consent_text_version": "v2" if event_type == "opt_in" else None,
            "keyword": None,
        }
    )


def replace_consent_day(base, events: list[str]) -> Path:
    folder = base / "landing" / "crm" / "consent" / END.isoformat()
    shutil.rmtree(folder)
    folder.mkdir()
    path = folder / "consent-export.jsonl"
    path.write_text("\n".join(events) + "\n")
    return path


def test_three_consent_events_dated_next_year_are_quarantined_and_stop_nothing(copy):
    base, instance = copy
    next_year = END + timedelta(days=365)
    # A quiet day: two events, and three whose clock is a year ahead.
    path = replace_consent_day(
        base,
        [consent_event(i, next_year if i in (2, 3, 4) else END) for i in range(5)],
    )
    load = job("ingest_daily").execute_in_process(
        instance=instance, partition_key=END.isoformat(), run_config=QUIET, raise_on_error=False
    )
    assert load.success
    assert evaluation(load, "raw/crm_consent", "raw_crm_consent").passed
    share = evaluation(load, "raw/crm_consent", "raw_quarantine")
    assert share.passed
    with duckdb.connect(str(base / "warehouse.duckdb"), read_only=True) as conn:
        rejected = conn.execute(
            "SELECT source_file, line, column_name, error_type, reason FROM ingest.rejects "
            "WHERE entity = 'crm_consent' AND partition_date = ? ORDER BY line",
            [END],
        ).fetchall()
        kept = conn.execute(
            "SELECT event_id FROM raw.crm_consent WHERE _partition_date = ? ORDER BY 1", [END]
        ).fetchall()
    assert [(f, line, c, k) for f, line, c, k, _ in rejected] == [
        (str(path), n, "occurred_at", "future_dated") for n in (3, 4, 5)
    ]
    assert all(f"occurred_at {next_year} is 365 days after" in r[4] for r in rejected)
    assert kept == [("issue17-0",), ("issue17-1",)]
    # Nothing is refused downstream: the build and the publish go on.
    build = job("refresh_marts").execute_in_process(
        instance=instance, run_config={**QUIET, **DBT_CONFIG}, raise_on_error=False
    )
    assert build.success
    assert job("publish_snapshot").execute_in_process(instance=instance, run_config=QUIET).success


def test_a_systemic_share_of_bad_rows_still_blocks_naming_file_and_line(copy, capsys):
    base, instance = copy
    next_year = END + timedelta(days=400)
    # The export's clock broke: 25 of 30 events a year ahead.
    path = replace_consent_day(
        base, [consent_event(i, END if i < 5 else next_year) for i in range(30)]
    )
    load = job("ingest_daily").execute_in_process(
        instance=instance, partition_key=END.isoformat(), run_config=QUIET, raise_on_error=False
    )
    assert not load.success
    gate = evaluation(load, "raw/crm_consent", "raw_quarantine")
    assert not gate.passed and gate.severity.value == "ERROR"
    where = f"crm/consent/{END}/{path.name}:6"  # the first event dated next year
    assert meta(gate, "reason").endswith(f"at {where}")
    assert "future_dated (occurred_at)" in meta(gate, "examples")
    build = job("refresh_marts").execute_in_process(
        instance=instance, run_config={**QUIET, **DBT_CONFIG}, raise_on_error=False
    )
    assert not build.success and materialized(build) == set()
    failure = next(e for e in build.all_events if e.event_type_value == "STEP_FAILURE")
    assert where in str(failure.event_specific_data.error)

    # What the command line prints: the failed check's reason, file and line included.
    from dagster_project import pipeline

    with pytest.raises(pipeline.CommandError) as failed:
        pipeline.ingest(instance, END, END)
    err = capsys.readouterr().err
    assert "raw/crm_consent:raw_quarantine" in err and where in err
    assert "raw__crm_consent_raw_quarantine" in str(failed.value)


def test_a_day_on_which_every_export_shrank_together_raises_the_demand_warning(copy):
    base, instance = copy
    landing = base / "landing"
    pos = sorted((landing / "pos" / "transactions" / END.isoformat()).glob("*.csv"))
    header, *rows = pos[0].read_text().splitlines()
    for f in pos[1:]:
        f.unlink()
    pos[0].write_text("\n".join([header, *rows[:5]]) + "\n")  # 5 POS lines
    for source in ("orders", "checkouts"):  # no orders, no checkouts
        shutil.rmtree(landing / "shop" / source / END.isoformat(), ignore_errors=True)
    load = job("ingest_daily").execute_in_process(
        instance=instance, partition_key=END.isoformat(), run_config=QUIET, raise_on_error=False
    )
    assert load.success  # a signal, not a gate
    for table in ("pos_transactions", "shop_orders", "shop_checkouts"):
        band = evaluation(load, f"raw/{table}", "raw_daily_volume")
        assert band.passed or band.severity.value == "WARN"  # they moved together: no gate
        signal = evaluation(load, f"raw/{table}", "raw_daily_demand")
        assert not signal.passed and signal.severity.value == "WARN"
        [outcome] = [o for o in meta(signal, "outcomes_json") if o["column"] == "demand_ratio"]
        assert outcome["unexpected_count"] == 1
        # The day's 5 demand rows, against their usual sum.
        assert f"| {5 if table == 'pos_transactions' else 0} | 5 |" in meta(signal, "examples")
