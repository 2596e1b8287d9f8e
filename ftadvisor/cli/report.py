"""``ftadvisor report``: one page that says what was spent, what was gained, and whether it pays."""

from __future__ import annotations

from pathlib import Path

import click

from ftadvisor.cli.common import out, user_errors


@click.command()
@click.option("--run", "eval_id", help="Evaluation run to report (default: the last one). Example: --run eval-1a2b3c")
@click.option("--last", is_flag=True, help="Report the last evaluation run (the default). Example: --last")
@click.option("--job", "job_id", help="Training job to include (default: the one that made the evaluated "
              "fine-tuned model). Example: --job ftjob-abc123")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder for report.html, report.md, CSV and Parquet files. Example: --out report/")
@click.option("--requests-per-day", type=click.FloatRange(min=0, min_open=True), default=1000, show_default=True,
              help="Volume for the break-even. Example: --requests-per-day 5000")
@user_errors
def report(eval_id: str | None, last: bool, job_id: str | None, out_dir: Path, requests_per_day: float) -> None:
    """Write the report of an evaluation run: cost and break-even, training curve, metrics, examples.

    \b
    Example:
      ftadvisor report --last --out report/
    """
    from ftadvisor.reports.build import write_report

    path = write_report(out_dir, eval_id=None if last else eval_id, job_id=job_id, requests_per_day=requests_per_day)
    out.print(f"report: {path}")
