"""Where ftadvisor keeps its files: ``$FTADVISOR_HOME`` or the platform's config folder."""

from __future__ import annotations

import os
from pathlib import Path


def user_dir() -> Path:
    """The folder for user configuration and data (prices.json, the ledger, local jobs)."""
    env = os.environ.get("FTADVISOR_HOME")
    if env:
        return Path(env)
    import click

    return Path(click.get_app_dir("ftadvisor"))
