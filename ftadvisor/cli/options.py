"""Options shared by the commands that price or date something: ``--as-of``, prompt caching and the
organisation's fine-tuning history. One definition each, so every command spells and explains them alike."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])


def as_of_option(fn: F) -> F:
    return click.option(
        "--as-of",
        "as_of",
        type=click.DateTime(formats=["%Y-%m-%d"]),
        help="Price and date everything as on this day (remaining life, job cut-offs, the stale-catalogue "
        "warning), to reproduce an estimate later. Default: today. Example: --as-of 2026-11-23",
    )(fn)


def today(as_of: dt.datetime | dt.date | None) -> dt.date:
    if as_of is None:
        return dt.date.today()
    return as_of.date() if isinstance(as_of, dt.datetime) else as_of


def cache_options(fn: F) -> F:
    fn = click.option(
        "--no-cache", is_flag=True, help="Compare without prompt caching (both sides). Example: --no-cache"
    )(fn)
    return click.option(
        "--cache-hit-rate",
        type=click.FloatRange(0, 1),
        help="Share of requests whose static prompt prefix is cached (OpenAI caches prefixes of 1,024+ tokens in "
        "128-token steps). Default: estimated from --requests-per-day and a 5-minute cache lifetime. "
        "Example: --cache-hit-rate 0.5",
    )(fn)


def caching(cache_hit_rate: float | None, no_cache: bool) -> Any:
    from ftadvisor.advisor.caching import Caching

    if no_cache and cache_hit_rate is not None:
        raise click.UsageError("give --cache-hit-rate or --no-cache, not both")
    return Caching(enabled=not no_cache, hit_rate=cache_hit_rate)


def azure_customer_option(fn: F) -> F:
    return click.option(
        "--azure-customer",
        "azure_customer",
        type=click.Choice(["existing", "new", "unknown"]),
        default="unknown",
        show_default=True,
        help="Whether your Azure subscription has already deployed the model version: Azure trains gpt-4o / "
        "gpt-4.1-family models until April 2027 for existing customers only. unknown is shown as conditional "
        "and refused by train until stated. Example: --azure-customer existing",
    )(fn)


def org_history_option(fn: F) -> F:
    return click.option(
        "--org-history",
        type=click.Choice(["never", "inactive", "active", "unknown"]),
        default="unknown",
        show_default=True,
        help="Your organisation's OpenAI fine-tuning history, which decides whether it may still create jobs: never "
        "= never ran a job (blocked since 2026-05-07); inactive = no fine-tuned inference in 60 days (blocked "
        "since 2026-07-02); active = fine-tuned inference in the last 60 days. Example: --org-history active",
    )(fn)
