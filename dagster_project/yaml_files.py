"""Settings files in YAML, read into pydantic models; every error names the file and the field.

One reader for the campaign files, the caps policy, the price table and the
keyword replies, so they refuse the same things the same way: an unreadable
file, invalid YAML, a key given twice (YAML would silently keep the last), a
top level that is not a mapping, and a field pydantic rejects
(``<file>: field variants[0].weight: ...``). Pure: no Dagster, no DuckDB.
"""

from __future__ import annotations

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


def read_mapping(path: Path, error: Callable[[str], Exception], shape: str) -> dict:
    """The file's top-level mapping; ``shape`` says what it should be when it is not one."""
    try:
        data = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=UniqueKeyLoader)
    except OSError as exc:
        raise error(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except yaml.YAMLError as exc:
        raise error(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise error(f"{path}: {shape}")
    return data


def validate(model: type[M], data: dict, path: Path, error: Callable[[str], Exception]) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"field {field_path(e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
            for e in exc.errors()
        )
        raise error(f"{path}: {problems}") from exc
