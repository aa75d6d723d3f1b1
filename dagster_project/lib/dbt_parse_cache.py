"""dbt's parse of the project, kept beside each warehouse from one Dagster run to the next.

dagster-dbt gives every dbt invocation a target folder of its own and starts it from the
project's ``target/partial_parse.msgpack`` (written by ``dbt parse`` when the code location
loads). dbt reuses a parse only when the project's files, the dbt vars and the profile,
the warehouse path among it, are what they were; otherwise it parses the whole project
again (about 6 s on a 2-core machine, in every invocation). A run that passes ``as_of``,
or any warehouse other than the one the project was parsed for (a copy, a test world, a
deployment parsed elsewhere), would pay that each time.

So the parse an invocation ends with is kept beside its warehouse
(``<warehouse>.dbt-parse.msgpack``) and the next invocation on that warehouse starts from
it. dbt checks it as it checks any partial parse (file checksums, vars, profile) and
parses again whatever changed, so a stale copy costs a full parse, never a wrong manifest.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

PARSE_FILE = "partial_parse.msgpack"


def cache_path(warehouse: Path) -> Path:
    return Path(f"{warehouse}.dbt-parse.msgpack")


def prime(warehouse: Path, target: Path) -> bool:
    """Start a fresh dbt target folder from the warehouse's last parse; False if none."""
    kept = cache_path(warehouse)
    if not kept.exists():
        return False
    target.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(kept, target / PARSE_FILE)
    return True


def keep(warehouse: Path, target: Path) -> bool:
    """Keep the parse a dbt invocation in ``target`` ended with, for the next one on this
    warehouse (replaced whole, so a reader never sees half a file); False if it left none."""
    made = target / PARSE_FILE
    if not made.exists():
        return False
    kept = cache_path(warehouse)
    tmp = kept.with_name(kept.name + ".tmp")
    shutil.copyfile(made, tmp)
    os.replace(tmp, kept)
    return True
