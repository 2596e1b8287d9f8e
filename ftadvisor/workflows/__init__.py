"""Workflows below the CLI: each takes a typed request and returns a typed result; commands parse and print.

New workflows of this round live here (``migrate``: the migration kit's inventory); the older ones move in as
the house issue proceeds.
"""
