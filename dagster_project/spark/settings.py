"""Where the Spark target keeps its files; ``dbt/profiles.yml`` reads the same variables."""

import os
from pathlib import Path

from dagster_project import settings

RAW_SCHEMAS = ("raw", "ingest", "sms")


def spark_dir() -> Path:
    return Path(os.environ.get("SMS_SPARK_DIR", settings.data_dir() / "spark")).resolve()


def tables_dir() -> Path:
    """The Parquet copies of the tables dbt reads as sources, one folder per table."""
    return spark_dir() / "tables"


def master() -> str:
    return os.environ.get("SMS_SPARK_MASTER", "local[2]")


def driver_memory() -> str:
    return os.environ.get("SMS_SPARK_DRIVER_MEMORY", "4g")


def log_level() -> str:
    """Spark's own log level; dbt-spark's session method makes Spark warn on every query
    that the session exists already, so only errors by default."""
    return os.environ.get("SMS_SPARK_LOG_LEVEL", "ERROR")


def session_conf() -> dict[str, str]:
    """The Spark configuration of the ``spark`` target (``dbt/profiles.yml``), for a
    session this process opens to read what dbt built (same warehouse, same metastore)."""
    root = spark_dir()
    return {
        "spark.master": master(),
        "spark.sql.warehouse.dir": str(root / "warehouse"),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={root / 'metastore_db'};create=true"
        ),
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.log.level": log_level(),
        "spark.sql.shuffle.partitions": "4",
        "spark.driver.memory": driver_memory(),
        # the metastore's derby.log beside it, not in the working directory
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root}",
    }
