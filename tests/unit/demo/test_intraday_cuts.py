"""The generator's intra-day cuts: which file of a day each row goes to."""

import numpy as np
import pytest

from demo.writers import cut_name, intraday_slices


def test_rows_go_to_the_file_of_the_next_hourly_cut():
    # 00:10, 10:05, 10:59:59, 11:00 (belongs to the 12:00 file), 23:59:59
    seconds = np.array([600, 36_300, 39_599, 39_600, 86_399])
    assert intraday_slices(seconds) == [
        (3_600, 0, 1),
        (39_600, 1, 3),
        (43_200, 3, 4),
        (86_400, 4, 5),
    ]
    assert [cut_name(c) for c, _, _ in intraday_slices(seconds)] == ["0100", "1100", "1200", "2400"]


def test_the_slices_partition_the_rows_and_an_empty_day_has_none():
    rng = np.random.default_rng(1)
    seconds = np.sort(rng.integers(0, 86_400, 500))
    slices = intraday_slices(seconds)
    assert [lo for _, lo, _ in slices] == [0] + [hi for _, _, hi in slices[:-1]]
    assert slices[-1][2] == 500
    assert intraday_slices(np.array([], dtype=np.int64)) == []


def test_unsorted_rows_are_refused():
    with pytest.raises(ValueError, match="sorted"):
        intraday_slices(np.array([7_200, 60]))
