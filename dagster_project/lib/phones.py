"""Phone-number normalization: free-typed text to E.164, validity, region, type.

Pure functions over plain values (no DuckDB, no Dagster). The parsing itself is
Google's libphonenumber rules via the ``phonenumbers`` package; nothing here
second-guesses them with regexes. ``dedupe_key`` only drops the separators that
libphonenumber ignores anyway, so ``(415) 234-5678`` and ``415-234-5678`` are
parsed once.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

# Characters libphonenumber treats as formatting punctuation and strips before
# parsing; removing them first only makes equal inputs share one cache entry.
_SEPARATORS = str.maketrans("", "", " \t()-./\u00a0")

_TYPE_NAMES = {
    PhoneNumberType.MOBILE: "mobile",
    PhoneNumberType.FIXED_LINE: "fixed_line",
    PhoneNumberType.FIXED_LINE_OR_MOBILE: "fixed_line_or_mobile",
    PhoneNumberType.TOLL_FREE: "toll_free",
    PhoneNumberType.PREMIUM_RATE: "premium_rate",
    PhoneNumberType.SHARED_COST: "shared_cost",
    PhoneNumberType.VOIP: "voip",
    PhoneNumberType.PERSONAL_NUMBER: "personal_number",
    PhoneNumberType.PAGER: "pager",
    PhoneNumberType.UAN: "uan",
    PhoneNumberType.VOICEMAIL: "voicemail",
    PhoneNumberType.UNKNOWN: "unknown",
}

# Below this many numbers a process pool costs more than it saves.
PARALLEL_THRESHOLD = 20_000


@dataclass(frozen=True)
class ParsedPhone:
    e164: str | None
    is_valid: bool
    region: str | None
    number_type: str | None
    error: str | None = None


def dedupe_key(raw: str | None) -> str | None:
    """The input with ignorable separators removed; ``None`` for blank input."""
    if raw is None:
        return None
    key = raw.strip().translate(_SEPARATORS)
    return key or None


def parse_phone(raw: str | None, default_region: str | None) -> ParsedPhone:
    """Parse one free-typed number, trying ``default_region`` for national formats.

    A number that cannot be parsed at all keeps ``e164 = None`` and says why; a
    number that parses but is not a valid number for its region keeps its E.164
    form with ``is_valid = False`` (useful for debugging exports, never sendable).
    """
    if raw is None or not raw.strip():
        return ParsedPhone(None, False, None, None, "blank")
    region = (default_region or "").upper() or None
    try:
        number = phonenumbers.parse(raw, region)
    except NumberParseException as exc:
        return ParsedPhone(None, False, None, None, _parse_error(exc))
    is_valid = phonenumbers.is_valid_number(number)
    return ParsedPhone(
        e164=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        is_valid=is_valid,
        region=phonenumbers.region_code_for_number(number) if is_valid else None,
        number_type=_TYPE_NAMES.get(phonenumbers.number_type(number), "unknown")
        if is_valid
        else None,
        error=None if is_valid else "not a valid number",
    )


def _parse_error(exc: NumberParseException) -> str:
    return {
        NumberParseException.INVALID_COUNTRY_CODE: "unknown country code",
        NumberParseException.NOT_A_NUMBER: "not a number",
        NumberParseException.TOO_SHORT_AFTER_IDD: "too short",
        NumberParseException.TOO_SHORT_NSN: "too short",
        NumberParseException.TOO_LONG: "too long",
    }.get(exc.error_type, "unparseable")


def _parse_chunk(pairs: Sequence[tuple[str, str | None]]) -> list[ParsedPhone]:
    return [parse_phone(raw, region) for raw, region in pairs]


def parser_pool(workers: int | None = None) -> ProcessPoolExecutor:
    """Worker processes for ``parse_many``; reuse one across chunks of a large load.

    spawn, not fork: the caller holds a DuckDB connection and its threads.
    """
    return ProcessPoolExecutor(workers or os.cpu_count() or 1, mp_context=get_context("spawn"))


def parse_many(
    pairs: Sequence[tuple[str, str | None]], pool: ProcessPoolExecutor | None = None
) -> list[ParsedPhone]:
    """Parse ``(raw, default_region)`` pairs, in order; on ``pool`` when there are many.

    libphonenumber is slow in pure Python (see bench/README.md), and a first
    backfill meets every distinct number once, so large batches are spread over
    the cores.
    """
    if pool is None or len(pairs) < PARALLEL_THRESHOLD:
        return _parse_chunk(pairs)
    size = -(-len(pairs) // (pool._max_workers * 4))
    chunks = [pairs[i : i + size] for i in range(0, len(pairs), size)]
    return [parsed for chunk in pool.map(_parse_chunk, chunks) for parsed in chunk]


def mask_phone(value: str | None) -> str:
    """``+491711234567`` -> ``+49••••••••67``: enough to recognise, not to dial.

    Used for every phone that reaches a log line or asset/check metadata.
    """
    if not value:
        return ""
    text = str(value).strip()
    digits = "".join(c for c in text if c.isdigit())
    if len(digits) <= 4:
        return "•" * len(digits)
    shown_head = digits[:2] if text.startswith("+") else ""
    hidden = len(digits) - len(shown_head) - 2
    return ("+" + shown_head if shown_head else "") + "•" * hidden + digits[-2:]
