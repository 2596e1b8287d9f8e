"""``ftadvisor prices``: the dated price catalogue."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ftadvisor.cli.common import err, json_option, out, print_json, user_errors
from ftadvisor.cli.options import as_of_option, today

prices_option = click.option(
    "--prices",
    "prices_file",
    type=click.Path(path_type=Path),
    help="JSON file overriding or extending the catalogue (rows matched by id). Example: --prices my-prices.json",
)


def load(prices_file: Path | None, on: dt.date | None = None):
    """The catalogue, with a warning on stderr when it is older than 90 days on ``on`` (default today)."""
    from ftadvisor.pricing import load_catalogue

    cat = load_catalogue(prices_file)
    if cat.is_stale(on):
        err.print(
            f"[yellow]warning:[/] the price catalogue is {cat.age_days(on)} days old (as of {cat.as_of}); "
            "check prices against the providers' pages (`ftadvisor prices check`)"
        )
    return cat


def _usd(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


@click.group()
def prices() -> None:
    """The price catalogue: prices, limits and shutdown dates per model."""


@prices.command("list")
@click.option(
    "--provider", help="Only this provider's rows: openai, azure, together or self-hosted. Example: --provider azure"
)
@as_of_option
@prices_option
@json_option
@user_errors
def list_(provider: str | None, as_of, prices_file: Path | None, as_json: bool) -> None:
    """List every model with training and inference prices (USD per 1M tokens), hosting and its dates.

    \b
    Example:
      ftadvisor prices list --provider together --json
    """
    from ftadvisor.errors import InputError

    on = today(as_of)
    cat = load(prices_file, on)
    if provider is not None:
        if provider not in cat.providers():
            raise InputError(f"--provider {provider}: the catalogue has {', '.join(cat.providers())}")
        cat = cat.model_copy(update={"models": [m for m in cat.models if m.provider == provider]})
    if as_json:
        print_json(cat)
        return
    from rich.table import Table

    t = Table(
        "model",
        "provider",
        "train",
        "ft in/cached/out",
        "base in/cached/out",
        "hosting",
        "job cut-off",
        "shutdown",
        title=f"prices as of {cat.as_of} ({cat.currency} per 1M tokens)",
    )
    for m in cat.models:
        train = f"{_usd(m.training_per_hour)}/h" if m.training_per_hour is not None else _usd(m.training_per_1m)
        if m.self_hosted:
            train = f"GPU {_usd(m.gpu_per_hour)}/h"
        retired = " (retired)" if m.is_retired(on) else " (no new jobs)" if not m.accepts_jobs(on) else ""
        t.add_row(
            m.id + retired,
            m.provider,
            train,
            "/".join(_usd(x) for x in (m.ft_input, m.ft_cached_input, m.ft_output)),
            "/".join(_usd(x) for x in (m.base_input, m.base_cached_input, m.base_output)),
            f"{_usd(m.hosting_per_hour)}/h" if m.hosting_per_hour is not None else "-",
            str(m.job_cutoff or "-"),
            str(m.shutdown or "-"),
        )
    out.print(t)


@prices.command("show")
@click.argument("model")
@as_of_option
@prices_option
@json_option
@user_errors
def show(model: str, as_of, prices_file: Path | None, as_json: bool) -> None:
    """Show one model's row, with its sources (ft: ids and undated names work).

    \b
    Example:
      ftadvisor prices show ft:gpt-4o-mini-2024-07-18:acme::x1
    """
    from ftadvisor.advisor.costs import find_model

    on = today(as_of)
    cat = load(prices_file, on)
    m = find_model(cat, model)
    if as_json:
        print_json(
            {
                **m.model_dump(mode="json"),
                "as_of": str(cat.as_of),
                "checked_on": str(on),
                "retired": m.is_retired(on),
                "past_job_cutoff": not m.accepts_jobs(on),
                "sources_text": {k: cat.sources.get(k, k) for k in m.sources},
            }
        )
        return
    out.print(f"[bold]{m.id}[/] ({m.provider}), prices as of {cat.as_of}")
    for key, value in m.model_dump().items():
        if key not in ("id", "sources") and value not in (None, []):
            out.print(f"  {key}: {value}")
    if m.shutdown:
        state = "shut down" if m.is_retired(on) else "shuts down"
        out.print(f"  {state} on {m.shutdown}; fine-tuned models of it go with it")
    for k in m.sources:
        out.print(f"  source: {cat.sources.get(k, k)}")


@prices.command("check")
@as_of_option
@prices_option
@json_option
@user_errors
def check(as_of, prices_file: Path | None, as_json: bool) -> None:
    """Flag what needs re-checking: rows last checked more than 90 days ago (a row's own `as_of`, else the
    catalogue's), and models retired or past their job cut-off. Exits 1 when a row is stale.

    \b
    Example:
      ftadvisor prices check --prices my-prices.json
    """
    from ftadvisor.pricing.catalogue import STALE_AFTER_DAYS

    on = today(as_of)
    cat = load(prices_file, on)
    rows = []
    for m in cat.models:
        checked = m.as_of or cat.as_of
        age = (on - checked).days
        if age > STALE_AFTER_DAYS or m.is_retired(on) or not m.accepts_jobs(on):
            rows.append(
                {
                    "model": m.id,
                    "checked": str(checked),
                    "age_days": age,
                    "stale": age > STALE_AFTER_DAYS,
                    "retired": m.is_retired(on),
                    "past_job_cutoff": not m.accepts_jobs(on),
                }
            )
    stale = any(r["stale"] for r in rows)
    if as_json:
        print_json(
            {
                "as_of": str(cat.as_of),
                "checked_on": str(on),
                "stale_after_days": STALE_AFTER_DAYS,
                "stale": stale,
                "rows": rows,
            }
        )
    else:
        out.print(f"catalogue as of {cat.as_of}, checked on {on} (rows go stale after {STALE_AFTER_DAYS} days)")
        for r in rows:
            flags = [f"STALE: checked {r['checked']}, {r['age_days']} days ago"] if r["stale"] else []
            flags += ["retired"] if r["retired"] else ["takes no new jobs"] if r["past_job_cutoff"] else []
            out.print(f"  {r['model']}: {'; '.join(flags)}")
        if not stale:
            out.print("every row was checked within the last 90 days")
    if stale:
        raise SystemExit(1)
