"""Great Expectations, used as a library: load a suite file, validate a pandas batch,
summarize the result (Data Docs: ``data_docs.py``).

No Dagster and no DuckDB here: a batch arrives as a DataFrame and leaves as a
``SuiteOutcome`` of plain values, so the rules are unit-tested alone. GX's SQL
data source over DuckDB fails on these machines (DESIGN.md, traps), so batches
are pandas frames that the caller fetched with bounded SQL.

Severity is GX's own per-expectation ``severity``: ``critical`` expectations are
gates (a failure is an ERROR, and a blocking check stops everything downstream),
``warning`` and ``info`` ones are signals (WARN).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

import great_expectations as gx  # noqa: E402
import pandas as pd  # noqa: E402
from great_expectations.data_context.types.base import ProgressBarsConfig  # noqa: E402

from dagster_project.lib.phones import mask_phone  # noqa: E402

MAX_EXAMPLES = 5
GATE_SEVERITY = "critical"
_SEVERITIES = {"critical", "warning", "info"}


class SuiteError(ValueError):
    """A suite file that cannot be used; the message names the file and the field."""


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation's verdict on one batch, as plain values."""

    expectation: str
    column: str
    success: bool
    severity: str
    why: str
    element_count: int | None = None
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    observed_value: Any = None
    error: str | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def is_gate(self) -> bool:
        return self.severity == GATE_SEVERITY


@dataclass(frozen=True)
class SuiteOutcome:
    """A suite's verdict on one batch."""

    suite: str
    rows: int
    outcomes: list[ExpectationOutcome]
    result: Any  # GX's ExpectationSuiteValidationResult, phones masked
    source_root: str | None = None  # landing folder: file names in reasons are shown below it

    @property
    def passed(self) -> bool:
        return all(o.success for o in self.outcomes)

    @property
    def failed(self) -> list[ExpectationOutcome]:
        return [o for o in self.outcomes if not o.success]

    @property
    def gate_failed(self) -> bool:
        return any(o.is_gate for o in self.failed)

    @property
    def severity(self) -> str:
        """``ERROR`` when a gate failed, else ``WARN`` (the check's severity)."""
        return "ERROR" if self.gate_failed else "WARN"

    def reason(self) -> str:
        """One line a person can act on: what failed, how much."""
        if self.passed:
            return f"all {len(self.outcomes)} expectations met on {self.rows:,} rows"
        parts = []
        for o in self.failed:
            what = f"{o.expectation}({o.column})" if o.column else o.expectation
            if o.error:
                parts.append(f"{what}: could not be evaluated: {o.error}")
            elif o.unexpected_count is not None:
                share = (
                    f" ({o.unexpected_percent:.1f}%)" if o.unexpected_percent is not None else ""
                )
                parts.append(f"{what}: {o.unexpected_count:,} unexpected{share}")
            else:
                parts.append(f"{what}: observed {o.observed_value}")
            where = self.places(o)
            if where:
                parts[-1] += f" at {where}"
        return "; ".join(parts)

    def places(self, outcome: ExpectationOutcome, limit: int = 3) -> str:
        """Where the first failing rows came from: ``file:line`` (or the file and the row's
        first identifying value, for a CSV row read without its line), from the examples."""
        out: list[str] = []
        for e in outcome.examples:
            file = e.get("_source_file")
            if not file:
                continue
            root = self.source_root
            if root and os.path.normpath(file).startswith(os.path.normpath(root) + os.sep):
                file = os.path.relpath(file, root)
            line = e.get("_source_line")
            if line is not None:
                place = f"{file}:{int(line)}"
            else:
                ident = next((k for k in e if not k.startswith("_") and e[k] is not None), None)
                place = f"{file} ({ident}={e[ident]})" if ident else file
            if place not in out:
                out.append(place)
        return ", ".join(out[:limit])


def load_suite(path: Path) -> gx.ExpectationSuite:
    """Read ``expectations/<name>.json`` into a GX suite.

    Beyond GX's own parsing: the suite name must match the file name, every
    expectation needs ``meta.why`` (the reason it exists) and a known severity.
    """
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as exc:
        raise SuiteError(f"{path}: no such suite file") from exc
    except json.JSONDecodeError as exc:
        raise SuiteError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite is a JSON object")
    if data.get("name") != path.stem:
        raise SuiteError(f"{path}: field 'name' must be {path.stem!r}, found {data.get('name')!r}")
    expectations = data.get("expectations")
    if not isinstance(expectations, list) or not expectations:
        raise SuiteError(f"{path}: field 'expectations' must be a non-empty list")
    for i, e in enumerate(expectations):
        where = f"{path}: expectations[{i}]"
        if not isinstance(e, dict) or "type" not in e:
            raise SuiteError(f"{where}: field 'type' is required")
        why = (e.get("meta") or {}).get("why")
        if not isinstance(why, str) or not why.strip():
            raise SuiteError(f"{where} ({e['type']}): field 'meta.why' must say why it exists")
        severity = e.get("severity", GATE_SEVERITY)
        if severity not in _SEVERITIES:
            raise SuiteError(
                f"{where} ({e['type']}): field 'severity' must be one of "
                f"{sorted(_SEVERITIES)}, found {severity!r}"
            )
    try:
        suite = gx.ExpectationSuite(**data)
    except Exception as exc:  # GX raises a zoo of pydantic and its own errors
        raise SuiteError(f"{path}: Great Expectations rejected the suite: {exc}") from exc
    if len(suite.expectations) != len(expectations):
        # GX logs an expectation it cannot build and leaves it out; a gate must not vanish.
        built = {e.expectation_type for e in suite.expectations}
        lost = [e["type"] for e in expectations if e["type"] not in built] or ["(one of them)"]
        raise SuiteError(
            f"{path}: Great Expectations rejected expectation(s) {', '.join(lost)}: "
            "unknown type or invalid kwargs"
        )
    return suite


def suite_is_blocking(suite: gx.ExpectationSuite) -> bool:
    """A suite with at least one critical expectation gates what is downstream."""
    return any(_severity(e) == GATE_SEVERITY for e in suite.expectations)


@lru_cache(maxsize=1)
def _context():
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    return context


def _batch_definition(name: str):
    context = _context()
    try:
        source = context.data_sources.get("batches")
    except Exception:  # noqa: BLE001 - GX raises KeyError or its own "not found"
        source = context.data_sources.add_pandas("batches")
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name)
    try:
        return asset.get_batch_definition("whole")
    except KeyError:
        return asset.add_batch_definition_whole_dataframe("whole")


def validate(
    frame: pd.DataFrame,
    suite: gx.ExpectationSuite,
    *,
    parameters: Mapping[str, Any] | None = None,
    phone_columns: Iterable[str] = (),
    example_columns: Sequence[str] | None = None,
    source_root: str | os.PathLike | None = None,
) -> SuiteOutcome:
    """Validate ``frame`` against ``suite``; examples carry masked phones only.

    ``source_root`` (the landing folder) shortens the file names the reason cites.
    """
    phones = set(phone_columns)
    batch = _batch_definition(suite.name).get_batch(batch_parameters={"dataframe": frame})
    result = batch.validate(
        suite,
        expectation_parameters=dict(parameters or {}),
        result_format={"result_format": "SUMMARY", "partial_unexpected_count": MAX_EXAMPLES},
    )
    _mask_result(result, phones)
    shown = [c for c in (example_columns or frame.columns) if c in frame.columns]
    outcomes = [_outcome(r, frame, shown, phones) for r in result.results]
    return SuiteOutcome(
        suite=suite.name,
        rows=len(frame),
        outcomes=outcomes,
        result=result,
        source_root=str(source_root) if source_root else None,
    )


def _severity(expectation) -> str:
    value = getattr(expectation, "severity", None)
    value = getattr(value, "value", value)
    return str(value or GATE_SEVERITY).lower()


def _outcome(r, frame: pd.DataFrame, shown: list[str], phones: set[str]) -> ExpectationOutcome:
    config = r.expectation_config
    kwargs = config.kwargs
    column = kwargs.get("column") or ",".join(kwargs.get("column_list") or [])
    res = r.result or {}
    error = _exception(r.exception_info)
    examples = []
    for i in (res.get("partial_unexpected_index_list") or [])[:MAX_EXAMPLES]:
        if isinstance(i, dict) or i not in frame.index:
            continue
        row = frame.loc[i, shown].to_dict()
        examples.append(
            {k: _plain(mask_phone(v) if k in phones and v else v) for k, v in row.items()}
        )
    return ExpectationOutcome(
        expectation=config.type,
        column=column,
        success=bool(r.success),
        severity=_severity(config),
        why=str((config.meta or {}).get("why", "")),
        element_count=res.get("element_count"),
        unexpected_count=res.get("unexpected_count"),
        unexpected_percent=res.get("unexpected_percent"),
        observed_value=_plain(res.get("observed_value")),
        error=error,
        examples=examples,
    )


def _exception(info: Any) -> str | None:
    """GX's exception_info is flat, or keyed by the metric that raised: the message."""
    if not isinstance(info, dict):
        return None
    if info.get("raised_exception"):
        return str(info.get("exception_message"))[:300]
    for value in info.values():
        if isinstance(value, dict) and value.get("raised_exception"):
            return str(value.get("exception_message"))[:300]
    return None


def _plain(value: Any) -> Any:
    """A JSON-friendly scalar (numpy, pandas and datetime values become plain ones)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return None if isinstance(value, float) and value != value else value
    if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
        return value.isoformat()
    if hasattr(value, "item"):
        return _plain(value.item())
    if value is pd.NA or value is pd.NaT:
        return None
    return str(value)


def _mask_result(result, phones: set[str]) -> None:
    """Mask phone values GX copied into the result (stored, and shown in Data Docs)."""
    if not phones:
        return
    for r in result.results:
        kwargs = r.expectation_config.kwargs
        cols = {kwargs.get("column"), *(kwargs.get("column_list") or [])}
        if not cols & phones or not r.result:
            continue
        for key in ("partial_unexpected_list", "partial_unexpected_counts"):
            values = r.result.get(key)
            if values:
                r.result[key] = [_mask_value(v, phones) for v in values]


def _mask_value(value: Any, phones: set[str]) -> Any:
    if isinstance(value, dict):
        if "value" in value and "count" in value:  # partial_unexpected_counts entry
            return {**value, "value": _mask_value(value["value"], phones)}
        return {k: mask_phone(v) if k in phones and v else v for k, v in value.items()}
    return mask_phone(value) if isinstance(value, str) else value
