"""``python -m dagster_project.spark``: the dbt project on Apache Spark, beside DuckDB.

    export               the warehouse's source tables as Parquet for Spark
    build [--as-of D]    export, then ``dbt build --target spark`` (all data tests)
    compare              Spark's marts against the DuckDB warehouse's, table by table
    plan CAMPAIGN        a campaign's plan from Spark's marts (nothing written or sent)
    report [--out DIR]   the campaign performance report from Spark's marts

Paths come from the usual settings (``SMS_DATA_DIR``, ``SMS_WAREHOUSE_PATH``) and
``SMS_SPARK_DIR``; see docs/spark.md.
"""

import argparse
import datetime as dt
import sys

from dagster_project import settings


def main(argv: list[str] | None = None) -> int:
    settings.disable_telemetry()
    parser = argparse.ArgumentParser(
        prog="python -m dagster_project.spark",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("export", help="the source tables as Parquet for Spark")
    build = commands.add_parser("build", help="export, then dbt build --target spark")
    build.add_argument("--as-of", help="the day the marts describe (YYYY-MM-DD)")
    commands.add_parser("compare", help="Spark's marts against the DuckDB warehouse's")
    plan = commands.add_parser("plan", help="a campaign's plan from Spark's marts")
    plan.add_argument("campaign")
    plan.add_argument("--day", type=dt.date.fromisoformat)
    plan.add_argument("--now", help="the planning moment, ISO (default: now)")
    report = commands.add_parser("report", help="the performance report from Spark's marts")
    report.add_argument("--out", help="folder for the HTML (default: SMS_REPORTS_DIR)")
    a = parser.parse_args(argv)

    if a.command in ("export", "build"):
        from dagster_project.spark.build import export_warehouse, run_dbt_spark
        from dagster_project.spark.settings import spark_dir, tables_dir

        exported = export_warehouse()
        rows = sum(t.rows for t in exported)
        print(f"exported {len(exported)} tables ({rows:,} rows) to {tables_dir()}")
        if a.command == "build":
            done = run_dbt_spark("build", work_dir=spark_dir(), as_of=a.as_of, check=False)
            return done.returncode
        return 0

    from dagster_project.spark.session import spark_session

    if a.command == "compare":
        import duckdb

        from dagster_project.spark.compare import KEYS, compare_tables
        from dagster_project.spark.marts import marts_connection

        with spark_session() as spark:
            spark_marts = marts_connection(spark, tuple(KEYS))
        with duckdb.connect(str(settings.warehouse_path()), read_only=True) as duck:
            differences = compare_tables(duck, spark_marts)
        for d in differences:
            print(("equal  " if not d.problems else "DIFFER ") + str(d))
        return 1 if any(d.problems for d in differences) else 0

    if a.command == "report":
        from pathlib import Path

        from dagster_project.reporting.report import write_report
        from dagster_project.spark.marts import marts_connection

        with spark_session() as spark:
            marts = marts_connection(spark, ("mart_campaign_performance",))
        path = write_report(marts, Path(a.out) if a.out else settings.reports_dir())
        print(f"report from Spark's marts: {path}")
        return 0

    from dagster_project.activation import eligibility
    from dagster_project.activation.assets import configured_moment
    from dagster_project.activation.resources import read_book
    from dagster_project.spark.planning import plans_from_spark

    book = read_book(settings.campaigns_dir())
    now = configured_moment(a.now, a.day)
    day = a.day or now.date()
    with spark_session() as spark:
        plan = plans_from_spark(spark, book, [a.campaign], day, now, settings.warehouse_path())[
            a.campaign
        ]
    print(f"Campaign {a.campaign}, plan for {day} from Spark's marts; nothing written or sent")
    for step, reached, stopped in eligibility.funnel(plan.decisions):
        print(f"{step:<16} {reached:>9,} {stopped:>9,}")
    print(plan.counts())
    return 0


if __name__ == "__main__":
    sys.exit(main())
