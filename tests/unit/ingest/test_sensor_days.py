"""The landing sensor's day arithmetic: which days to load, merged into ranges."""

from datetime import date

from dagster_project.ingest.sensors import contiguous_ranges, days_to_load

D = date.fromisoformat


def test_contiguous_ranges_merge_adjacent_days():
    days = [D("2026-03-03"), D("2026-03-01"), D("2026-03-02"), D("2026-03-07"), D("2026-03-07")]
    assert contiguous_ranges(days) == [
        (D("2026-03-01"), D("2026-03-03")),
        (D("2026-03-07"), D("2026-03-07")),
    ]


def test_days_to_load_new_changed_and_already_materialized():
    seen = {"2026-03-01": "a", "2026-03-02": "b"}
    current = {"2026-03-01": "a", "2026-03-02": "CHANGED", "2026-03-03": "c", "2026-03-04": "d"}
    # 03-04 was loaded before the sensor ever ran (e.g. by `make demo`): not again.
    assert days_to_load(seen, current, materialized={"2026-03-04"}) == [
        D("2026-03-02"),
        D("2026-03-03"),
    ]
