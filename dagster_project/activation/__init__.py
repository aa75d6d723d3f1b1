"""Activation: campaign files, the per-campaign plan, rendering, the gateway and the ledger."""

from dagster_project.activation.assets import DISPATCH_KEY, LEDGER_KEY, LINKS_KEY, PLAN_GATES
from dagster_project.activation.jobs import DISPATCH_SELECTION, PLAN_SELECTION, build_defs

__all__ = [
    "DISPATCH_KEY",
    "DISPATCH_SELECTION",
    "LEDGER_KEY",
    "LINKS_KEY",
    "PLAN_GATES",
    "PLAN_SELECTION",
    "build_defs",
    "defs",
]

defs = build_defs()
