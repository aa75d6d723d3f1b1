"""Publishing: the analysts' read-only copy of the warehouse, refreshed after each load."""

from dagster_project.publish.assets import analytics_snapshot, defs, publish_copy, publish_job

__all__ = ["analytics_snapshot", "defs", "publish_copy", "publish_job"]
