"""``ftadvisor data``: validate, count, deduplicate, check, split and convert datasets."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ftadvisor.cli.common import byte_progress, err, json_option, out, print_json, shorten, user_errors
from ftadvisor.data.formats import METHODS
from ftadvisor.tokens import ENCODINGS

method_option = click.option(
    "--method",
    type=click.Choice(METHODS),
    help="Training method the file is for (default: detected from its first line). Example: --method dpo",
)
file_argument = click.argument("file", type=click.Path(path_type=Path))


@click.group()
def data() -> None:
    """Check and prepare fine-tuning datasets (JSONL)."""


@data.command()
@file_argument
@method_option
@click.option(
    "--model",
    "-m",
    help="Also check each example against this model's token limit. Example: --model gpt-4.1-mini-2025-04-14",
)
@click.option(
    "--strict", is_flag=True, help="Fail on warnings too (over-long examples, identical DPO pairs). Example: --strict"
)
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
            click.echo(
                "note: "
                + ", ".join(f"{v:,} example(s) without a {k.split('_')[1]} message" for k, v in missing.items())
            )
        how = f", detected from line {report.detected_from_line}" if report.detected_from_line else ""
        verdict = "valid" if ok else "INVALID"
        click.echo(
            f"{file}: {verdict}: {report.n_examples:,} examples ({report.method}{how}), "
            f"{report.n_errors:,} errors, {report.n_warnings:,} warnings"
        )
    sys.exit(0 if ok else 1)


@data.command()
@file_argument
@method_option
@click.option(
    "--model",
    "-m",
    default=None,
    help="Model to price and count for (default gpt-4o-mini-2024-07-18). Example: --model gpt-4.1-2025-04-14",
)
@click.option(
    "--encoding", type=click.Choice(ENCODINGS), help="Override the model's encoding. Example: --encoding cl100k_base"
)
@click.option(
    "--max-example-tokens",
    type=click.IntRange(min=1),
    help="Per-example limit (default: the model's). Example: --max-example-tokens 16385",
)
@click.option(
    "--epochs",
    type=click.IntRange(1, 50),
    help="Epochs to price (default: OpenAI's auto heuristic). Example: --epochs 3",
)
@json_option
@user_errors
def stats(
    file: Path,
    method: str | None,
    model: str | None,
    encoding: str | None,
    max_example_tokens: int | None,
    epochs: int | None,
    as_json: bool,
) -> None:
    """Token and message distributions, billing tokens and training cost of FILE.

    \b
    Examples:
      ftadvisor data stats train.jsonl
      ftadvisor data stats train.jsonl --model gpt-3.5-turbo --encoding cl100k_base --json
    """
    from ftadvisor.data.stats import DEFAULT_MODEL, dataset_stats

    with byte_progress("counting") as progress:
        s = dataset_stats(
            file,
            model=model or DEFAULT_MODEL,
            encoding=encoding,
            max_example_tokens=max_example_tokens,
            method=method,  # type: ignore[arg-type]
            epochs=epochs,
            progress=progress,
        )
    if as_json:
        print_json(s)
        return
    from rich.table import Table

    out.print(
        f"[bold]{file}[/]: {s.n_examples:,} examples ({s.method}), model {s.model}, "
        f"encoding {s.encoding}, limit {s.max_example_tokens or 'none'}"
    )
    if s.format_errors:
        out.print(
            "[red]format errors:[/] "
            + ", ".join(f"{k} {v:,}" for k, v in s.format_errors.items())
            + "  (run `ftadvisor data validate` for lines)"
        )
    else:
        out.print("no format errors")
    if s.warnings:
        out.print("warnings: " + ", ".join(f"{k} {v:,}" for k, v in s.warnings.items()))
    table = Table("distribution", "min", "max", "mean", "median", "p10", "p90")
    for name, d in (
        ("messages per example", s.messages_per_example),
        ("tokens per example", s.tokens_per_example),
        ("assistant tokens per example", s.assistant_tokens_per_example),
    ):
        if d is not None:
            table.add_row(
                name, *(f"{v:,.1f}".removesuffix(".0") for v in (d.min, d.max, d.mean, d.median, d.p10, d.p90))
            )
    out.print(table)
    out.print(f"examples over the limit: {s.n_over_limit:,}")
    out.print(
        f"billing tokens per epoch: {s.billing_tokens_per_epoch:,}; epochs: {s.n_epochs} "
        f"(OpenAI's default for {s.n_examples:,} examples: {s.default_epochs}); "
        f"billed tokens: {s.billed_tokens:,}"
    )
    if s.estimated_training_cost_usd is not None:
        out.print(
            f"estimated training cost: [bold]${s.estimated_training_cost_usd:,.2f}[/] "
            f"(at ${s.training_price_per_1m:g} per 1M training tokens)"
        )
    for note in s.notes:
        out.print(f"note: {note}")


@data.command()
@file_argument
@click.option(
    "--threshold",
    type=click.FloatRange(0.05, 1.0),
    default=0.8,
    show_default=True,
    help="Jaccard similarity (character 5-grams) from which two examples are near-duplicates. Example: --threshold 0.9",
)
@click.option(
    "--write",
    "write_to",
    type=click.Path(path_type=Path),
    help="Write a copy keeping the first example of each group. Example: --write train.dedup.jsonl",
)
@method_option
@json_option
@user_errors
def dedup(file: Path, threshold: float, write_to: Path | None, method: str | None, as_json: bool) -> None:
    """Find exact and near-duplicate examples, reported as groups of line numbers.

    \b
    Examples:
      ftadvisor data dedup train.jsonl
      ftadvisor data dedup train.jsonl --threshold 0.9 --write train.dedup.jsonl
    """
    from ftadvisor.data.dedup import find_duplicates, write_deduplicated

    report = find_duplicates(file, threshold=threshold, method=method)  # type: ignore[arg-type]
    kept = write_deduplicated(file, write_to, report) if write_to else None
    if as_json:
        from dataclasses import asdict

        print_json(
            {
                **asdict(report),
                "n_removable": report.n_removable,
                "written": str(write_to) if write_to else None,
                "kept": kept,
            }
        )
        return
    for g in report.groups:
        extra = "" if g.kind == "exact" else f" (Jaccard >= {g.similarity:.2f})"
        click.echo(f"{file}: {g.kind} duplicates: lines {', '.join(map(str, g.lines))}{extra}")
    click.echo(
        f"{file}: {report.n_examples:,} examples, {len(report.groups):,} duplicate groups, "
        f"{report.n_removable:,} removable"
    )
    if write_to:
        click.echo(f"wrote {kept:,} lines to {write_to}")


@data.command()
@file_argument
@method_option
@click.option(
    "--label-field",
    help="JSON field of the answer holding the class (default: the whole answer). Example: --label-field category",
)
@click.option(
    "--require",
    multiple=True,
    help="Regular expression every answer must match; repeatable. Example: --require 'legal advice\\.$'",
)
@click.option(
    "--json-schema",
    type=click.Path(path_type=Path),
    help="JSON schema every answer (parsed as JSON) must satisfy. Example: --json-schema answer.json",
)
@json_option
@user_errors
def check(
    file: Path,
    method: str | None,
    label_field: str | None,
    require: tuple[str, ...],
    json_schema: Path | None,
    as_json: bool,
) -> None:
    """Quality checks: label balance, contradicting answers, and rules every answer must follow.

    Exit 1 when a rule is broken or identical prompts have different answers.

    \b
    Examples:
      ftadvisor data check train.jsonl --label-field category
      ftadvisor data check train.jsonl --require '^1\\. ' --json-schema schema.json --json
    """
    from ftadvisor.data.quality import check_quality

    r = check_quality(
        file,
        method=method,  # type: ignore[arg-type]
        label_field=label_field,
        require=list(require),
        json_schema=json_schema,
    )
    bad = bool(r.failures or r.inconsistent)
    if as_json:
        print_json(r)
        sys.exit(1 if bad else 0)
    if r.labels:
        lb = r.labels
        click.echo(
            f"labels ({lb.source}): "
            + ", ".join(f"{shorten(k)} {v} ({v / sum(lb.counts.values()):.0%})" for k, v in lb.counts.items())
        )
        if lb.imbalanced:
            click.echo(
                f"warning: imbalanced classes: largest/smallest = {lb.imbalance_ratio:.1f}"
                + (
                    f"; under half their fair share: {', '.join(map(shorten, lb.underrepresented))}"
                    if lb.underrepresented
                    else ""
                )
            )
    else:
        click.echo("labels: answers are free text (not a small set of classes); use --label-field for JSON")
    for group in r.inconsistent:
        click.echo(
            f"{file}: inconsistent: lines {', '.join(map(str, group))} have the same prompt but different answers"
        )
    for f in r.failures:
        click.echo(f"{file}:{f.line}: {f.rule}: {f.explanation}")
    if r.answer_chars:
        d = r.answer_chars
        click.echo(
            f"answer length (characters): min {d.min:.0f}, median {d.median:.0f}, p90 {d.p90:.0f}, max {d.max:.0f}"
        )
    click.echo(
        f"{file}: {r.n_examples:,} examples, {len(r.inconsistent)} inconsistent groups, {len(r.failures)} rule failures"
    )
    sys.exit(1 if bad else 0)


@data.command()
@file_argument
@click.option(
    "--model",
    "-m",
    required=True,
    help="A local model whose chat template renders the examples (a "
    "folder, a .gguf file or smollm2-135m-instruct). Example: --model smollm2-135m-instruct",
)
@click.option(
    "--n", "count", type=click.IntRange(min=1), default=3, show_default=True, help="How many examples. Example: --n 5"
)
@click.option(
    "--max-length",
    type=click.IntRange(min=8),
    default=1024,
    show_default=True,
    help="Tokens per example, as in training (longer ones are cut). Example: --max-length 512",
)
@json_option
@user_errors
def preview(file: Path, model: str, count: int, max_length: int, as_json: bool) -> None:
    """Show what the loss sees: the first examples tokenized through the model's chat template, as the local
    trainer does, with the trained tokens highlighted (the assistant turns; not the prompt, not weight 0).

    \b
    Example:
      ftadvisor data preview train.jsonl --model smollm2-135m-instruct --n 2
    """
    from rich.text import Text

    from local_backend.chatdata import preview as tokens_of

    examples = tokens_of(str(file), model, count, max_length)
    if as_json:
        print_json([{"line": line, "tokens": [vars(t) for t in tokens]} for line, tokens in examples])
        return
    for line, tokens in examples:
        trained = sum(t.trained for t in tokens)
        out.rule(f"{file}:{line}: {len(tokens):,} tokens, {trained:,} trained (highlighted)", align="left")
        text = Text()
        for t in tokens:
            text.append(t.text, style="bold black on green" if t.trained else "dim")
        out.print(text)


@data.command()
@file_argument
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for train.jsonl, validation.jsonl and test.jsonl. Example: --out splits/",
)
@click.option(
    "--ratios",
    default="0.8,0.1,0.1",
    show_default=True,
    help="Train,validation[,test] shares adding up to 1. Example: --ratios 0.9,0.1",
)
@click.option("--stratify", is_flag=True, help="Keep the class mix equal across splits. Example: --stratify")
@click.option(
    "--label-field", help="JSON field of the answer holding the class, for --stratify. Example: --label-field category"
)
@click.option("--seed", type=int, default=0, show_default=True, help="Shuffle seed. Example: --seed 42")
@click.option(
    "--threshold",
    type=click.FloatRange(0.05, 1.0),
    default=0.8,
    show_default=True,
    help="Near-duplicate similarity; groups never straddle splits. Example: --threshold 0.9",
)
@method_option
@json_option
@user_errors
def split(
    file: Path,
    out_dir: Path,
    ratios: str,
    stratify: bool,
    label_field: str | None,
    seed: int,
    threshold: float,
    method: str | None,
    as_json: bool,
) -> None:
    """Split FILE deterministically, never putting near-duplicates in two splits.

    \b
    Examples:
      ftadvisor data split data.jsonl --out splits/
      ftadvisor data split data.jsonl --out splits/ --stratify --label-field category --seed 7
    """
    from ftadvisor.data.split import parse_ratios, split_file

    r = split_file(
        file,
        out_dir,
        ratios=parse_ratios(ratios),
        stratify=stratify,
        label_field=label_field,
        seed=seed,
        threshold=threshold,
        method=method,  # type: ignore[arg-type]
    )
    if r.left_out:
        shown = ", ".join(str(n) for n in r.left_out[:10]) + (" ..." if len(r.left_out) > 10 else "")
        err.print(
            f"[yellow]warning:[/] {file}: {len(r.left_out):,} line(s) are not JSON objects and are in no split "
            f"(lines {shown}); `ftadvisor data validate {file}` explains them"
        )
    if as_json:
        print_json(r)
        return
    for name, path in r.files.items():
        mix = r.label_counts.get(name)
        click.echo(
            f"{name}: {r.counts[name]:,} examples -> {path}"
            + (" (" + ", ".join(f"{k} {v}" for k, v in sorted(mix.items())) + ")" if mix else "")
        )
    click.echo(
        f"{r.n_duplicate_groups} duplicate groups kept within one split; seed {r.seed}"
        + (f"; stratified by {r.stratified_by}" if r.stratified_by else "")
    )


@data.command()
@file_argument
@click.option(
    "--out",
    "out_file",
    type=click.Path(path_type=Path),
    required=True,
    help="Chat JSONL file to write. Example: --out train.jsonl",
)
@click.option(
    "--from",
    "fmt",
    type=click.Choice(["alpaca", "sharegpt", "csv"]),
    help="Input format (default: detected). Example: --from sharegpt",
)
@click.option("--system", help="System prompt to put first in every example. Example: --system 'Be formal.'")
@click.option(
    "--system-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Read the system prompt from a file. Example: --system-file prompt.txt",
)
@click.option("--prompt-column", help="CSV column with the prompt. Example: --prompt-column question")
@click.option("--response-column", help="CSV column with the answer. Example: --response-column answer")
@user_errors
def convert(
    file: Path,
    out_file: Path,
    fmt: str | None,
    system: str | None,
    system_file: Path | None,
    prompt_column: str | None,
    response_column: str | None,
) -> None:
    """Convert alpaca, ShareGPT or CSV data to OpenAI chat JSONL.

    \b
    Examples:
      ftadvisor data convert alpaca.json --out train.jsonl --system 'You are concise.'
      ftadvisor data convert pairs.csv --out train.jsonl --prompt-column question --response-column answer
    """
    from ftadvisor.data.convert import convert_file

    if system and system_file:
        raise click.UsageError("give --system or --system-file, not both")
    if system_file:
        from ftadvisor.userfiles import read_text

        system = read_text(system_file, "system prompt file").strip()
    n = convert_file(
        file,
        out_file,
        fmt=fmt,  # type: ignore[arg-type]
        system=system,
        prompt_column=prompt_column,
        response_column=response_column,
    )
    click.echo(f"wrote {n:,} examples to {out_file}")
