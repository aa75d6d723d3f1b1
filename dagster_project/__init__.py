"""SMS lifecycle pipeline: ingest, transform, gate, activate, learn."""

import warnings

from dagster_project import settings as _settings

_settings.disable_telemetry()

# With the spark extra installed, Great Expectations imports pyspark in every process, and
# pyspark warns on import that it does not fully support pandas 3. The project reads Spark
# through Arrow (dagster_project/spark/marts.py), never through pandas-on-Spark.
warnings.filterwarnings(
    "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
)
