"""``ftadvisor data``: validate, count, deduplicate, check, split and convert datasets."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ftadvisor.cli.common import byte_progress, json_option, out, print_json, user_errors
from ftadvisor.data.formats import METHODS
from ftadvisor.tokens import ENCODINGS

method_option = click.option("--method", type=click.Choice(METHODS),
                             help="Training method the file is for (default: detected from its first line). "
                                  "Example: --method dpo")
file_argument = click.argument("file", type=click.Path(path_type=Path))


@click.group()
def data() -> None:
    """Check and prepare fine-tuning datasets (JSONL)."""


@data.command()
@file_argument
@method_option
@click.option("--model", "-m", help="Also check each example against this model's token limit. "
              "Example: --model gpt-4.1-mini-2025-04-14")
@click.option("--strict", is_flag=True, help="Fail on warnings too (over-long examples, identical DPO pairs). "
              "Example: --strict")
@json_option
@user_errors
def validate(file: Path, method: str | None, model: str | None, strict: bool, as_json: bool) -> None:
    """Check every line of FILE; print FILE:LINE[:message]: category: explanation.

    Exit 0 when the file is valid, 1 when it is not, 2 for usage errors.

    \b
    Examples:
      ftadvisor data validate train.jsonl
      ftadvisor data validate prefs.jsonl --method dpo --model gpt-4.1-mini-2025-04-14 --json
    """
    from ftadvisor.data.validate import validate_file

    with byte_progress("validating") as progress:
        report = validate_file(file, method=method, model=model, progress=progress)  # type: ignore[arg-type]
    ok = report.valid and not (strict and report.n_warnings)
    if as_json:
        data_ = report.model_dump(mode="json")
        data_["problems"] = [p.to_dict() for p in report.problems]
        print_json(data_)
    else:
        for p in report.problems:
            click.echo(p.format(str(file)))
        if report.problems_truncated:
            click.echo(f"... only the first {len(report.problems):,} problems are listed")
        for note in report.notes:
            click.echo(f"note: {note}")
        missing = {k: v for k, v in report.counts.items() if k in ("missing_system", "missing_user")}
        if missing:
            click.echo("note: " + ", ".join(f"{v:,} example(s) without a {k.split('_')[1]} message"
                                            for k, v in missing.items()))
        how = f", detected from line {report.detected_from_line}" if report.detected_from_line else ""
        verdict = "valid" if ok else "INVALID"
        click.echo(f"{file}: {verdict}: {report.n_examples:,} examples ({report.method}{how}), "
                   f"{report.n_errors:,} errors, {report.n_warnings:,} warnings")
    sys.exit(0 if ok else 1)


@data.command()
@file_argument
@method_option
@click.option("--model", "-m", default=None, help="Model to price and count for (default gpt-4o-mini-2024-07-18). "
              "Example: --model gpt-4.1-2025-04-14")
@click.option("--encoding", type=click.Choice(ENCODINGS), help="Override the model's encoding. "
              "Example: --encoding cl100k_base")
@click.option("--max-example-tokens", type=click.IntRange(min=1), help="Per-example limit (default: the "
              "model's). Example: --max-example-tokens 16385")
@click.option("--epochs", type=click.IntRange(1, 50), help="Epochs to price (default: OpenAI's auto "
              "heuristic). Example: --epochs 3")
@json_option
@user_errors
def stats(file: Path, method: str | None, model: str | None, encoding: str | None,
          max_example_tokens: int | None, epochs: int | None, as_json: bool) -> None:
    """Token and message distributions, billing tokens and training cost of FILE.

    \b
    Examples:
      ftadvisor data stats train.jsonl
      ftadvisor data stats train.jsonl --model gpt-3.5-turbo --encoding cl100k_base --json
    """
    from ftadvisor.data.stats import DEFAULT_MODEL, dataset_stats

    with byte_progress("counting") as progress:
        s = dataset_stats(file, model=model or DEFAULT_MODEL, encoding=encoding,
                          max_example_tokens=max_example_tokens, method=method,  # type: ignore[arg-type]
                          epochs=epochs, progress=progress)
    if as_json:
        print_json(s)
        return
    from rich.table import Table

    out.print(f"[bold]{file}[/]: {s.n_examples:,} examples ({s.method}), model {s.model}, "
              f"encoding {s.encoding}, limit {s.max_example_tokens or 'none'}")
    if s.format_errors:
        out.print("[red]format errors:[/] " + ", ".join(f"{k} {v:,}" for k, v in s.format_errors.items())
                  + "  (run `ftadvisor data validate` for lines)")
    else:
        out.print("no format errors")
    if s.warnings:
        out.print("warnings: " + ", ".join(f"{k} {v:,}" for k, v in s.warnings.items()))
    table = Table("distribution", "min", "max", "mean", "median", "p10", "p90")
    for name, d in (("messages per example", s.messages_per_example),
                    ("tokens per example", s.tokens_per_example),
                    ("assistant tokens per example", s.assistant_tokens_per_example)):
        if d is not None:
            table.add_row(name, *(f"{v:,.1f}".removesuffix(".0") for v in
                                  (d.min, d.max, d.mean, d.median, d.p10, d.p90)))
    out.print(table)
    out.print(f"examples over the limit: {s.n_over_limit:,}")
    out.print(f"billing tokens per epoch: {s.billing_tokens_per_epoch:,}; epochs: {s.n_epochs} "
              f"(OpenAI's default for {s.n_examples:,} examples: {s.default_epochs}); "
              f"billed tokens: {s.billed_tokens:,}")
    if s.estimated_training_cost_usd is not None:
        out.print(f"estimated training cost: [bold]${s.estimated_training_cost_usd:,.2f}[/] "
                  f"(at ${s.training_price_per_1m:g} per 1M training tokens)")
    for note in s.notes:
        out.print(f"note: {note}")
