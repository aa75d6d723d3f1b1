"""Settings files in YAML, read into pydantic models; every error names the file and the field.

One reader for the campaign files, the caps policy, the price table and the
keyword replies, so they refuse the same things the same way, in one line that
names the file and, where there is one, the line: an unreadable file, bytes that
are not UTF-8, invalid YAML, a key given twice (YAML would silently keep the
last), a top level that is not a mapping, and a field pydantic rejects
(``<file>: field variants[0].weight: ... (line 14)``; an unknown field lists the
valid ones). Pure: no Dagster, no DuckDB.
"""

from __future__ import annotations

import inspect
import types
import typing
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a key given twice."""


def _mapping_without_duplicates(loader: yaml.SafeLoader, node: yaml.MappingNode):
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping_without_duplicates
)


def field_path(loc: Iterable[Any]) -> str:
    """pydantic's error location as written in a file: ``variants[0].templates.de``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(file)"


def _text(path: Path, error: Callable[[str], Exception]) -> str:
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise error(
            f"{path}: line {line}, column {column}: not UTF-8 text (byte "
            f"0x{raw[exc.start]:02x}); save the file as UTF-8"
        ) from exc


def _yaml_problem(path: Path, exc: yaml.YAMLError) -> str:
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return f"{path}: not valid YAML: {exc}"
    mark = exc.problem_mark
    text = f"{path}: line {mark.line + 1}, column {mark.column + 1}: not valid YAML: {exc.problem}"
    if exc.context and exc.context_mark is not None:
        where = exc.context_mark
        text += f" ({exc.context} at line {where.line + 1}, column {where.column + 1})"
    elif exc.context:
        text += f" ({exc.context})"
    return text


def read_mapping(path: Path, error: Callable[[str], Exception], shape: str) -> dict:
    """The file's top-level mapping; ``shape`` says what it should be when it is not one."""
    text = _text(path, error)
    try:
        data = yaml.load(text, Loader=UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise error(_yaml_problem(path, exc)) from exc
    if not isinstance(data, dict):
        raise error(f"{path}: {shape}")
    return data


def _unwrap(kind: Any) -> Any:
    """``X`` from ``X | None`` (and ``Optional[X]``); anything else as it is."""
    while typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) != 1:
            return kind
        kind = args[0]
    return kind


def valid_fields(model: type[BaseModel], loc: Iterable[Any]) -> list[str] | None:
    """The fields a file may write at ``loc`` (inside ``model``), None when not a model."""
    kind: Any = model
    for part in loc:
        kind = _unwrap(kind)
        origin, args = typing.get_origin(kind), typing.get_args(kind)
        if origin in (list, tuple, set) and isinstance(part, int) and args:
            kind = args[0]
        elif origin is dict and len(args) == 2:
            kind = args[1]
        elif inspect.isclass(kind) and issubclass(kind, BaseModel) and part in kind.model_fields:
            kind = kind.model_fields[part].annotation
        else:
            return None
    kind = _unwrap(kind)
    if not (inspect.isclass(kind) and issubclass(kind, BaseModel)):
        return None
    return sorted(name for name, f in kind.model_fields.items() if not f.exclude)


def key_lines(path: Path) -> dict[tuple, int]:
    """The line of every key and list item in the file, by its location (best effort)."""
    try:
        root = yaml.compose(Path(path).read_text(encoding="utf-8"), Loader=UniqueKeyLoader)
    except (OSError, ValueError, yaml.YAMLError):
        return {}
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, loc: tuple) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    lines[(*loc, key.value)] = key.start_mark.line + 1
                    walk(value, (*loc, key.value))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*loc, i)] = item.start_mark.line + 1
                walk(item, (*loc, i))

    if root is not None:
        walk(root, ())
    return lines


def _line_of(loc: tuple, lines: dict[tuple, int]) -> int | None:
    """The line of the deepest part of ``loc`` that is in the file."""
    for depth in range(len(loc), 0, -1):
        if loc[:depth] in lines:
            return lines[loc[:depth]]
    return None


def validate(model: type[M], data: dict, path: Path, error: Callable[[str], Exception]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        lines = key_lines(path)
        problems = []
        for e in exc.errors():
            loc = tuple(e["loc"])
            notes = []
            if (line := _line_of(loc, lines)) is not None:
                notes.append(f"line {line}")
            if e["type"] == "extra_forbidden" and (valid := valid_fields(model, loc[:-1])):
                notes.append(f"valid fields: {', '.join(valid)}")
            where = f" ({'; '.join(notes)})" if notes else ""
            message = e["msg"].removeprefix("Value error, ")
            problems.append(f"field {field_path(loc)}: {message}{where}")
        raise error(f"{path}: {'; '.join(problems)}") from exc
