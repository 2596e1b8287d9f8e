"""A prompting-vs-fine-tuning scenario in tokens, priced from the catalogue: per-request costs with prompt
caching on both sides, the GPU fleet a self-hosted model needs at the volume, and the break-even inputs."""

from __future__ import annotations

import datetime as dt
import math

from pydantic import BaseModel, Field

from ftadvisor.advisor.breakeven import DAYS_PER_MONTH, BreakEvenInput
from ftadvisor.advisor.costs import PriceKind, expected_request_cost
from ftadvisor.pricing.catalogue import ModelEntry

# Serving must absorb the busy hours, not the daily average: a working-hours service sends a day's
# requests in about 8 hours, i.e. a peak about 3x the 24-hour average.
PEAK_TO_AVERAGE = 3.0
HOURS_PER_MONTH = 24 * DAYS_PER_MONTH


class Scenario(BaseModel):
    """Per request: ``input_tokens`` of the request itself, ``prompt_tokens`` of static prompt that a
    fine-tune removes, ``ft_prompt_tokens`` of short prompt the fine-tune still needs, ``output_tokens``.
    Static prompts come first, so they are the prefix that prompt caching can serve (``cache_hit_rate``)."""

    prompt_tokens: float = Field(ge=0)
    input_tokens: float = Field(default=0, ge=0)
    output_tokens: float = Field(default=0, ge=0)
    ft_prompt_tokens: float = Field(default=0, ge=0)
    cache_hit_rate: float = Field(default=0, ge=0, le=1)
    prompted_is_fine_tune: bool = False  # prompting an ft: model today: billed at its fine-tuned rates


def prompt_request_cost(base: ModelEntry, s: Scenario) -> float:
    """Prompting ``base`` with the long static prompt (at fine-tuned rates when it is a fine-tune)."""
    kind: PriceKind = "ft" if s.prompted_is_fine_tune else "base"
    return expected_request_cost(base, kind, s.prompt_tokens, s.input_tokens, s.output_tokens, s.cache_hit_rate)


def ft_request_cost(ft: ModelEntry, s: Scenario) -> float:
    """Per-request cost of the fine-tuned model; self-hosted models pay for their GPUs instead (a fleet)."""
    if ft.self_hosted:
        return 0.0
    return expected_request_cost(ft, "ft", s.ft_prompt_tokens, s.input_tokens, s.output_tokens, s.cache_hit_rate)


class Fleet(BaseModel):
    """The GPUs a self-hosted fine-tune needs to serve the volume at its peak."""

    tokens_per_request: float
    peak_tokens_per_second: float
    peak_to_average: float
    replicas: int
    gpus: int
    gpu_per_hour: float
    own_hardware: bool
    usd_per_month: float
    basis: str


def serving_fleet(
    ft: ModelEntry,
    s: Scenario,
    requests_per_day: float | None,
    *,
    peak_to_average: float = PEAK_TO_AVERAGE,
    own_hardware: bool = False,
) -> Fleet | None:
    """replicas = ceil(peak tokens/s / one replica's serving throughput), at least one; GPUs = replicas x
    GPUs per replica, each paid per hour all month (0 on hardware you already run). None for hosted APIs."""
    if not ft.self_hosted:
        return None
    per_request = s.input_tokens + s.ft_prompt_tokens + s.output_tokens
    peak = (requests_per_day or 0) * per_request / 86_400 * peak_to_average
    tps = ft.serving_tokens_per_second
    replicas = max(1, math.ceil(peak / tps - 1e-9)) if tps else 1
    gpus = replicas * ft.serving_gpus
    rate = ft.gpu_per_hour or 0.0
    monthly = 0.0 if own_hardware else gpus * rate * HOURS_PER_MONTH
    basis = (
        f"{replicas} replica{'s' if replicas > 1 else ''} x {ft.serving_gpus} GPU"
        + (
            f" for a peak of {peak:,.0f} tokens/s ({peak_to_average:g}x the average; one replica serves {tps:,.0f})"
            if tps
            else ""
        )
        + (": on hardware you already run, no rental" if own_hardware else f" at ${rate:g}/GPU-hour")
    )
    return Fleet(
        tokens_per_request=per_request,
        peak_tokens_per_second=peak,
        peak_to_average=peak_to_average,
        replicas=replicas,
        gpus=gpus,
        gpu_per_hour=rate,
        own_hardware=own_hardware,
        usd_per_month=monthly,
        basis=basis,
    )


def deployment_hosting(ft: ModelEntry) -> float:
    """Monthly fee of a deployed hosted fine-tune billed by the hour whether used or not (Azure), else 0."""
    return (ft.hosting_per_hour or 0.0) * HOURS_PER_MONTH


def remaining_life_days(ft: ModelEntry, today: dt.date | None = None) -> float | None:
    """Days until the fine-tuned model's base shuts down (0 if already); None when no date is known."""
    if ft.shutdown is None:
        return None
    return max(0.0, float((ft.shutdown - (today or dt.date.today())).days))


def scenario_input(
    base: ModelEntry,
    ft: ModelEntry,
    s: Scenario,
    *,
    train_cost: float,
    data_cost: float = 0,
    requests_per_day: float | None = None,
    lifetime_days: float | None = None,
    hosting: float | None = None,
    retraining_per_month: float = 0.0,
    own_hardware: bool = False,
    today: dt.date | None = None,
) -> BreakEvenInput:
    """Break-even inputs for prompting ``base`` with the long prompt vs the fine-tuned ``ft`` (its remaining
    life from the catalogue's shutdown date unless ``lifetime_days`` is given)."""
    return breakeven_input(
        base,
        ft,
        s,
        train_cost,
        data_cost,
        requests_per_day,
        lifetime_days if lifetime_days is not None else remaining_life_days(ft, today),
        hosting,
        retraining_per_month,
        own_hardware,
    )


def breakeven_input(
    base: ModelEntry,
    ft: ModelEntry,
    s: Scenario,
    train_cost: float,
    data_cost: float,
    requests_per_day: float | None,
    lifetime_days: float | None,
    hosting: float | None,
    retraining_per_month: float,
    own_hardware: bool,
) -> BreakEvenInput:
    """:func:`scenario_input` once the lifetime is known (no dates: the calculators page computes this too)."""
    if hosting is None:
        fleet = serving_fleet(ft, s, requests_per_day, own_hardware=own_hardware)
        hosting = fleet.usd_per_month if fleet else deployment_hosting(ft)
    return BreakEvenInput(
        train_cost=train_cost,
        data_cost=data_cost,
        prompt_cost=prompt_request_cost(base, s),
        ft_cost=ft_request_cost(ft, s),
        hosting_per_month=hosting,
        retraining_per_month=retraining_per_month,
        requests_per_day=requests_per_day,
        lifetime_days=lifetime_days,
    )
