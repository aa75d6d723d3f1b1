"""Arrow columns built from numpy without a Python object per row.

Small vocabularies become dictionary arrays (indices plus a tiny dictionary),
per-row picks from large per-person string arrays are Arrow ``take``s, and
random identifiers are byte matrices turned into string buffers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

ALNUM_UPPER = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
BASE62 = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
HEX = b"0123456789abcdef"


def vocab(indices: np.ndarray, values: Sequence[str]) -> pa.DictionaryArray:
    """Strings from a small vocabulary; a negative index is NULL."""
    idx = np.asarray(indices, dtype=np.int32)
    mask = idx < 0
    return pa.DictionaryArray.from_arrays(
        pa.array(np.where(mask, 0, idx), type=pa.int32(), mask=mask if mask.any() else None),
        pa.array(list(values), type=pa.string()),
    )


def pick(strings: pa.Array, indices: np.ndarray) -> pa.Array:
    """``strings[indices]`` with NULL where the index is negative."""
    idx = np.asarray(indices, dtype=np.int64)
    mask = idx < 0
    return strings.take(pa.array(np.where(mask, 0, idx), mask=mask if mask.any() else None))


def fixed_width_strings(matrix: np.ndarray) -> pa.StringArray:
    """An (n, width) uint8 matrix of ASCII codes as n strings of that width."""
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    data = np.ascontiguousarray(matrix, dtype=np.uint8)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(data.tobytes()))


def tokens(rng: np.random.Generator, n: int, width: int, alphabet: bytes) -> pa.StringArray:
    table = np.frombuffer(alphabet, dtype=np.uint8)
    return fixed_width_strings(table[rng.integers(0, len(table), (n, width))])


def unique_ints(rng: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """n distinct integers in [low, high), in random order."""
    if n > high - low:
        raise ValueError("id space too small")
    return rng.choice(high - low, size=n, replace=False).astype(np.int64) + low


def digits_as_strings(values: np.ndarray, width: int) -> pa.StringArray:
    """Non-negative integers as zero-padded decimal strings of a fixed width."""
    v = np.asarray(values, dtype=np.int64)
    powers = 10 ** np.arange(width - 1, -1, -1, dtype=np.int64)
    return fixed_width_strings(((v[:, None] // powers) % 10 + 48).astype(np.uint8))


def ranges(starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Concatenation of ``arange(s, s + c)`` for each pair, vectorized."""
    counts = np.asarray(counts, dtype=np.int64)
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(counts)
    offsets = np.repeat(np.asarray(starts, dtype=np.int64) - (ends - counts), counts)
    return np.arange(total, dtype=np.int64) + offsets
