"""Generated worlds for the integration tests: the demo generator runs once per parameter set
per test session, however many modules ask for it.

A module that only reads the landing files and the truth uses them where they lie; a module
whose pipeline or tests write beside them (a warehouse, a published copy, a moved file) takes
its own copy with ``copy_to``, so no test's writes reach another module's assertions.
"""

from __future__ import annotations

import copy
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

from demo import generate


@dataclass(frozen=True)
class Generated:
    landing: Path
    truth: Path
    summary: object

    def copy_to(self, base: Path) -> object:
        """``base/landing`` and ``base/truth`` as the generator wrote them; its summary."""
        shutil.copytree(self.landing, base / "landing")
        shutil.copytree(self.truth, base / "truth")
        return copy.deepcopy(self.summary)


@pytest.fixture(scope="session")
def generated(tmp_path_factory):
    """``generated(customers=..., days=..., seed=..., end=..., **more)``: the generator's
    output for those parameters, made on first use and shared after. Read only."""
    made: dict[tuple, Generated] = {}

    def make(**params) -> Generated:
        key = tuple(sorted(params.items()))
        if key not in made:
            base = tmp_path_factory.mktemp("generated")
            summary = generate(out=base / "landing", truth_dir=base / "truth", **params)
            made[key] = Generated(base / "landing", base / "truth", summary)
        return made[key]

    return make
