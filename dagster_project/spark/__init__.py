"""Apache Spark as the warehouse engine (issue 14): the same dbt project, ``--target spark``.

DuckDB stays the default. When the data outgrows one machine, the loader's raw tables
(and the ingest and operational tables dbt reads as sources) are written as Parquet
(``raw_tables``), the dbt project builds on Spark (``dbt --target spark``; its
``on-run-start`` registers those files as Spark tables), and the marts are read back
through Spark (``marts``) for the planner and the report. ``compare`` holds the two
engines' marts to each other. ``python -m dagster_project.spark`` runs it all.

| variable                  | default                 | what                              |
| ------------------------- | ----------------------- | --------------------------------- |
| ``SMS_SPARK_DIR``         | ``$SMS_DATA_DIR/spark`` | Parquet sources, warehouse, metastore |
| ``SMS_SPARK_MASTER``      | ``local[2]``            | the session method's master       |
| ``SMS_SPARK_DRIVER_MEMORY``| ``4g``                 | the local driver's heap           |
"""
