"""``ftadvisor ledger``: what was estimated, uploaded, trained and spent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ftadvisor.cli.common import json_option, out, print_json, user_errors


@click.group()
def ledger() -> None:
    """The record of every estimate, upload and job ($FTADVISOR_LEDGER or <config>/ledger.db)."""


@ledger.command("list")
@click.option(
    "--limit", type=click.IntRange(1, 1000), default=20, show_default=True, help="How many of each. Example: --limit 50"
)
@click.option(
    "--kind",
    help="Only records of this kind (e.g. training_plan, advice, migration, price_estimate). Example: --kind migration",
)
@click.option("--model", "-m", help="Only what involves a model whose name contains this. Example: --model gpt-4o-mini")
@click.option(
    "--since",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only what happened from this day on. Example: --since 2026-11-01",
)
@json_option
@user_errors
def list_(limit: int, kind: str | None, model: str | None, since: Any, as_json: bool) -> None:
    """Jobs with their estimated and actual cost, evaluation runs, then the latest records.

    \b
    Examples:
      ftadvisor ledger list --json
      ftadvisor ledger list --model gpt-4o-mini --since 2026-11-01 --kind training_plan
    """
    from ftadvisor.ledger import Ledger

    db = Ledger()
    day = since.date().isoformat() if since else None
    records = db.records(kind=kind, limit=limit, model=model, since=day)
    jobs = [] if kind else db.jobs(limit, model=model, since=day)
    runs = [] if kind else db.eval_runs(limit, model=model, since=day)
    if as_json:
        print_json(
            {
                "ledger": str(db.path),
                "jobs": jobs,
                "eval_runs": runs,
                "records": [{**r, "data": json.loads(r["data"])} for r in records],
            }
        )
        return
    out.print(f"ledger: {db.path}")
    for j in jobs:
        est = "-" if j["estimated_cost_usd"] is None else f"${j['estimated_cost_usd']:.2f}"
        act = "-" if j["actual_cost_usd"] is None else f"${j['actual_cost_usd']:.2f}"
        out.print(
            f"{j['id']}  {j['backend']:<7} {j['status']:<16} {j['model']}  estimated {est}, actual {act}"
            + (f"  -> {j['fine_tuned_model']}" if j["fine_tuned_model"] else "")
        )
    for run in runs:
        scores = ", ".join(
            f"{m['model']} ROUGE-L {m['rouge_l']:.3f}" for m in run["models"] if m["rouge_l"] is not None
        )
        out.print(f"{run['id']}  evaluation of {run['data']}: {scores}")
    for r in records:
        out.print(f"#{r['id']} {r['created_at']} {r['kind']}" + (f" ({r['ref']})" if r["ref"] else ""))


@ledger.command("export")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for one CSV and one Parquet file per table. Example: --out ledger-export/",
)
@user_errors
def export(out_dir: Path) -> None:
    """Write every table of the ledger (jobs, statuses, metrics, records, evaluation runs and results) as CSV
    and Parquet, for pandas, a spreadsheet or a BI tool.

    \b
    Example:
      ftadvisor ledger export --out ledger-export/
    """
    import pandas as pd

    from ftadvisor.data.jsonl import atomic_writer
    from ftadvisor.ledger import EXPORTED_TABLES, Ledger

    db = Ledger()
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in EXPORTED_TABLES:
        frame = pd.DataFrame(db.table(name))
        with atomic_writer(out_dir / f"{name}.csv", "w") as f:
            frame.to_csv(f, index=False)
        with atomic_writer(out_dir / f"{name}.parquet", "wb") as f:
            frame.to_parquet(f, index=False)
        out.print(f"{name}: {len(frame):,} rows -> {out_dir / name}.csv, .parquet")


@ledger.command("path")
def path() -> None:
    """Print where the ledger is.

    \b
    Example:
      ftadvisor ledger path
    """
    from ftadvisor.ledger import ledger_path

    click.echo(str(ledger_path()))


@ledger.command("show")
@click.argument("ref")
@json_option
@user_errors
def show(ref: str, as_json: bool) -> None:
    """One job or evaluation run (by id) with its history, metrics or results, or one record (by number).

    \b
    Examples:
      ftadvisor ledger show ftjob-abc123
      ftadvisor ledger show 12 --json
    """
    from ftadvisor.errors import InputError
    from ftadvisor.ledger import Ledger

    db = Ledger()
    item: dict[str, Any] | None
    if (job := db.job(ref)) is not None:  # JSON columns decoded; an evaluation run comes decoded already
        item = {
            k: (json.loads(v) if k in ("data", "hyperparameters") and isinstance(v, str) else v) for k, v in job.items()
        }
    else:
        item = db.eval_run(ref)
    if item is None and ref.lstrip("#").isdigit():
        record = db.record_by_id(int(ref.lstrip("#")))
        item = {**record, "data": json.loads(record["data"])} if record else None
    if item is None:
        raise InputError(f"nothing in the ledger is called {ref!r} (see `ftadvisor ledger list`)")
    if as_json:
        print_json(item)
        return
    for key, value in item.items():
        out.print(f"{key}: {json.dumps(value, default=str) if isinstance(value, (dict, list)) else value}")
