"""Demo source data: a reproducible population of shoppers and the exports they leave behind.

``generate()`` writes POS, CRM and shop files into the landing folder exactly
as ``docs/landing-files.md`` describes them, with deliberate, recorded mess,
plus the ground truth (people, mess log) the pipeline's tests check against.
Run it as ``python -m dagster_project.demo`` or ``sms-demo-data``.
"""

from .generator import GenerationSummary, generate

__all__ = ["GenerationSummary", "generate"]
