"""Test-wide setup: telemetry off for every library and subprocess, as in production."""

from dagster_project import settings

settings.disable_telemetry()
