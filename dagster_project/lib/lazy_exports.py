"""A package's names loaded on first use (PEP 562), for packages whose Dagster side
(definitions, assets, jobs) is too heavy to import with the package itself."""

import importlib
from collections.abc import Callable
from typing import Any


def lazy_getattr(
    package: str, exports: dict[str, str], defs: Callable[[], Any]
) -> Callable[[str], Any]:
    """The package's module-level ``__getattr__``: ``defs`` built by ``defs()``, each name
    of ``exports`` taken from the module it maps to, when first asked for."""

    def __getattr__(name: str) -> Any:
        if name == "defs":
            return defs()
        if name in exports:
            return getattr(importlib.import_module(exports[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
