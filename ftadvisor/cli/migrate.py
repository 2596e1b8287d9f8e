"""``ftadvisor migrate``: move a hosted fine-tune to a road that stays open, and prove the replacement."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ftadvisor.cli.backends import option_option, parse_options, resolve
from ftadvisor.cli.common import byte_progress, err, json_option, open_ledger, out, print_json, user_errors
from ftadvisor.cli.options import as_of_option, today
from ftadvisor.cli.watching import show_event, show_status


@click.command()
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
@click.option("--yes", "-y", is_flag=True, help="Skip the confirmation before spending. Example: --yes")
@click.option(
    "--dry-run",
    is_flag=True,
    help="Fetch and check the files, print the plan and its cost; train nothing. Example: --dry-run",
)
@as_of_option
@json_option
@user_errors
def migrate(
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
