"""SMS lifecycle pipeline: ingest, transform, gate, activate, learn."""

from dagster_project import settings as _settings

_settings.disable_telemetry()
