"""The mart comparison that proves the two engines equal must see every kind of difference."""

import numpy as np
import pandas as pd

from dagster_project.spark.compare import FLOAT_TOLERANCE, compare_frames


def _frame(**overrides):
    frame = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "revenue": [np.float64(10.5), np.float64(0.1 + 0.2), np.nan],
            "segments": [np.array(["x", "y"]), np.array([]), None],
            "first_at": pd.to_datetime(["2026-01-01 10:00", None, "2026-01-03 00:00"]),
            "_built_at": pd.to_datetime(["2026-01-01"] * 3),
        }
    )
    for column, values in overrides.items():
        frame[column] = values
    return frame


def test_equal_tables_in_another_row_order_are_equal():
    left = _frame()
    right = _frame(_built_at=pd.to_datetime(["2027-01-01"] * 3)).iloc[::-1]
    right["revenue"] = right["revenue"] + FLOAT_TOLERANCE / 10
    assert compare_frames("t", left, right, ["customer_id"]).problems == []


def test_a_value_beyond_the_tolerance_is_a_difference():
    right = _frame(revenue=[10.5 + 1e-6, 0.3, np.nan])
    problems = compare_frames("t", _frame(), right, ["customer_id"]).problems
    assert len(problems) == 1 and problems[0].startswith("revenue: 1 rows differ")


def test_lists_timestamps_and_nulls_are_compared():
    right = _frame(
        segments=[np.array(["y", "x"]), np.array([]), np.array([])],
        first_at=pd.to_datetime(["2026-01-01 10:00:01", None, "2026-01-03 00:00:00"]),
    )
    problems = compare_frames("t", _frame(), right, ["customer_id"]).problems
    assert [p.split(":")[0] for p in problems] == ["segments", "first_at"]
    assert "2 rows differ" in problems[0]


def test_missing_rows_extra_columns_and_duplicate_keys_are_reported():
    fewer = _frame().iloc[:2]
    problems = compare_frames("t", _frame(), fewer, ["customer_id"]).problems
    assert problems[0] == "row counts differ"
    assert "1 only in the first" in problems[1]
    wider = _frame()
    wider["extra"] = 1
    assert (
        "columns differ: ['extra']"
        in compare_frames("t", _frame(), wider, ["customer_id"]).problems
    )
    doubled = pd.concat([_frame(), _frame()])
    assert "is not unique" in compare_frames("t", doubled, doubled, ["customer_id"]).problems[0]
