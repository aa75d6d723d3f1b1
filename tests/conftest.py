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
