"""The command line as a user runs it: `python -m dagster_project.pipeline ...` in a subprocess.

Real generator data, a real Dagster instance in a temporary DAGSTER_HOME, real dbt and
the sandbox gateway. Each command's terminal output is checked for what it says, and
the warehouse, the instance and the sandbox outbox for what it did.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from dagster import AssetKey, DagsterInstance

REPO = Path(__file__).resolve().parents[2]
END = date(2026, 11, 21)
LATE = END + timedelta(days=200)  # every buyer's last purchase is ~200 days before it
LIFECYCLE = AssetKey(["marts", "dim_customer_lifecycle"])
PLAN_KEYS = [
    AssetKey(["activation", "plan", p.stem]) for p in sorted((REPO / "campaigns").glob("*.yml"))
]


def cli(env: dict, *args: str, wait: bool = True, **kwargs):
    command = [sys.executable, "-m", "dagster_project.pipeline", *args]
    if not wait:
        return subprocess.Popen(
            command, env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
    return subprocess.run(
        command, env=env, cwd=REPO, capture_output=True, text=True, timeout=600, **kwargs
    )


def lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def stages(base: Path, published: bool = False) -> dict[str, int]:
    path = base / ("published/warehouse.duckdb" if published else "warehouse.duckdb")
    with duckdb.connect(str(path), read_only=True) as conn:
        return dict(
            conn.execute(
                "SELECT lifecycle_stage, count(*) FROM marts.dim_customer_lifecycle GROUP BY 1"
            ).fetchall()
        )


def as_of_days(base: Path) -> list:
    with duckdb.connect(str(base / "warehouse.duckdb"), read_only=True) as conn:
        return conn.execute(
            "SELECT DISTINCT as_of_date FROM marts.dim_customer_lifecycle"
        ).fetchall()


@pytest.fixture(scope="module")
def world(tmp_path_factory, generated):
    base = tmp_path_factory.mktemp("cli")
    generated(customers=400, days=40, seed=3, end=END).copy_to(base)
    env = {
        **os.environ,
        "SMS_DATA_DIR": str(base),
        "DAGSTER_HOME": str(base / "dagster_home"),
        # A gateway is configured, as on a real deployment: `all` must still send nothing.
        "SMS_GATEWAY": "sandbox",
    }
    for name in (
        "SMS_WAREHOUSE_PATH",
        "SMS_LANDING_DIR",
        "SMS_PUBLISHED_PATH",
        "SMS_CAMPAIGNS_DIR",
    ):
        env.pop(name, None)
    everything = cli(env, "all", "--as-of", LATE.isoformat())
    assert everything.returncode == 0, everything.stdout + everything.stderr
    with DagsterInstance.from_config(str(base / "dagster_home")) as instance:
        sent_by_all = {
            key.to_user_string(): instance.get_latest_materialization_event(key) is not None
            for key in [AssetKey(["activation", "dispatch"]), *PLAN_KEYS]
        }
        [freshness] = [
            {k: getattr(v, "value", v) for k, v in r.asset_observation.metadata.items()}
            for r in instance.fetch_observations(LIFECYCLE, limit=20).records
            if "stale_data_warning" in r.asset_observation.metadata
        ]
    return {
        "base": base,
        "env": env,
        "all": everything,
        "sent_by_all": sent_by_all,
        "outbox_after_all": (base / "sandbox_gateway").exists(),
        "stages_late": stages(base),
        "as_of_late": as_of_days(base),
        "freshness_late": freshness,
    }


def test_all_plans_and_sends_nothing_even_with_a_gateway_set(world):
    assert world["sent_by_all"] == {k: False for k in world["sent_by_all"]}
    assert not world["outbox_after_all"]
    with duckdb.connect(str(world["base"] / "warehouse.duckdb"), read_only=True) as conn:
        ledger = conn.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'sms' AND table_name = 'ledger'"
        ).fetchone()[0]
    assert ledger == 0  # nothing was even planned
    usage = " ".join(cli(world["env"], "--help").stdout.split())
    assert "all ingest, transform and publish; plans and sends nothing" in usage
    assert "activate plan the campaigns for today (UTC) and SEND what is due" in usage


def test_as_of_sets_the_marts_day_and_a_stale_history_is_warned(world):
    out = world["all"]
    assert world["as_of_late"] == [(LATE,)]
    late = world["stages_late"]
    assert late.get("lapsed", 0) > 50
    assert set(late) <= {"prospect", "lapsed"}  # every buyer looks lapsed 200 days on
    # ... and the command said why, in one warning, on the terminal and in the asset metadata.
    warning = [line for line in lines(out.stderr) if line.startswith("WARNING:")]
    assert len(warning) == 1, out.stderr
    newest = world["freshness_late"]["newest_purchase_on"]
    gap = (LATE - date.fromisoformat(newest)).days
    assert gap in (199, 200)  # the last day's late orders may count on the next UTC day
    assert warning[0].startswith(
        f"WARNING: the newest purchase ({newest}) is {gap} days before the day the marts "
        f"describe ({LATE})"
    )
    assert f"--as-of {newest}" in warning[0]
    assert world["freshness_late"]["as_of"] == LATE.isoformat()
    assert world["freshness_late"]["days_since_newest_purchase"] == gap
    assert world["freshness_late"]["stale_data_warning"] == warning[0].removeprefix("WARNING: ")
    # The terminal gets the story in a few lines; dbt's node lines are in the log file.
    assert len(lines(out.stdout)) < 15, out.stdout
    log = Path(lines(out.stdout)[-1].removeprefix("log: "))
    assert log.parent == world["base"] / "logs" and "OK created" in log.read_text()


def test_summary_says_which_day_the_published_marts_describe(world):
    out = cli(world["env"], "summary")
    assert out.returncode == 0, out.stderr
    day, at = (world["freshness_late"][k] for k in ("newest_purchase_on", "newest_purchase_at"))
    assert f"marts as of {LATE}; newest purchase {day} ({at[:16]} UTC)" in out.stdout, out.stdout
    assert f"WARNING: the newest purchase ({day}) is" in out.stderr


def test_two_command_line_writers_take_turns_and_the_second_says_so(world):
    env = world["env"]
    lock = world["base"] / "warehouse.duckdb.lock"
    first = cli(env, "publish", wait=False)
    deadline = time.monotonic() + 60
    while str(first.pid) not in (lock.read_text() if lock.exists() else ""):
        assert time.monotonic() < deadline and first.poll() is None
        time.sleep(0.05)
    second = cli(env, "publish", wait=False)
    out2, err2 = second.communicate(timeout=600)
    out1, err1 = first.communicate(timeout=600)
    assert first.returncode == 0 and second.returncode == 0, (err1, err2)
    waited = [line for line in lines(err2) if line.startswith("waiting for the warehouse lock")]
    assert waited == [
        f"waiting for the warehouse lock held by PID {first.pid} "
        f"(python -m dagster_project.pipeline publish) since {waited[0].split(' since ')[1]}"
    ]
    assert any(line.startswith("got the warehouse lock after") for line in lines(err2))
    assert "waiting" not in err1


def test_activate_plans_the_utc_day_whatever_the_host_zone(world):
    env = {**world["env"], "TZ": "America/Los_Angeles"}
    # 19:00 on 21 November in Los Angeles is 03:00 UTC on the 22nd.
    out = cli(env, "activate", "--now", "2026-11-21T19:00:00-08:00")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "planning the campaigns for 2026-11-22 (UTC)" in out.stdout
    with DagsterInstance.from_config(str(world["base"] / "dagster_home")) as instance:
        partitions = {
            instance.get_latest_materialization_event(key).asset_materialization.partition
            for key in PLAN_KEYS
        }
    assert partitions == {"2026-11-22"}


def test_activate_on_the_real_clock_plans_the_utc_day_not_the_hosts(world):
    """No --now: the host's zone is chosen so that its date is not the UTC date right now."""
    hour = datetime.now(UTC).hour
    zone = "Etc/GMT+12" if hour < 11 else "Pacific/Kiritimati"  # UTC-12 or UTC+14
    before = datetime.now(UTC).date()
    out = cli({**world["env"], "TZ": zone}, "activate")
    after = datetime.now(UTC).date()
    assert out.returncode == 0, out.stdout + out.stderr
    with DagsterInstance.from_config(str(world["base"] / "dagster_home")) as instance:
        partitions = {
            instance.get_latest_materialization_event(key).asset_materialization.partition
            for key in PLAN_KEYS
        }
    assert partitions in ({before.isoformat()}, {after.isoformat()})


def _broken_campaigns(tmp_path: Path, kind: str) -> tuple[Path, str]:
    folder = tmp_path / "campaigns"
    shutil.copytree(REPO / "campaigns", folder)
    path = folder / "winback-lapsed.yml"
    text = path.read_text()
    if kind == "yaml syntax":
        path.write_text(text.replace("cadence: once", "cadence: [once"))
        expected = f"{path}: line "
    elif kind == "not utf-8":
        path.write_bytes(
            text.replace("cadence: once", "# caf\xe9\ncadence: once").encode("latin-1", "replace")
        )  # noqa: E501
        expected = f"{path}: line "
    else:
        path.write_text(text + "colour: red\n")
        expected = f"{path}: field colour: Extra inputs are not permitted (line "
    return folder, expected


@pytest.mark.parametrize("kind", ["yaml syntax", "not utf-8", "unknown field"])
def test_a_broken_campaign_file_is_one_line_naming_it(tmp_path, kind):
    folder, expected = _broken_campaigns(tmp_path, kind)
    env = {**os.environ, "SMS_DATA_DIR": str(tmp_path), "SMS_CAMPAIGNS_DIR": str(folder)}
    out = cli(env, "activate")
    assert out.returncode == 1
    assert out.stdout == ""
    assert len(lines(out.stderr)) == 1 and out.stderr.startswith(expected), out.stderr
    assert "Traceback" not in out.stderr
    if kind == "yaml syntax":  # --debug keeps the traceback, and ends with the same line
        debug = cli(env, "activate", "--debug")
        assert "Traceback" in debug.stderr and lines(debug.stderr)[-1] == lines(out.stderr)[0]


def test_make_preview_of_a_broken_campaign_file_is_one_line(tmp_path):
    folder, expected = _broken_campaigns(tmp_path, "yaml syntax")
    env = {**os.environ, "SMS_DATA_DIR": str(tmp_path), "SMS_CAMPAIGNS_DIR": str(folder)}
    out = subprocess.run(
        ["make", "-s", "-o", "install", "-o", ".venv/.installed", "preview",
         "CAMPAIGN=winback-lapsed", f"PY={sys.executable}"],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    ours = [line for line in lines(out.stderr) if not re.match(r"make(\[\d+\])?: \*\*\*", line)]
    assert out.returncode != 0 and out.stdout == ""
    assert len(ours) == 1 and ours[0].startswith(expected), out.stderr


def test_preview_reads_a_yaml_campaign_and_names_a_file_it_does_not_read(world, tmp_path):
    folder = tmp_path / "campaigns"
    shutil.copytree(REPO / "campaigns", folder)
    (folder / "winback-lapsed.yml").rename(folder / "winback-lapsed.yaml")
    (folder / "vip-thank-you.yml").rename(folder / "vip-thank-you.json")
    env = {**world["env"], "SMS_CAMPAIGNS_DIR": str(folder)}
    out = cli(env, "preview", "winback-lapsed", "--now", "2026-11-21T10:00:00+00:00")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Campaign winback-lapsed ")
    refused = cli(env, "preview", "vip-thank-you")
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        f"{folder / 'vip-thank-you.json'} is not read: campaign files end in .yml or .yaml"
    )


def test_the_product_command_line_has_no_demo():
    # The demo lives outside the product (demo/, `python -m demo run`); the usage may only
    # say where.
    from dagster_project.pipeline import cli

    with pytest.raises(SystemExit) as exc:
        cli.parser().parse_args(["demo"])
    assert exc.value.code == 2
    usage = " ".join(cli.parser().format_help().split())
    where = "The demo lives in demo/ (make demo)"
    assert where in usage
    assert usage.replace(where, "").count("demo") == 0
