"""Deliberate mess: which rows get it, and what a broken copy of a line looks like.

Kinds a-e are *inserted* lines: a malformed or wrongly typed copy of a real row
(or an exact duplicate) placed right after it. The real row stays intact, so
everything a loader accepts still adds up to the ground truth, and every line
a loader must reject is listed in ``mess.jsonl`` as ``{entity, file, line,
kind, column}`` (``line`` is the 1-based physical line, a CSV header being
line 1; ``column`` is the header or JSON field, ``line_items[].quantity`` for
the nested one, null for malformed lines). Kinds f-h (invalid phones, future
timestamps, late files) change real rows and are only counted; for consent,
junk sign-ups with invalid phones are extra events tied to nobody. A row with a
future timestamp (and an exact copy of it) is also logged, as ``future_dated``
with its line and timestamp column, because the loader quarantines it; a
consent opt-out is not (the loader keeps it: a STOP counts from its delivery day).
A ``missing_required`` line (invoices) is a copy with a required value left empty;
the loader quarantines it naming the column.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .phones import JUNK_PHONES

MALFORMED, WRONG_TYPE, DUPLICATE, MISSING_REQUIRED = 1, 2, 3, 4
KIND_NAMES = {
    MALFORMED: "malformed",
    WRONG_TYPE: "wrong_type",
    DUPLICATE: "duplicate",
    MISSING_REQUIRED: "missing_required",
}
COUNTED_KINDS = (
    "malformed",
    "wrong_type",
    "duplicate",
    "missing_required",
    "invalid_phone",
    "future_timestamp",
    "future_dated",
    "late_file",
    "late_file_rows",
    "unknown_currency",
    "paid_before_issue",
)
FUTURE_MIN_DAYS, FUTURE_MAX_DAYS = 365, 730


@dataclass
class Insertions:
    rows: np.ndarray  # sorted row indices; a line is inserted right after each
    kinds: np.ndarray
    u: np.ndarray  # (len(rows), 2) uniforms that drive how the copy is broken

    @classmethod
    def none(cls) -> Insertions:
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int8), np.zeros((0, 2)))


def plan_insertions(rng: np.random.Generator, n_rows: int, rate: float) -> Insertions:
    """Each row independently gets a malformed copy, a wrong-type copy or a duplicate.

    The three are exclusive per row, so no injected line is a copy of another.
    """
    if rate <= 0 or n_rows == 0:
        return Insertions.none()
    u = rng.random(n_rows)
    kind = np.where(
        u < rate,
        MALFORMED,
        np.where(u < 2 * rate, WRONG_TYPE, np.where(u < 3 * rate, DUPLICATE, 0)),
    )
    rows = np.flatnonzero(kind)
    return Insertions(rows.astype(np.int64), kind[rows].astype(np.int8), rng.random((len(rows), 2)))


@dataclass
class RowMess:
    """The in-place mess of an entity's rows: junk phones and timestamps far in the future."""

    junk_phone: np.ndarray  # per row: index into phones.JUNK_PHONES, -1 for none
    future_days: np.ndarray  # per row: days to add to the row's event time, 0 for none
    inserts: Insertions

    def counts(self) -> dict[str, int]:
        return {
            "invalid_phone": int(np.count_nonzero(self.junk_phone >= 0)),
            "future_timestamp": int(np.count_nonzero(self.future_days)),
        }


def plan_rows(
    rng: np.random.Generator, rate: float, day: np.ndarray, days: int, phones: bool = True
) -> RowMess:
    """Mess for rows whose event happened on ``day``; ``phones`` when the rows carry one."""
    n = len(day)
    junk = np.full(n, -1, dtype=np.int64)
    if phones:
        junk = np.where(chosen(rng, n, rate), rng.integers(0, len(JUNK_PHONES), n), -1)
    future = future_shift_days(rng, chosen(rng, n, rate), day, days)
    return RowMess(junk, future, plan_insertions(rng, n, rate))


def chosen(rng: np.random.Generator, n: int, rate: float) -> np.ndarray:
    if rate <= 0:
        return np.zeros(n, dtype=bool)
    return rng.random(n) < rate


def future_shift_days(
    rng: np.random.Generator, mask: np.ndarray, day: np.ndarray, days: int
) -> np.ndarray:
    """Days to add to a row of ``day`` so it lands one to two years after the end; 0 elsewhere."""
    ahead = rng.integers(FUTURE_MIN_DAYS, FUTURE_MAX_DAYS + 1, len(mask))
    return np.where(mask, days - 1 - np.asarray(day) + ahead, 0).astype(np.int32)


NUMBER_WORDS = (
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
)


def qty_in_words(value: str, u: float) -> str:
    n = int(value)
    word = NUMBER_WORDS[abs(n)] if abs(n) < len(NUMBER_WORDS) else "a dozen"
    return word if n >= 0 else f"minus {word}"


def decimal_comma(value: str, u: float) -> str:
    return value.replace(".", ",")


def day_first_date(value: str, u: float) -> str:
    y, m, d = value[:10].split("-")
    return f"{d}/{m}/{y}"


def with_separators(value: str, u: float) -> str:
    """An amount as a spreadsheet prints it: 1,234.50 or 1.234,50 (a comma decimal below 1000).

    Never a plain number: the copy must fail a strict DECIMAL cast.
    """
    whole, cents = value.lstrip("-").split(".")
    sign = "-" if value.startswith("-") else ""
    groups = f"{int(whole):,}"
    if u < 0.5 and len(whole) > 3:
        return f"{sign}{groups}.{cents}"
    return f"{sign}{groups.replace(',', '.')},{cents}"


def day_first_timestamp(value: str, u: float) -> str:
    y, m, d = value[:10].split("-")
    return f"{d}.{m}.{y} {value[11:16]}"


WORDS_FOR_TIME = ("yesterday", "last Tuesday", "tomorrow morning", "unknown")


def time_in_words(value, u: float) -> str:
    return WORDS_FOR_TIME[int(u * len(WORDS_FOR_TIME))]


def _csv_line(fields: list[str]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow(fields)
    return buf.getvalue()


class CsvCorruptor:
    """Breaks a copy of a CSV line: a field too many or too few, or an unparseable value."""

    def __init__(
        self, header: Sequence[str], wrong: Sequence[tuple[str, Callable[[str, float], str]]]
    ):
        self.header = list(header)
        self.wrong = [(self.header.index(col), col, fn) for col, fn in wrong]

    def __call__(self, line: str, kind: int, u: np.ndarray) -> tuple[str, str | None]:
        fields = next(csv.reader([line]))
        if kind == MALFORMED:
            if u[0] < 0.5:
                fields = fields[:-1]
            elif fields[-1] == "" and u[1] < 0.5:
                # A field typed twice in a line that ends empty: DuckDB's reader forgives
                # one extra empty trailing field and would load this shifted by one
                # column. The trap real exports set; the loader must reject it.
                j = int(u[1] * 2 * (len(fields) - 1))
                fields.insert(j + 1, fields[j] or "?")
            elif fields[-1] == "":
                fields.append("?")
            else:
                j = int(u[1] * len(fields))
                fields.insert(j + 1, fields[j] or "?")
            return _csv_line(fields), None
        j, col, fn = self.wrong[int(u[0] * len(self.wrong))]
        fields[j] = fn(fields[j], float(u[1]))
        return _csv_line(fields), col


def set_field(name: str, value_of: Callable[[object, float], object]):
    def apply(obj: dict, u: float) -> None:
        obj[name] = value_of(obj.get(name), u)

    return name, apply


def line_item_quantity_in_words(obj: dict, u: float) -> None:
    items = obj["line_items"]
    item = items[int(u * len(items))]
    item["quantity"] = qty_in_words(str(item["quantity"]), u)


class JsonCorruptor:
    """Breaks a copy of a JSON line: cut short, or a field holding a value of the wrong type."""

    def __init__(self, wrong: Sequence[tuple[str, Callable[[dict, float], None]]]):
        self.wrong = list(wrong)

    def __call__(self, line: str, kind: int, u: np.ndarray) -> tuple[str, str | None]:
        if kind == MALFORMED:
            # Any proper prefix of an object is invalid JSON: the closing brace is gone.
            return line[: max(1, int(len(line) * (0.25 + 0.5 * u[0])))], None
        obj = json.loads(line)
        name, apply = self.wrong[int(u[0] * len(self.wrong))]
        apply(obj, float(u[1]))
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":")), name
