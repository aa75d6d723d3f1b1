"""The demo, outside the product: data to run the pipeline on, and the loop that shows it.

``generate()`` writes POS, CRM and shop files into the landing folder exactly
as ``docs/landing-files.md`` describes them, with deliberate, recorded mess,
plus the ground truth (people, mess log) the pipeline's tests check against.
``recipients`` and ``loop`` are the world after a send (what recipients do, and
their callbacks and purchases made real); ``replay`` is the demo loop that
drives the product through ``dagster_project.pipeline``. Nothing in
``dagster_project`` imports this package; it is run from the repository root as
``python -m demo generate`` and ``python -m demo run`` (``make demo``).
"""

from .generator import GenerationSummary, generate

__all__ = ["GenerationSummary", "generate"]
