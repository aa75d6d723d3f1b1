"""Two builds of the marts held to each other, table by table (row counts, keys, values).

Used to prove the spark target equal to DuckDB on one world (tests/integration/
test_spark.py) and by ``python -m dagster_project.spark compare`` when moving a
deployment. Floating point is equal within ``FLOAT_TOLERANCE`` (relative and absolute);
DECIMALs, dates, timestamps, text and lists must be identical. A build's own time
(``_built_at``) is not compared.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

FLOAT_TOLERANCE = 1e-9

# The marts the issue names, each with the columns that identify a row.
KEYS: dict[str, tuple[str, ...]] = {
    "dim_customers": ("customer_id",),
    "dim_customer_rfm": ("customer_id",),
    "dim_customer_lifecycle": ("customer_id",),
    "dim_customer_segments": ("segment_membership_key",),
    "dim_sms_consent": ("phone_e164",),
    "dim_sms_suppression": ("suppression_key",),
    "dim_sms_reachability": ("phone_e164",),
    "fct_sms_messages": ("message_key",),
    "fct_sms_conversions": ("order_key",),
    "fct_sms_clicks": ("click_event_id",),
    "fct_sms_replies": ("reply_event_id",),
    "fct_customer_segment_history": ("history_key",),
    "dim_customer_sms_engagement": ("customer_id",),
    "dim_sms_audience": ("customer_id",),
    "mart_as_of": ("as_of_date",),
    "mart_campaign_performance": ("campaign_id", "variant"),
    "mart_segment_performance": ("campaign_id", "variant", "segment"),
    "fct_orders": ("order_key",),
    "fct_order_lines": ("order_line_key",),
}
IGNORED_COLUMNS = frozenset({"_built_at"})


@dataclass
class TableDifference:
    table: str
    rows: tuple[int, int]
    problems: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        counts = f"{self.table} ({self.rows[0]:,} vs {self.rows[1]:,} rows)"
        return f"{counts}: {'; '.join(self.problems)}" if self.problems else counts


def compare_frames(table: str, left: pd.DataFrame, right: pd.DataFrame, keys) -> TableDifference:
    """What differs between two versions of one table (``problems`` empty when equal)."""
    diff = TableDifference(table, (len(left), len(right)))
    left_columns = [c for c in left.columns if c not in IGNORED_COLUMNS]
    right_columns = [c for c in right.columns if c not in IGNORED_COLUMNS]
    if sorted(left_columns) != sorted(right_columns):
        missing = sorted(set(left_columns) ^ set(right_columns))
        diff.problems.append(f"columns differ: {missing}")
    columns = [c for c in left_columns if c in right_columns]
    if len(left) != len(right):
        diff.problems.append("row counts differ")
    keys = list(keys)
    left_keys = set(map(tuple, left[keys].astype(str).to_numpy()))
    right_keys = set(map(tuple, right[keys].astype(str).to_numpy()))
    if left_keys != right_keys:
        only_left, only_right = left_keys - right_keys, right_keys - left_keys
        diff.problems.append(
            f"keys differ: {len(only_left)} only in the first (e.g. {sorted(only_left)[:2]}), "
            f"{len(only_right)} only in the second (e.g. {sorted(only_right)[:2]})"
        )
        return diff
    if len(left_keys) != len(left):
        diff.problems.append(f"key {keys} is not unique")
        return diff
    a = _sorted(left, keys)
    b = _sorted(right, keys)
    for column in columns:
        differing = ~_equal(a[column], b[column])
        if differing.any():
            first = int(np.flatnonzero(differing.to_numpy())[0])
            key = tuple(a[keys].iloc[first])
            diff.problems.append(
                f"{column}: {int(differing.sum())} rows differ "
                f"(e.g. {key}: {a[column].iloc[first]!r} vs {b[column].iloc[first]!r})"
            )
    return diff


def _sorted(frame: pd.DataFrame, keys) -> pd.DataFrame:
    order = frame[keys].astype(str)
    return frame.iloc[np.lexsort([order[k].to_numpy() for k in reversed(keys)])].reset_index(
        drop=True
    )


def _equal(a: pd.Series, b: pd.Series) -> pd.Series:
    both_null = a.isna().to_numpy() & b.isna().to_numpy()
    if pd.api.types.is_float_dtype(a) or pd.api.types.is_float_dtype(b):
        x = pd.to_numeric(a, errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(b, errors="coerce").to_numpy(dtype=float)
        close = np.isclose(x, y, rtol=FLOAT_TOLERANCE, atol=FLOAT_TOLERANCE)
        return pd.Series(close | both_null, index=a.index)
    values = [bool(_normal(x) == _normal(y)) for x, y in zip(a, b, strict=True)]
    return pd.Series(np.array(values, dtype=bool) | both_null, index=a.index)


def _normal(value):
    if isinstance(value, np.ndarray | list | tuple):
        return tuple(_normal(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _normal(v)) for k, v in value.items()))
    if pd.api.types.is_scalar(value) and pd.isna(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.tz_convert("UTC").tz_localize(None) if value.tzinfo else value
    return value


def compare_tables(
    left_conn, right_conn, keys=KEYS, schema: str = "marts"
) -> list[TableDifference]:
    """Every table of ``keys`` in both connections (DuckDB), compared."""
    results = []
    for table, table_keys in keys.items():
        query = f"select * from {schema}.{table}"
        results.append(
            compare_frames(
                table, left_conn.execute(query).df(), right_conn.execute(query).df(), table_keys
            )
        )
    return results
