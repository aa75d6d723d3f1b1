"""Small helpers that turn rows into readable Dagster metadata (phones masked)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from dagster_project.lib.phones import mask_phone


def md_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub-flavoured Markdown table; ``|`` and newlines in cells escaped."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        return text.replace("|", "\\|").replace("\n", " ")[:120]

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def mask_columns(
    headers: Sequence[str], rows: Iterable[Sequence[Any]], phone_columns: Iterable[str]
) -> list[list[Any]]:
    """Rows with every value of a phone column masked."""
    masked = {i for i, h in enumerate(headers) if h in set(phone_columns)}
    return [[mask_phone(v) if i in masked and v else v for i, v in enumerate(r)] for r in rows]
