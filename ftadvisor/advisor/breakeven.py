"""Break-even of a fine-tune against prompting: N = fixed costs / (P_prompt - P_ft), with model lifetime.

Fixed costs are training plus data collection; hosting (GPUs) and retraining are monthly costs of the
fine-tuned option. A fine-tune pays back only if the crossover comes before its model shuts down.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pydantic import BaseModel, Field, model_validator

DAYS_PER_MONTH = 365.25 / 12
HORIZON_MONTHS = (1, 3, 6, 12)


class BreakEvenInput(BaseModel):
    """Costs in USD. ``prompt_cost`` and ``ft_cost`` are per request."""

    train_cost: float = Field(ge=0)
    prompt_cost: float = Field(ge=0)
    ft_cost: float = Field(ge=0)
    data_cost: float = Field(default=0, ge=0)
    hosting_per_month: float = Field(default=0, ge=0)
    retraining_per_month: float = Field(default=0, ge=0)
    requests_per_day: float | None = Field(default=None, gt=0)
    lifetime_days: float | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _monthly_costs_need_volume(self) -> BreakEvenInput:
        if (self.hosting_per_month or self.retraining_per_month) and self.requests_per_day is None:
            raise ValueError("hosting and retraining accrue per day: give requests per day too")
        return self

    @property
    def monthly_cost(self) -> float:
        return self.hosting_per_month + self.retraining_per_month


class CostPoint(BaseModel):
    label: str
    days: float
    requests: int
    prompt_cost_usd: float
    ft_cost_usd: float
    cheaper: str  # "prompt", "fine-tune", or "prompt (shut down)" once the fine-tune no longer answers
    after_shutdown: bool


class BreakEven(BaseModel):
    fixed_cost_usd: float
    per_request_savings_usd: float
    daily_savings_usd: float | None
    break_even_requests: int | None
    break_even_days: float | None
    lifetime_days: float | None
    pays_back_before_shutdown: bool | None
    net_savings_over_lifetime_usd: float | None
    cumulative: list[CostPoint]
    verdict: str


def cumulative_costs(inp: BreakEvenInput, days: float) -> tuple[float, float]:
    """Total cost of prompting and of the fine-tune after ``days`` at the input volume."""
    assert inp.requests_per_day is not None
    requests = inp.requests_per_day * days
    prompt = inp.prompt_cost * requests
    ft = inp.train_cost + inp.data_cost + inp.ft_cost * requests + inp.monthly_cost * days / DAYS_PER_MONTH
    return prompt, ft


def chart_horizon(result: BreakEven) -> float:
    """Days a cumulative-cost chart spans: a year, or longer to show the break-even and the shutdown."""
    horizon = 365.0
    for d in (result.break_even_days, result.lifetime_days):
        if d is not None and d < 3650:
            horizon = max(horizon, d * 1.25)
    return horizon


def break_even(inp: BreakEvenInput) -> BreakEven:
    """Break-even requests and days, cumulative costs at 1/3/6/12 months (and at shutdown), and a verdict."""
    fixed = inp.train_cost + inp.data_cost
    savings = inp.prompt_cost - inp.ft_cost
    rpd = inp.requests_per_day
    daily = None if rpd is None else savings * rpd - inp.monthly_cost / DAYS_PER_MONTH
    requests: int | None = None
    days: float | None = None
    if rpd is None:
        if savings > 0:
            requests = math.ceil(fixed / savings - 1e-9)
    elif daily is not None and daily > 0:
        days = fixed / daily
        requests = math.ceil(days * rpd - 1e-9)
    life = inp.lifetime_days
    pays: bool | None = None
    if life is not None and (days is not None or requests is None):
        pays = days is not None and days <= life
    net = None if (life is None or daily is None) else daily * life - fixed
    points: list[CostPoint] = []
    if rpd is not None:
        marks = [(f"{m} month{'s' if m > 1 else ''}", m * DAYS_PER_MONTH) for m in HORIZON_MONTHS]
        if life is not None and life < marks[-1][1]:
            marks.append(("shutdown", life))
        for label, d in sorted(marks, key=lambda x: x[1]):
            p, f = cumulative_costs(inp, d)
            dead = life is not None and d > life
            cheaper = "prompt (shut down)" if dead else "fine-tune" if f < p else "prompt"
            points.append(
                CostPoint(
                    label=label,
                    days=round(d, 2),
                    requests=round(rpd * d),
                    prompt_cost_usd=p,
                    ft_cost_usd=f,
                    cheaper=cheaper,
                    after_shutdown=dead,
                )
            )
    return BreakEven(
        fixed_cost_usd=fixed,
        per_request_savings_usd=savings,
        daily_savings_usd=daily,
        break_even_requests=requests,
        break_even_days=days,
        lifetime_days=life,
        pays_back_before_shutdown=pays,
        net_savings_over_lifetime_usd=net,
        cumulative=points,
        verdict=_verdict(savings, daily, days, requests, life, pays, net),
    )


def _verdict(
    savings: float,
    daily: float | None,
    days: float | None,
    requests: int | None,
    life: float | None,
    pays: bool | None,
    net: float | None,
) -> str:
    if savings <= 0:
        return (
            "never pays back: the fine-tuned model costs as much or more per request than prompting "
            "(fine-tuned inference is often 1.5-2x the base price; the savings must come from shorter prompts)"
        )
    if daily is not None and daily <= 0:
        return "never pays back: hosting and retraining cost more per day than the per-request savings bring in"
    if days is None:
        text = f"pays back after {requests:,} requests"
        if life is not None:
            text += f"; give requests per day to judge it against the {life:,.0f} days the model has left"
        return text
    if pays is False:
        assert life is not None
        return (
            f"does NOT pay back before shutdown: break-even after {days:,.1f} days, but the model has "
            f"{life:,.0f} days left; prompt instead, or fine-tune an open model locally"
        )
    text = f"pays back after {requests:,} requests ({days:,.1f} days)"
    if life is not None and net is not None:
        text += f", {life - days:,.0f} days before shutdown; net saving by then ${net:,.2f}"
    return text


def sensitivity(
    make: Callable[[float, int], BreakEvenInput], volumes: list[float], n_columns: int
) -> list[list[float | None]]:
    """Break-even days for each requests/day and column (``make`` builds the inputs of one cell, so that
    volume-dependent costs such as the cache hit rate and the GPU fleet follow the volume); None where it
    never pays back."""
    return [[break_even(make(v, c)).break_even_days for c in range(n_columns)] for v in volumes]
