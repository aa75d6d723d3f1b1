"""Test-wide setup: telemetry off for every library and subprocess, as in production.

The layout: ``unit/<domain>/`` holds pure functions (no warehouse file, no DuckDB connection,
no Dagster instance, no server process; ``make test-fast``); ``integration/`` the rest, with
the session's generated worlds in its conftest; ``support/`` the helper servers and harnesses,
imported as ``support.<module>``.
"""

from dagster_project import settings

settings.disable_telemetry()


def pytest_configure(config):
    """Under ``pytest -n``, the dbt manifest is written here, once, before the workers start
    (each would otherwise run ``dbt parse`` into the same dbt/target on import)."""
    if not hasattr(config, "workerinput"):
        import dagster_project.transform  # noqa: F401  (writes the manifest when stale)


# The modules whose setup takes minutes (a whole loop, or a build on two engines), started
# first: `--dist loadfile` hands out modules in collection order (two to each worker, then
# one whenever a worker is free), and the longest one handed out last keeps one worker busy
# while the other waits.
LONGEST_FIRST = (
    "integration/test_spark.py",
    "integration/test_outcome_loop.py",
    "integration/test_models.py",
)


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        path = item.path.as_posix()
        return next(
            (i for i, m in enumerate(LONGEST_FIRST) if path.endswith(m)), len(LONGEST_FIRST)
        )

    items.sort(key=rank)  # stable: every other module keeps its order
