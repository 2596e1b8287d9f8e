"""``ftadvisor report``: one evaluation run (and the job that trained its fine-tuned model) as a page that
leads with the decision, plus its tables as CSV and Parquet for pandas."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from ftadvisor.advisor.breakeven import BreakEvenInput
from ftadvisor.ledger import Ledger
from ftadvisor.reports.dataquality import DataQuality, data_quality
from ftadvisor.reports.gather import ReportData, gather
from ftadvisor.reports.headline import Headline, headline


def tables(d: ReportData, h: Headline) -> dict[str, Any]:
    """The report's tables as DataFrames (every row: nothing is cut)."""
    import pandas as pd

    run = d.run
    metrics = pd.DataFrame([m.model_dump(exclude={"per_class"}) for m in run.models])
    models = [m.model for m in run.models]
    outputs = {(e.model, e.line): e for e in run.examples}
    lines = sorted({e.line for e in run.examples})
    examples = pd.DataFrame(
        [
            {
                "line": line,
                "reference": next(outputs[(m, line)].reference for m in models if (m, line) in outputs),
                **{m: outputs[(m, line)].output if (m, line) in outputs else None for m in models},
            }
            for line in lines
        ]
    )
    if len(models) >= 2 and not examples.empty:
        examples["same"] = examples[models[0]] == examples[models[-1]]
    out: dict[str, Any] = {
        "metrics": metrics,
        "examples": examples,
        "training": pd.DataFrame(d.losses),
        "intervals": pd.DataFrame(
            [
                {
                    **c.model_dump(exclude={"ci"}),
                    "difference": c.difference,
                    "ci_low": c.ci.low if c.ci else None,
                    "ci_high": c.ci.high if c.ci else None,
                }
                for c in h.quality
            ]
        ),
        "per_class": pd.DataFrame(
            [{"model": m.model, "class": c, **r.model_dump()} for m in run.models for c, r in m.per_class.items()]
        ),
        "costs": pd.DataFrame(
            [
                {
                    k: d.job[k]
                    for k in (
                        "id",
                        "backend",
                        "model",
                        "fine_tuned_model",
                        "status",
                        "trained_tokens",
                        "estimated_cost_usd",
                        "actual_cost_usd",
                    )
                }
            ]
            if d.job
            else []
        ),
    }
    if d.judge is not None:
        out["judge"] = pd.DataFrame(
            [{"model": m, "judge": d.judge["judge"], "mean_rubric_score": v} for m, v in d.judge["mean_score"].items()]
        )
    if d.regression is not None:
        out["regression"] = pd.DataFrame(d.regression)
    return out


def _quality(d: ReportData) -> list[DataQuality]:
    model = d.job["model"] if d.job else None
    items = []
    if d.training_file is not None:
        items.append(data_quality(d.training_file, "training data", model=model, label_field=d.run.label_field))
    test = Path(d.run.data)
    if test.is_file():
        items.append(data_quality(test, "evaluation data", model=model, label_field=d.run.label_field))
    return items


def write_report(
    out: str | Path,
    db: Ledger | None = None,
    *,
    eval_id: str | None = None,
    job_id: str | None = None,
    requests_per_day: float = 1000.0,
    breakeven: BreakEvenInput | None = None,
    sides: tuple[str, str] | None = None,
    decision: Any = None,
    budget: float | None = None,
    required: float = 0.95,
    today: dt.date | None = None,
) -> Path:
    """Write report.html, report.md and CSV + Parquet per table into ``out``; returns the HTML path.

    ``decision`` (an ``economics.Decision``) and ``breakeven`` (a ``BreakEvenInput`` priced elsewhere, e.g.
    prompting a large hosted model vs a hosted fine-tune, whose two sides ``sides`` names) replace the
    recorded or measured ones."""
    from ftadvisor.data.jsonl import atomic_writer
    from ftadvisor.reports.page import render_html, render_markdown

    d = gather(db or Ledger(), eval_id, job_id)
    quality = _quality(d)
    training = next((q for q in quality if q.role == "training data"), None)
    h = headline(
        d,
        requests_per_day=requests_per_day,
        today=today or dt.date.today(),
        required=required,
        budget=budget,
        decision=decision,
        breakeven=breakeven,
        sides=sides,
        n_training=training.n_examples if training else None,
    )
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    for name, frame in tables(d, h).items():
        with atomic_writer(folder / f"{name}.csv", "w") as f:
            frame.to_csv(f, index=False)
        with atomic_writer(folder / f"{name}.parquet", "wb") as f:
            frame.to_parquet(f, index=False)
    with atomic_writer(folder / "report.md", "w") as f:
        f.write(render_markdown(d, h, quality))
    page = folder / "report.html"
    with atomic_writer(page, "w") as f:
        f.write(render_html(d, h, quality))
    return page
