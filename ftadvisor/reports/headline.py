"""The report's first screen: the recommendation, its reasons, and the numbers it rests on.

The recommendation is the one the job was started on when the ledger (or the caller) has it; otherwise the
decision engine (``advisor.decision.advise``) is run on what this evaluation measured: the base model's
compliance as the prompting baseline, the measured cost of each answer, the job's cost, and the break-even
those give before the base model shuts down.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel

from ftadvisor.advisor.breakeven import BreakEven, BreakEvenInput, break_even
from ftadvisor.advisor.decision import EXAMPLES_NEEDED, Answers, FineTuneOption, Recommendation, TaskType, advise
from ftadvisor.evaluation.compare import FEW_EXAMPLES, MetricComparison, compare_models
from ftadvisor.ledger import training_cost
from ftadvisor.reports.gather import ReportData

METRIC_NAMES = {
    "format_compliance": "format compliance",
    "accuracy": "accuracy",
    "macro_f1": "macro F1",
    "field_accuracy": "field accuracy",
    "rouge_l": "ROUGE-L",
    "exact_match": "exact match",
}
PRIMARY = ("format_compliance", "accuracy", "field_accuracy", "exact_match")


class Headline(BaseModel):
    title: str
    as_of: dt.date
    base: str
    tuned: str | None
    choice: str
    model: str | None
    reasons: list[str]
    risks: list[str]
    assumptions: list[str]
    source: str  # where the recommendation comes from
    evidence: str | None  # the measured difference that matters most, in one sentence
    quality: list[MetricComparison]
    setup_usd: float | None
    sides: tuple[str, str]  # what the two per-request costs price: prompting, and the fine-tune
    base_per_request_usd: float | None
    tuned_per_request_usd: float | None
    breakeven_input: BreakEvenInput | None
    breakeven: BreakEven | None
    requests_per_day: float
    budget_usd: float | None


def _pct(x: float) -> str:
    return f"{x:.0%}"


def evidence_sentence(c: MetricComparison, base: str, tuned: str) -> str:
    """``c`` in words, with its interval and a warning when the test set is small."""
    name = METRIC_NAMES[c.metric]
    text = f"on {c.n} held-out examples, {tuned} scores {name} {_pct(c.b or 0)} against {_pct(c.a or 0)} for {base}"
    if c.ci is not None and c.difference is not None:
        text += (
            f" ({c.difference * 100:+.0f} points; {c.ci.level:.0%} interval {c.ci.low * 100:+.0f} to "
            f"{c.ci.high * 100:+.0f})"
        )
        text += "" if c.ci.excludes_zero() else ": the difference is not established"
    if c.n < FEW_EXAMPLES:
        text += f"; {c.n} examples make wide intervals, one example moves a rate by {1 / c.n:.0%}"
    return text


def measured_breakeven(data: ReportData, requests_per_day: float, today: dt.date) -> BreakEvenInput | None:
    """Prompting the base vs the fine-tune at the costs per answer this evaluation measured (caching as billed)
    and the job's cost; None without a job or without a price for both."""
    from ftadvisor.advisor.scenario import deployment_hosting, remaining_life_days
    from ftadvisor.pricing import load_catalogue

    job, models = data.job, data.run.models
    if job is None or len(models) < 2:
        return None
    base_cost, ft_cost = models[0].cost_per_request_usd, models[-1].cost_per_request_usd
    train = training_cost(job)
    if train is None or base_cost is None or ft_cost is None:
        return None
    entry = load_catalogue().find(job["model"], provider=None if job["backend"] == "local" else job["backend"])
    hosting = deployment_hosting(entry) if entry else 0.0
    return BreakEvenInput(
        train_cost=train,
        prompt_cost=base_cost,
        ft_cost=ft_cost,
        requests_per_day=requests_per_day,
        hosting_per_month=hosting,
        lifetime_days=remaining_life_days(entry, today) if entry else None,
    )


def _measured_answers(
    data: ReportData,
    inp: BreakEvenInput | None,
    be: BreakEven | None,
    quality: dict[str, MetricComparison],
    n_training: int | None,
    *,
    requests_per_day: float,
    required: float,
    budget: float | None,
) -> tuple[Answers, list[str]]:
    assumptions = []
    task: TaskType = "classification" if data.run.labels else "format"
    if n_training is None:
        n_training = EXAMPLES_NEEDED[task][0]
        assumptions.append("the training data is not on this machine: its size is assumed sufficient")
    primary = next((quality[m] for m in PRIMARY if m in quality and quality[m].a is not None), None)
    if primary is not None:
        assumptions.append(
            f"prompting baseline: the base model's {METRIC_NAMES[primary.metric]} on this evaluation, "
            f"against a required {required:.0%} (--required)"
        )
    option = None
    if data.job is not None:
        option = FineTuneOption(
            kind="local" if data.job["backend"] == "local" else "hosted",
            model=data.job["model"],
            setup_usd=inp.train_cost if inp else training_cost(data.job),
            per_request_usd=inp.ft_cost if inp else None,
            monthly_usd=inp.monthly_cost if inp else 0.0,
            priced=be is not None,
            break_even_days=be.break_even_days if be else None,
            lifetime_days=be.lifetime_days if be else None,
            can_create_job=True,
        )
    answers = Answers(
        task_type=task,
        labelled_examples=n_training,
        prompt_compliance=primary.a if primary else None,
        required_compliance=required,
        requests_per_day=requests_per_day,
        setup_budget=budget,
        hosted=option if option and option.kind == "hosted" else None,
        local=option if option and option.kind == "local" else None,
        prompt_per_request_usd=inp.prompt_cost if inp else None,
    )
    return answers, assumptions


def headline(
    data: ReportData,
    *,
    requests_per_day: float,
    today: dt.date,
    required: float = 0.95,
    budget: float | None = None,
    decision: Any = None,
    breakeven: BreakEvenInput | None = None,
    sides: tuple[str, str] | None = None,
    n_training: int | None = None,
) -> Headline:
    """``decision`` (an ``economics.Decision``) and ``breakeven`` (with ``sides``, the names of what it prices)
    replace the recorded or measured ones."""
    run = data.run
    base = run.models[0].model
    tuned = run.models[-1].model if len(run.models) > 1 else None
    quality = compare_models(run, 0, len(run.models) - 1) if tuned else {}
    inp = breakeven or measured_breakeven(data, requests_per_day, today)
    be = break_even(inp) if inp is not None else None
    assumptions: list[str] = []
    if decision is not None:
        rec, source = decision.recommendation, "the advice computed before training"
    elif data.advice is not None:
        rec = Recommendation.model_validate(data.advice["decision"]["recommendation"])
        source = "the advice this job was started on (train --backend auto)"
    else:
        answers, assumptions = _measured_answers(
            data, inp, be, quality, n_training, requests_per_day=requests_per_day, required=required, budget=budget
        )
        rec, source = advise(answers), "this evaluation's measurements"
    primary = next((quality[m] for m in PRIMARY if m in quality), None) or next(iter(quality.values()), None)
    name = data.run.data.rsplit("/", 1)[-1]
    title = f"{name}: {base} vs {tuned}, {today:%d %B %Y}" if tuned else f"{name}: {base}, {today:%d %B %Y}"
    return Headline(
        title=title,
        as_of=today,
        base=base,
        tuned=tuned,
        choice=rec.choice,
        model=rec.model,
        reasons=rec.reasons,
        risks=rec.risks,
        assumptions=[*rec.assumptions, *assumptions],
        source=source,
        evidence=evidence_sentence(primary, base, tuned) if primary is not None and tuned else None,
        quality=list(quality.values()),
        setup_usd=(inp.train_cost + inp.data_cost) if inp else None,
        sides=sides or (("prompting", "the fine-tune") if breakeven is not None else (base, tuned or "-")),
        base_per_request_usd=inp.prompt_cost if inp else run.models[0].cost_per_request_usd,
        tuned_per_request_usd=inp.ft_cost if inp else run.models[-1].cost_per_request_usd,
        breakeven_input=inp,
        breakeven=be,
        requests_per_day=(inp.requests_per_day or requests_per_day) if inp else requests_per_day,
        budget_usd=budget,
    )
