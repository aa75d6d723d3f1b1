"""When a dbt build runs the project's unit tests: once per version of the dbt code.

dbt unit tests pin a model's logic on fixed fixture rows; their outcome depends on the
code (models, macros, yml, seeds, vars in ``dbt_project.yml``) and on dbt, never on the
warehouse's data. Re-running them in every daily build spends about a third of a small
build on proving again what the previous build proved. So:

* a full refresh always runs them;
* any other build runs them unless the warehouse's stamp (a file beside it) holds the
  fingerprint of the dbt code as it is now, written after a build in which every unit
  test of the project passed. A changed model, macro or yml, a new dbt, a warehouse
  copied without its stamp: the next build runs them all again, and a failing unit test
  skips its model as before.
"""

from __future__ import annotations

import hashlib
import json
import os
from importlib import metadata
from pathlib import Path

# What is not code in the dbt project folder.
_NOT_CODE = {"target", "logs", "dbt_packages"}


def code_fingerprint(dbt_dir: Path) -> str:
    """A hash of every file of the dbt project (names and contents) and dbt's version."""
    digest = hashlib.sha256()
    for name in ("dbt-core", "dbt-duckdb"):
        try:
            digest.update(f"{name}=={metadata.version(name)}\n".encode())
        except metadata.PackageNotFoundError:
            digest.update(f"{name} missing\n".encode())
    files = []
    for folder, dirs, names in os.walk(dbt_dir):
        if Path(folder) == dbt_dir:
            dirs[:] = [d for d in dirs if d not in _NOT_CODE]
        files += [Path(folder, name) for name in names]
    for path in sorted(files):
        relative = path.relative_to(dbt_dir).as_posix()
        digest.update(relative.encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def stamp_path(warehouse: Path) -> Path:
    return Path(f"{warehouse}.unit-tested")


def unit_test_args(warehouse: Path, fingerprint: str, full_refresh: bool) -> list[str]:
    """Extra ``dbt build`` arguments: leave the unit tests out when this code passed them."""
    if full_refresh:
        return []
    stamp = stamp_path(warehouse)
    if stamp.exists() and stamp.read_text().strip() == fingerprint:
        return ["--exclude-resource-type", "unit_test"]
    return []


def record_unit_tests(warehouse: Path, fingerprint: str, target_dir: Path) -> bool:
    """Stamp the warehouse when every unit test of the project passed in the run just done.

    ``fingerprint`` is the code's as the run started (``code_fingerprint``). Reads the
    run's ``manifest.json`` and ``run_results.json`` in ``target_dir``; returns whether it
    stamped.
    """
    try:
        manifest = json.loads((target_dir / "manifest.json").read_text())
        results = json.loads((target_dir / "run_results.json").read_text())
    except (OSError, ValueError):
        return False
    wanted = set(manifest.get("unit_tests", {}))
    passed = {
        r["unique_id"]
        for r in results.get("results", [])
        if r["unique_id"].startswith("unit_test.") and r["status"] == "pass"
    }
    if not wanted or not wanted <= passed:
        return False
    stamp_path(warehouse).write_text(fingerprint + "\n")
    return True
