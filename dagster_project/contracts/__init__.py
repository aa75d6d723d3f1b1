"""Contracts between stages: what a producer writes and a consumer reads, in one place.

A later stage never imports an earlier one's code; where both must agree on a
format, a table or a path, the agreement lives here and both import it.
"""
