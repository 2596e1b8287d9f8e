"""A prompting-vs-fine-tuning scenario in tokens, priced from the catalogue into break-even inputs."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from ftadvisor.advisor.breakeven import DAYS_PER_MONTH, BreakEvenInput
from ftadvisor.advisor.costs import request_cost
from ftadvisor.pricing.catalogue import ModelEntry


class Scenario(BaseModel):
    """Per request: ``input_tokens`` of the request itself, ``prompt_tokens`` of static prompt that a
    fine-tune removes, ``ft_prompt_tokens`` of short prompt the fine-tune still needs, ``output_tokens``."""

    prompt_tokens: float = Field(ge=0)
    input_tokens: float = Field(default=0, ge=0)
    output_tokens: float = Field(default=0, ge=0)
    ft_prompt_tokens: float = Field(default=0, ge=0)
    cached_prompt: bool = False  # bill the static prompt at the cached-input price


def prompt_request_cost(base: ModelEntry, s: Scenario) -> float:
    cached = s.prompt_tokens if s.cached_prompt else 0
    return request_cost(base, "base", s.input_tokens + s.prompt_tokens, s.output_tokens, cached_tokens=cached)


def ft_request_cost(ft: ModelEntry, s: Scenario) -> float:
    """Per-request cost of the fine-tuned model; self-hosted models pay by the hour instead (hosting)."""
    if ft.provider == "self-hosted":
        return 0.0
    return request_cost(ft, "ft", s.input_tokens + s.ft_prompt_tokens, s.output_tokens)


def hosting_per_month(ft: ModelEntry) -> float:
    """A self-hosted model keeps one GPU up all month; hosted APIs charge no hosting."""
    if ft.provider == "self-hosted" and ft.gpu_per_hour:
        return ft.gpu_per_hour * 24 * DAYS_PER_MONTH
    return 0.0


def remaining_life_days(ft: ModelEntry, today: dt.date | None = None) -> float | None:
    """Days until the fine-tuned model's base shuts down (0 if already); None when no date is known."""
    if ft.shutdown is None:
        return None
    return max(0.0, float((ft.shutdown - (today or dt.date.today())).days))


def scenario_input(base: ModelEntry, ft: ModelEntry, s: Scenario, *, train_cost: float, data_cost: float = 0,
                   requests_per_day: float | None = None, lifetime_days: float | None = None,
                   hosting: float | None = None, today: dt.date | None = None) -> BreakEvenInput:
    """Break-even inputs for prompting ``base`` with the long prompt vs the fine-tuned ``ft``."""
    return BreakEvenInput(
        train_cost=train_cost, data_cost=data_cost, prompt_cost=prompt_request_cost(base, s),
        ft_cost=ft_request_cost(ft, s), hosting_per_month=hosting_per_month(ft) if hosting is None else hosting,
        requests_per_day=requests_per_day,
        lifetime_days=lifetime_days if lifetime_days is not None else remaining_life_days(ft, today))
