"""``ftadvisor report``: one page that leads with the decision, then what was spent and what was gained."""

from __future__ import annotations

from pathlib import Path

import click

from ftadvisor.cli.common import out, user_errors
from ftadvisor.cli.options import as_of_option, today


@click.command()
@click.option("--run", "eval_id", help="Evaluation run to report (default: the last one). Example: --run eval-1a2b3c")
@click.option("--last", is_flag=True, help="Report the last evaluation run (the default). Example: --last")
@click.option(
    "--job",
    "job_id",
    help="Training job to include (default: the one that made the evaluated "
    "fine-tuned model). Example: --job ftjob-abc123",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for report.html, report.md, CSV and Parquet files. Example: --out report/",
)
@click.option(
    "--requests-per-day",
    type=click.FloatRange(min=0, min_open=True),
    default=1000,
    show_default=True,
    help="Volume for the break-even. Example: --requests-per-day 5000",
)
@click.option(
    "--budget",
    type=click.FloatRange(min=0),
    help="Setup budget in USD (training + data): the decision refuses options above it. Example: --budget 500",
)
@click.option(
    "--required",
    type=click.FloatRange(0, 1),
    default=0.95,
    show_default=True,
    help="Compliance (or accuracy) the task requires; the base model's measured score is compared with "
    "it. Example: --required 0.9",
)
@click.option("--open", "open_page", is_flag=True, help="Open the report in the default browser. Example: --open")
@as_of_option
@user_errors
def report(
    eval_id: str | None,
    last: bool,
    job_id: str | None,
    out_dir: Path,
    requests_per_day: float,
    budget: float | None,
    required: float,
    open_page: bool,
    as_of,
) -> None:
    """Write the report of an evaluation run: the decision first, then data quality, training, base vs
    fine-tuned with confidence intervals, the judge and regression runs, and the answers side by side.

    \b
    Example:
      ftadvisor report --last --out report/ --requests-per-day 5000
    """
    from ftadvisor.reports.build import write_report

    path = write_report(
        out_dir,
        eval_id=None if last else eval_id,
        job_id=job_id,
        requests_per_day=requests_per_day,
        budget=budget,
        required=required,
        today=today(as_of),
    )
    out.print(f"report: {path}")
    if open_page:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())
