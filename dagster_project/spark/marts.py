"""The marts a Spark build made, read through Spark, as a DuckDB connection.

The planner and the report query the marts with DuckDB SQL over ``marts.<table>``. To
plan from a Spark build, each mart they read is fetched through Spark (as Arrow) into an
in-memory DuckDB database under the same names, so the plan's rules run unchanged on
what Spark computed. The operational store (ledger) is passed to the planner as today.
"""

import duckdb
import pyarrow as pa

# What build_plan reads (activation/planner.py, CANDIDATES_SQL).
PLANNER_MARTS = (
    "dim_customers",
    "dim_customer_segments",
    "fct_customer_segment_history",
    "fct_order_lines",
    "dim_sms_reachability",
)


def marts_connection(
    spark, tables=PLANNER_MARTS, schema: str = "marts"
) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute("set TimeZone = 'UTC'")
    conn.execute(f"create schema {schema}")
    for table in tables:
        arrow = _naive_utc(spark.table(f"{schema}.{table}").toArrow())
        conn.register("_spark_table", arrow)
        try:
            conn.execute(f"create table {schema}.{table} as select * from _spark_table")
        finally:
            conn.unregister("_spark_table")
    return conn


def _naive_utc(table: pa.Table) -> pa.Table:
    """Spark's TIMESTAMP is an instant; the marts' convention is UTC without a zone (as
    DuckDB builds them). Dropping the zone keeps the UTC wall clock."""
    fields = [
        pa.field(f.name, pa.timestamp(f.type.unit), f.nullable)
        if pa.types.is_timestamp(f.type) and f.type.tz is not None
        else f
        for f in table.schema
    ]
    return table.cast(pa.schema(fields))
