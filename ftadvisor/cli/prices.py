"""``ftadvisor prices``: the dated price catalogue."""

from __future__ import annotations

from pathlib import Path

import click

from ftadvisor.cli.common import err, json_option, out, print_json, user_errors

prices_option = click.option("--prices", "prices_file", type=click.Path(path_type=Path),
                             help="JSON file overriding or extending the catalogue (rows matched by id). "
                                  "Example: --prices my-prices.json")


def load(prices_file: Path | None):
    from ftadvisor.pricing import load_catalogue

    cat = load_catalogue(prices_file)
    if cat.is_stale():
        err.print(f"[yellow]warning:[/] the price catalogue is {cat.age_days()} days old (as of {cat.as_of}); "
                  "check prices against the providers' pages")
    return cat


def _usd(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


@click.group()
def prices() -> None:
    """The price catalogue: prices, limits and shutdown dates per model."""


@prices.command("list")
@prices_option
@json_option
@user_errors
def list_(prices_file: Path | None, as_json: bool) -> None:
    """List every model with training and inference prices (USD per 1M tokens) and its dates.

    \b
    Example:
      ftadvisor prices list --json
    """
    cat = load(prices_file)
    if as_json:
        print_json(cat)
        return
    from rich.table import Table

    t = Table("model", "train", "ft in/cached/out", "base in/cached/out", "job cut-off", "shutdown",
              title=f"prices as of {cat.as_of} ({cat.currency} per 1M tokens)")
    for m in cat.models:
        train = f"{_usd(m.training_per_hour)}/h" if m.training_per_hour is not None else _usd(m.training_per_1m)
        if m.provider == "self-hosted":
            train = f"GPU {_usd(m.gpu_per_hour)}/h"
        retired = " (retired)" if m.is_retired() else ""
        t.add_row(m.id + retired, train, "/".join(_usd(x) for x in (m.ft_input, m.ft_cached_input, m.ft_output)),
                  "/".join(_usd(x) for x in (m.base_input, m.base_cached_input, m.base_output)),
                  str(m.job_cutoff or "-"), str(m.shutdown or "-"))
    out.print(t)


@prices.command("show")
@click.argument("model")
@prices_option
@json_option
@user_errors
def show(model: str, prices_file: Path | None, as_json: bool) -> None:
    """Show one model's row, with its sources (ft: ids and undated names work).

    \b
    Example:
      ftadvisor prices show ft:gpt-4o-mini-2024-07-18:acme::x1
    """
    from ftadvisor.advisor.costs import find_model

    cat = load(prices_file)
    m = find_model(cat, model)
    if as_json:
        print_json({**m.model_dump(mode="json"), "as_of": str(cat.as_of),
                    "sources_text": {k: cat.sources.get(k, k) for k in m.sources}})
        return
    out.print(f"[bold]{m.id}[/] ({m.provider}), prices as of {cat.as_of}")
    for key, value in m.model_dump().items():
        if key not in ("id", "sources") and value not in (None, []):
            out.print(f"  {key}: {value}")
    if m.shutdown:
        state = "shut down" if m.is_retired() else "shuts down"
        out.print(f"  {state} on {m.shutdown}; fine-tuned models of it go with it")
    for k in m.sources:
        out.print(f"  source: {cat.sources.get(k, k)}")
