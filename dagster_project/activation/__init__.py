"""Activation: campaign files, the per-campaign plan, rendering, the gateway and the ledger."""
