"""Datasets shipped with the package, for the demo and for trying commands without data of your own."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

SUPPORT_TICKETS = "support_tickets.jsonl"


def sample_path(name: str = SUPPORT_TICKETS) -> Path:
    """Filesystem path of a packaged sample dataset (a file, or the ``legal`` folder)."""
    return Path(str(resources.files("ftadvisor.sample_data").joinpath(name)))
