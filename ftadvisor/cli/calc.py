"""``ftadvisor calc``: the articles' calculators on the user's numbers, as one page that works offline."""

from __future__ import annotations

from pathlib import Path

import click

from ftadvisor.cli.common import out, user_errors
from ftadvisor.cli.options import as_of_option, today


@click.command()
@click.option(
    "--out",
    "out_file",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("calc.html"),
    show_default=True,
    help="HTML file to write. Example: --out calc.html",
)
@click.option(
    "--from-ledger",
    "ledger_ref",
    help="Start from a ledger job or evaluation run (its model, training "
    "cost and measured tokens). Example: --from-ledger eval-1a2b3c",
)
@click.option(
    "--data",
    "data_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Start from a dataset: its examples and training cost on --model. Example: --data train.jsonl",
)
@click.option(
    "--model",
    "-m",
    default="gpt-4.1-mini-2025-04-14",
    show_default=True,
    help="Model that --data is priced on. Example: --model gpt-4o-mini",
)
@click.option("--open", "open_page", is_flag=True, help="Open the page in the default browser. Example: --open")
@as_of_option
@user_errors
def calc(out_file: Path, ledger_ref: str | None, data_file: Path | None, model: str, open_page: bool, as_of) -> None:
    """Write the calculators page: break-even and crossover, LoRA rank and memory, the decision tool,
    examples needed. Its formulas are the API's own, translated to JavaScript; nothing is fetched.

    \b
    Examples:
      ftadvisor calc --open
      ftadvisor calc --data train.jsonl --model gpt-4.1-mini-2025-04-14 --out calc.html
      ftadvisor calc --from-ledger eval-1a2b3c
    """
    from ftadvisor.calc.page import prefill_from_data, prefill_from_ledger, write_page

    if ledger_ref and data_file:
        raise click.UsageError("give --from-ledger or --data, not both")
    prefill = (
        prefill_from_ledger(ledger_ref) if ledger_ref else prefill_from_data(data_file, model) if data_file else None
    )
    path = write_page(out_file, prefill, today=today(as_of))
    out.print(f"calculators: {path} ({path.stat().st_size / 1e6:.1f} MB, works offline)")
    if open_page:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
