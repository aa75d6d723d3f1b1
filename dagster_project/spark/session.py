"""A Spark session on the spark target's warehouse and metastore, to read what dbt built.

The local metastore (Derby, embedded) admits one process at a time: open this session
after dbt has finished, and stop it (``stop()``, or leave the ``with`` block) before the
next dbt run. On a cluster (thrift) or Databricks the metastore is a service and this
does not apply; read the marts there with that platform's own client.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from dagster_project.spark import settings as spark_settings


@contextmanager
def spark_session() -> Iterator["pyspark.sql.SparkSession"]:  # noqa: F821
    from pyspark.sql import SparkSession

    conf = spark_settings.session_conf()
    root = spark_settings.spark_dir()
    root.mkdir(parents=True, exist_ok=True)
    builder = SparkSession.builder.enableHiveSupport().appName("sms-lifecycle")
    for key, value in conf.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    try:
        yield session
    finally:
        session.stop()
