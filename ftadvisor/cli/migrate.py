"""``ftadvisor migrate``: move a hosted fine-tune to a road that stays open, and prove the replacement."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, cast

import click

from ftadvisor.cli.backends import option_option, parse_options, resolve
from ftadvisor.cli.common import byte_progress, err, json_option, open_ledger, out, print_json, user_errors
from ftadvisor.cli.options import as_of_option, azure_customer_option, today
from ftadvisor.cli.watching import show_event, show_status


class _RunByDefault(click.Group):
    """``ftadvisor migrate MODEL --to ...`` keeps working: a first argument that names no subcommand is the
    model of ``migrate run``."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


@click.group(cls=_RunByDefault)
def migrate() -> None:
    """Leave a hosted fine-tune before it shuts down (OpenAI's: 2027-01-14): `inventory` what you have,
    then `run` (or just `migrate MODEL --to ...`) to retrain it elsewhere and compare the two.

    \b
    Examples:
      ftadvisor migrate inventory --azure-customer existing
      ftadvisor migrate ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf --to local --dry-run
    """


@migrate.command("inventory")
@click.option(
    "--from",
    "source",
    default="openai",
    show_default=True,
    metavar="BACKEND",
    help="The hosted provider whose fine-tunes to list (openai or azure). Example: --from azure",
)
@azure_customer_option
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (one row per fine-tuned model). Example: --csv")
@as_of_option
@json_option
@user_errors
def inventory(source: str, azure_customer: str, as_csv: bool, as_of: Any, as_json: bool) -> None:
    """Every fine-tuned model of the organisation, riskiest first: base, created, hyperparameters, suffix,
    metadata, days left, whether its files still download whole (bytes, lines), the road it could move to
    and what retraining there roughly costs. Read-only: it creates nothing and spends nothing.

    \b
    Example:
      ftadvisor migrate inventory --csv > fine-tunes.csv
    """
    from ftadvisor.errors import InputError
    from ftadvisor.pricing import load_catalogue
    from ftadvisor.workflows.migrate import HostedSource
    from ftadvisor.workflows.migrate import inventory as take_inventory

    b = resolve(source)
    if not isinstance(b, HostedSource):
        raise InputError(f"the {b.name} backend cannot list its fine-tunes and their files; use --from openai or azure")
    rows = take_inventory(b, load_catalogue(), today=today(as_of), customer=azure_customer)  # type: ignore[arg-type]
    if (ledger := open_ledger()) is not None:  # for `migrate status`; the provider is only read
        for r in rows:
            ledger.record("inventory_row", r, ref=r.fine_tuned_model)
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    if as_csv:
        _print_csv(rows)
        return
    if not rows:
        out.print(f"{b.name} lists no fine-tuned model for this key")
        return
    from rich.table import Column, Table

    t = Table(
        Column("fine-tuned model", overflow="fold"),
        "created",
        "days left",
        "training file",
        "moves to",
        "retrain",
        "risk",
    )
    for r in rows:
        f = r.training
        files = "-" if f is None else f"{f.lines:,} lines, {f.bytes:,} B" if f.downloadable else "NOT whole"
        model = "" if r.target_model == r.base else f" {r.target_model}"
        t.add_row(
            r.fine_tuned_model,
            str(r.created or "-"),
            "-" if r.days_left is None else str(r.days_left),
            files,
            f"{r.target}{model}: {r.target_note}",
            _money(r.retrain_usd),
            r.risk,
        )
    out.print(t)
    out.print("[dim]read-only: nothing was created. Next: `ftadvisor migrate run MODEL --to TARGET --dry-run`[/]")


@migrate.command("record")
@click.argument("ft_model")
@click.option(
    "--prompts",
    "prompts_file",
    required=True,
    type=click.Path(path_type=Path),
    help="Your real prompts: chat JSONL (a final assistant turn, as in a training file, is dropped). "
    "Example: --prompts prompts.jsonl",
)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(path_type=Path),
    help="Where the answers go: chat JSONL, prompt + the hosted answer, with OUT.manifest.json beside it. "
    "Example: --out recorded.jsonl",
)
@click.option(
    "--from",
    "source",
    metavar="BACKEND",
    help="The hosted fine-tune's backend (default: from the model name). Example: --from openai",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(1, 100_000),
    default=1024,
    show_default=True,
    help="Longest answer asked for (the price shown is at most this per prompt). Example: --max-tokens 512",
)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 32),
    default=4,
    show_default=True,
    help="Requests in flight at once (the SDK waits out 429s as the provider's Retry-After says). "
    "Example: --concurrency 8",
)
@click.option("--yes", "-y", is_flag=True, help="Skip the confirmation before spending. Example: --yes")
@json_option
@user_errors
def record(
    ft_model: str,
    prompts_file: Path,
    out_file: Path,
    source: str | None,
    max_tokens: int,
    concurrency: int,
    yes: bool,
    as_json: bool,
) -> None:
    """Keep the hosted fine-tune's own answers to your prompts before it is gone: the gold set its replacement
    is judged against, and training data for it. Priced first; each answer is journaled in the ledger as it
    arrives, so a rerun (after Ctrl-C or a crash) asks only the prompts still missing.

    \b
    Example:
      ftadvisor migrate record ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf --prompts prompts.jsonl --out kept.jsonl
    """
    from ftadvisor.errors import FtAdvisorError
    from ftadvisor.ledger import Ledger
    from ftadvisor.pricing import load_catalogue
    from ftadvisor.workflows.migrate import plan_record, run_record

    ledger = Ledger()  # the journal is what makes a rerun pay for no prompt twice: no recording without it
    cat = load_catalogue()
    plan = plan_record(ft_model, prompts_file, cat, ledger, max_tokens=max_tokens)
    todo = len(plan.prompts) - plan.already
    cost = "unknown" if plan.usd_at_most is None else f"at most ${plan.usd_at_most:,.2f}"
    err.print(
        f"record {ft_model}: {len(plan.prompts):,} prompts, {plan.already:,} kept by an earlier run, {todo:,} to ask; "
        f"{cost} ({plan.price_note})"
    )
    if todo and not yes:
        if not sys.stdin.isatty():
            raise FtAdvisorError("recording costs money: pass --yes to confirm without a terminal", exit_code=2)
        click.confirm(f"Ask {todo:,} prompts for {cost}?", abort=True, err=True)
    b = resolve(source, ft_model, fallback="openai")

    def progress(done: int, total: int) -> None:
        if not as_json and (done == total or done % 10 == 0):
            err.print(f"  {done:,}/{total:,} answers kept")

    try:
        result = run_record(plan, b, ledger, out_file, concurrency=concurrency, cat=cat, on_answer=progress)
    except KeyboardInterrupt:
        raise FtAdvisorError(
            f"interrupted: every answer received so far is kept in {out_file} and the ledger; run the same "
            "command again to ask only the prompts still missing",
            exit_code=130,
        ) from None
    if as_json:
        print_json(result)
        return
    out.print(
        f"kept {result.total:,} answers of {len(plan.prompts):,} prompts in {result.out} ({result.answered:,} asked "
        f"now; {result.prompt_tokens:,} prompt + {result.completion_tokens:,} completion tokens"
        + (f", ${result.usd:,.4f}" if result.usd is not None else "")
        + f"); manifest {result.manifest}"
    )


@migrate.command("status")
@json_option
@user_errors
def status(as_json: bool) -> None:
    """How far each hosted model's move got, from the ledger: inventoried, answers recorded, replacement
    trained, judged; and the next step.

    \b
    Example:
      ftadvisor migrate status
    """
    from ftadvisor.ledger import Ledger
    from ftadvisor.workflows.migrate import move_status

    rows = move_status(Ledger())
    if as_json:
        print_json([r.model_dump(mode="json") for r in rows])
        return
    if not rows:
        out.print("nothing moved yet: start with `ftadvisor migrate inventory`")
        return
    from rich.table import Column, Table

    t = Table(Column("hosted model", overflow="fold"), "days left", "recorded", "trained", "judged", "next step")
    for r in rows:
        t.add_row(
            r.hosted_model,
            "-" if r.days_left is None else str(r.days_left),
            f"{r.recorded:,}" if r.recorded else "-",
            f"{r.trained} ({r.training_status})" if r.trained or r.training_status else "-",
            "yes" if r.judged else "-",
            r.next_step,
        )
    out.print(t)


def _print_csv(rows: list[Any]) -> None:
    import csv
    import json

    cols = [
        *("fine_tuned_model", "job_id", "base", "created", "method", "suffix", "days_left", "shutdown"),
        *("training_file", "training_bytes", "training_lines", "training_whole", "validation_file"),
        *("target", "target_model", "retrain_usd", "hyperparameters", "metadata", "risk"),
    ]
    w = csv.writer(sys.stdout)
    w.writerow(cols)
    for r in rows:
        f = r.training
        w.writerow(
            [
                *(r.fine_tuned_model, r.job_id, r.base, r.created or "", r.method, r.suffix or ""),
                *("" if r.days_left is None else r.days_left, r.shutdown or ""),
                *(f.file_id if f else "", f.bytes if f and f.bytes is not None else ""),
                *(f.lines if f and f.lines is not None else "", bool(f and f.downloadable)),
                r.validation.file_id if r.validation else "",
                *(r.target, r.target_model, "" if r.retrain_usd is None else f"{r.retrain_usd:.2f}"),
                *(json.dumps(r.hyperparameters, sort_keys=True), json.dumps(r.metadata, sort_keys=True), r.risk),
            ]
        )


@migrate.command("run")
@click.argument("ft_model")
@click.option(
    "--to",
    "target",
    required=True,
    metavar="BACKEND",
    help="Where the replacement trains: local, together, azure (or a plugin). Example: --to local",
)
@click.option(
    "--from",
    "source",
    metavar="BACKEND",
    help="The hosted fine-tune's backend (default: inferred from the model name). Example: --from openai",
)
@click.option(
    "--base",
    help="The replacement's base model (default: Llama 3.1 8B Instruct on local and together, "
    "the same model on azure). Example: --base meta-llama/Llama-3.1-8B-Instruct",
)
@option_option
@click.option(
    "--test",
    "test_file",
    type=click.Path(path_type=Path),
    help="Held-out examples both models answer (default: the hosted job's validation file). Example: --test test.jsonl",
)
@click.option(
    "--requests-per-day",
    type=click.FloatRange(min=0, min_open=True),
    default=1000,
    show_default=True,
    help="Volume for the monthly costs. Example: --requests-per-day 5000",
)
@click.option("--require-json", is_flag=True, help="Answers must be JSON (format compliance). Example: --require-json")
@click.option(
    "--require", "regex", multiple=True, help="Regex every answer must match; repeatable. Example: --require '^1\\. '"
)
@click.option(
    "--contains",
    multiple=True,
    help="Text every answer must contain; repeatable. Example: --contains 'This is not legal advice.'",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    help="Report folder (default: the migration's folder under the data folder). Example: --out migration-report/",
)
@click.option(
    "--poll",
    type=click.FloatRange(min=1),
    default=30,
    show_default=True,
    help="Seconds between status polls. Example: --poll 60",
)
@click.option(
    "--recorded",
    "recorded_file",
    type=click.Path(path_type=Path),
    help="The hosted model's answers kept by `migrate record`: 20%% (at least 20) are held out as the gold set "
    "both models are judged on, never trained on. Example: --recorded kept.jsonl",
)
@click.option(
    "--train-on",
    type=click.Choice(["original", "recorded", "both"]),
    help="What the replacement learns from: the job's own files, the recorded answers (distillation), or both, "
    "deduplicated (default: both with --recorded, else original). Example: --train-on recorded",
)
@click.option("--yes", "-y", is_flag=True, help="Skip the confirmation before spending. Example: --yes")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Fetch and check the files, print the plan and its cost; train nothing. Example: --dry-run",
)
@as_of_option
@json_option
@user_errors
def run(
    ft_model: str,
    target: str,
    source: str | None,
    base: str | None,
    options: tuple[str, ...],
    test_file: Path | None,
    requests_per_day: float,
    require_json: bool,
    regex: tuple[str, ...],
    contains: tuple[str, ...],
    out_dir: Path | None,
    poll: float,
    recorded_file: Path | None,
    train_on: str | None,
    yes: bool,
    dry_run: bool,
    as_of: Any,
    as_json: bool,
) -> None:
    """Carry a hosted fine-tune over before it shuts down (OpenAI's: 2027-01-14): find the job that made it,
    fetch and re-check its files, train a replacement with the same settings, then compare both on the same
    held-out examples (each metric with a 95% interval) with their monthly costs and the days left.

    \b
    Examples:
      ftadvisor migrate ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf --to local --dry-run
      ftadvisor migrate ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf --to together --test test.jsonl --yes
    """
    from ftadvisor.evaluation.metrics import FormatRules
    from ftadvisor.migrate import find_source, plan_migration, run_migration, workdir_for
    from ftadvisor.workflows.migrate import TrainOn, cut_over, split_recorded

    on = today(as_of)
    hosted = resolve(source, ft_model, fallback="openai")
    new = resolve(target)
    recorded = None
    if (db := open_ledger()) is not None:
        row = db.job_by_model(ft_model)
        recorded = row["id"] if row and row["backend"] == hosted.name else None
        db.close()
    work = workdir_for(ft_model)
    src = find_source(ft_model, hosted, work, recorded_job_id=recorded, today=on)
    if recorded_file is not None:
        split = split_recorded(
            recorded_file,
            Path(src.training_path),
            work,
            train_on=cast("TrainOn", train_on or "both"),
            seed=src.job.seed or 0,
        )
        src = src.model_copy(update={"training_path": split.train_file})
        test_file = test_file or Path(split.test_file)
        err.print(
            f"recorded answers: {len(split.held_out_lines)} held out as the gold set ({split.test_file}), "
            f"training on {split.train_on}: {split.n_train} examples"
            + (f" ({split.dropped_for_leakage} dropped: their prompt is held out)" if split.dropped_for_leakage else "")
        )
    elif train_on not in (None, "original"):
        raise click.UsageError(f"--train-on {train_on} needs --recorded FILE (the answers `migrate record` kept)")
    plan = plan_migration(src, new, base=base, test=test_file, options=parse_options(options), today=on)
    if not as_json or dry_run:
        _show_plan(plan, as_json and dry_run)
    if dry_run:
        return
    t = plan.training
    cost = "an unknown amount" if t.estimated_cost_usd is None else f"about ${t.estimated_cost_usd:,.2f}"
    if not yes and not t.free and not sys.stdin.isatty():
        raise click.UsageError(f"about to spend {cost}: pass --yes to confirm")
    if not yes and not t.free:
        click.confirm(f"Train the replacement for {cost}?", abort=True, err=True)
    from ftadvisor.ledger import Ledger

    ledger = Ledger()
    ledger.record("migration_plan", plan)
    with byte_progress("evaluating", enabled=not as_json) as progress:
        result = run_migration(
            plan,
            hosted,
            new,
            ledger=ledger,
            requests_per_day=requests_per_day,
            rules=FormatRules(require_json=require_json, regex=list(regex), contains=list(contains)),
            report_dir=out_dir or work / "report",
            on_event=None if as_json else show_event,
            on_status=None if as_json else show_status,
            progress=progress,
            poll_interval=poll,
        )
    summary = {
        "hosted_model": ft_model,
        "new_model": result.new_model,
        "job": {"id": result.job.id, "status": result.job.status},
        "parity": {k: v.model_dump(mode="json") for k, v in result.parity.items()},
        "cost_per_month_usd": {"hosted": result.cost_per_month_usd.hosted, "new": result.cost_per_month_usd.new}
        if result.cost_per_month_usd
        else None,
        "hosted_days_left": src.days_left,
        "report": result.report,
        "cut_over": cut_over(result.plan.target, result.new_model, result.job.id) if result.new_model else None,
    }
    if as_json:
        print_json(summary)
    else:
        _show_result(result, src.days_left)
    sys.exit(0 if result.job.status == "succeeded" else 1)


def _show_plan(plan: Any, as_json: bool) -> None:
    if as_json:
        print_json(plan)
        return
    s, t = plan.source, plan.training
    out.print(f"[bold]migrate[/] {s.hosted_model} ({s.backend} job {s.job.id}) -> {plan.target} {t.model}")
    left = f"{s.days_left:.0f} days left (shuts down {s.shutdown})" if s.days_left is not None else "no shutdown known"
    out.print(f"  hosted: {left}")
    out.print(
        f"  data: {t.training_file} ({t.n_examples:,} examples, fetched and valid)"
        + (f", validation {s.validation_path}" if s.validation_path else "")
    )
    hp = ", ".join(f"{k}={v}" for k, v in t.hyperparameters.items()) or "auto"
    out.print(
        f"  training: {t.method}, {hp}, seed {t.seed if t.seed is not None else '-'}; "
        + (
            f"about ${t.estimated_cost_usd:,.2f} ({t.cost_basis})"
            if t.estimated_cost_usd is not None
            else "cost unknown"
        )
    )
    out.print(f"  evaluation: both models answer the {plan.n_test} examples of {plan.test_file}")
    for w in t.warnings:
        out.print(f"  [yellow]warning:[/] {w}")


def _money(v: float | None) -> str:
    return "unknown" if v is None else f"${v:,.2f}"


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def _show_result(result: Any, days_left: float | None) -> None:
    from rich.table import Table

    from ftadvisor.workflows.migrate import cut_over

    if result.new_model is None:
        err.print(f"[red]the replacement's training ended {result.job.status}[/]: {result.job.error}")
        return
    t = Table(
        "metric",
        "hosted",
        "new",
        "new - hosted (95% CI)",
        title=f"{result.plan.source.hosted_model} vs {result.new_model}",
    )
    for name, p in result.parity.items():
        ci = f"[{p.ci.low:+.3f}, {p.ci.high:+.3f}]" if p.ci else "-"
        t.add_row(name, _pct(p.hosted), _pct(p.new), ci)
    out.print(t)
    c = result.cost_per_month_usd
    if c is not None:
        out.print(
            f"cost per month at {c.requests_per_day:,.0f} requests/day: hosted {_money(c.hosted)}, new {_money(c.new)}"
        )
        for b in c.basis:
            out.print(f"  [dim]{b}[/]")
    if days_left is not None:
        out.print(f"the hosted model has {days_left:.0f} days left")
    if result.report:
        out.print(f"report: {result.report}")

    out.print(
        f"cut over, once the numbers above satisfy you (in your client, in place of {result.plan.source.hosted_model}):"
    )
    for line in cut_over(result.plan.target, result.new_model, result.job.id):
        out.print(f"  {line}")
