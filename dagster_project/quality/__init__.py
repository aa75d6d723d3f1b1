"""Quality: Great Expectations suites (``expectations/*.json``) as Dagster asset checks.

Raw gates run on the delivery days just loaded, mart gates on the customer
marts and the SMS audience. Blocking gates stop everything downstream in the
run; ``gates.require_passing_gates`` makes later runs respect them too.
"""

from dagster import Definitions

from dagster_project.quality.checks import mart_checks, raw_checks

__all__ = ["defs", "mart_checks", "raw_checks"]

defs = Definitions(asset_checks=[*raw_checks, *mart_checks])
