"""A daily dbt build leaves the unit tests out only for code that passed them all."""

import json

from dagster_project.lib.dbt_unit_tests import (
    code_fingerprint,
    record_unit_tests,
    stamp_path,
    unit_test_args,
)

EXCLUDE = ["--exclude-resource-type", "unit_test"]


def _project(tmp_path):
    dbt = tmp_path / "dbt"
    (dbt / "models").mkdir(parents=True)
    (dbt / "models" / "m.sql").write_text("select 1 as x")
    return dbt


def _run(target, unit_tests: dict[str, str]):
    target.mkdir(exist_ok=True)
    (target / "manifest.json").write_text(json.dumps({"unit_tests": dict.fromkeys(unit_tests)}))
    results = [{"unique_id": u, "status": s} for u, s in unit_tests.items()]
    results.append({"unique_id": "model.p.m", "status": "success"})
    (target / "run_results.json").write_text(json.dumps({"results": results}))


def test_the_fingerprint_follows_the_code_not_dbt_output(tmp_path):
    dbt = _project(tmp_path)
    before = code_fingerprint(dbt)
    for folder in ("target", "logs"):
        (dbt / folder).mkdir()
        (dbt / folder / "run_results.json").write_text("{}")
    assert code_fingerprint(dbt) == before
    (dbt / "models" / "m.sql").write_text("select 2 as x")
    assert code_fingerprint(dbt) != before


def test_unit_tests_run_until_this_code_passed_them_all(tmp_path):
    dbt, warehouse, target = _project(tmp_path), tmp_path / "w.duckdb", tmp_path / "target"
    code = code_fingerprint(dbt)
    assert unit_test_args(warehouse, code, full_refresh=False) == []  # never stamped

    _run(target, {"unit_test.p.m.a": "pass", "unit_test.p.m.b": "fail"})
    assert not record_unit_tests(warehouse, code, target)
    assert unit_test_args(warehouse, code, full_refresh=False) == []

    _run(target, {"unit_test.p.m.a": "pass"})  # a run that did not run b proves nothing of it
    (target / "manifest.json").write_text(
        json.dumps({"unit_tests": {"unit_test.p.m.a": {}, "unit_test.p.m.b": {}}})
    )
    assert not record_unit_tests(warehouse, code, target)

    _run(target, {"unit_test.p.m.a": "pass", "unit_test.p.m.b": "pass"})
    assert record_unit_tests(warehouse, code, target)
    assert stamp_path(warehouse).exists()
    assert unit_test_args(warehouse, code, full_refresh=False) == EXCLUDE
    assert unit_test_args(warehouse, code, full_refresh=True) == []  # a full refresh runs them

    (dbt / "models" / "m.sql").write_text("select 2 as x")  # the code changed
    assert unit_test_args(warehouse, code_fingerprint(dbt), full_refresh=False) == []
