"""The economics of one decision, in one place: prompting today vs a hosted fine-tune vs a self-hosted one
vs prompting the smaller model, each priced the same way (prompt caching, data cost, retraining, GPU
fleet, the model's remaining life and whether the organisation may still create the job).

``advise``, ``train --backend auto``, the demo and the report all call :func:`compare` and :func:`decide`;
nothing else prices the options.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel, Field

from ftadvisor.advisor.availability import Availability, CustomerAnswer, OrgHistoryAnswer, availability
from ftadvisor.advisor.breakeven import BreakEven, BreakEvenInput, break_even
from ftadvisor.advisor.caching import MIN_CACHED_PREFIX, Caching
from ftadvisor.advisor.costs import (
    DATA_COST_PER_EXAMPLE,
    DATA_COST_RANGE,
    DATA_COST_SOURCE,
    TrainingEstimate,
    find_model,
    training_estimate,
)
from ftadvisor.advisor.decision import Answers, Change, FineTuneOption, Recommendation, SmallPrompt, advise
from ftadvisor.advisor.scenario import (
    Fleet,
    Scenario,
    deployment_hosting,
    prompt_request_cost,
    remaining_life_days,
    scenario_input,
    serving_fleet,
)
from ftadvisor.pricing.catalogue import Catalogue
from ftadvisor.tokens import is_fine_tune

# A fine-tune whose behaviour changes this often is retrained (and re-evaluated) this many times a year.
RETRAINS_PER_YEAR: dict[str, int] = {"never": 0, "yearly": 1, "monthly": 12, "weekly": 52, "daily": 365}


class EconomicsInput(BaseModel):
    """Everything the prices depend on. Without ``prompt_tokens`` only setup costs are computed."""

    prompted_model: str | None = None
    hosted_model: str | None = "gpt-4.1-mini-2025-04-14"
    local_model: str | None = "local/llama-3.1-8b-instruct"
    # an open model's adapter served per token (Together's serverless LoRA): the road open after OpenAI closes
    serverless_model: str | None = "together/llama-3.1-8b-instruct"
    small_model: str | None = None  # default: the hosted model's base, prompted with the same long prompt
    prompt_tokens: float | None = Field(default=None, ge=0)
    input_tokens: float = Field(default=200, ge=0)
    output_tokens: float = Field(default=200, ge=0)
    ft_prompt_tokens: float = Field(default=0, ge=0)
    rag_tokens: float | None = Field(default=None, ge=0)  # retrieved context added to each request by RAG
    examples: int = Field(default=0, ge=0)
    example_tokens: float = Field(default=500, gt=0)
    billing_tokens_per_epoch: int | None = Field(default=None, ge=0)
    epochs: int | None = Field(default=None, ge=1)
    cost_per_example: float | None = Field(default=None, ge=0)  # None: DATA_COST_PER_EXAMPLE, stated
    requests_per_day: float | None = Field(default=None, gt=0)
    caching: Caching = Field(default_factory=Caching)
    own_hardware: bool = False
    behaviour_changes: Change = "never"
    org_history: OrgHistoryAnswer = "unknown"
    azure_customer: CustomerAnswer = "unknown"


class OptionCost(BaseModel):
    """One fine-tune option, fully priced."""

    kind: Literal["hosted", "serverless", "local"]
    model: str
    provider: str  # the catalogue's: openai, azure, together, self-hosted
    training: TrainingEstimate
    setup_usd: float
    per_request_usd: float | None
    fleet: Fleet | None
    retrains_per_year: int
    retraining_per_month: float
    inputs: BreakEvenInput | None
    break_even: BreakEven | None
    lifetime_days: float | None
    availability: Availability | None


class Economics(BaseModel):
    as_of: dt.date
    requests_per_day: float | None
    cache_hit_rate: float
    caching: str
    prompted_model: str | None
    prompt_per_request_usd: float | None
    rag_per_request_usd: float | None  # prompting with the retrieved context too (index and retrieval not priced)
    small_prompt: SmallPrompt | None
    cost_per_example: float
    data_cost_assumed: bool
    options: list[OptionCost]
    assumptions: list[str]

    def option(self, kind: str) -> OptionCost | None:
        return next((o for o in self.options if o.kind == kind), None)


def _training_tokens(inp: EconomicsInput) -> tuple[int, int]:
    """(examples, billed tokens per epoch) of the dataset being priced: its measured tokens when known."""
    n = max(inp.examples, 1)
    per_epoch = (
        inp.billing_tokens_per_epoch if inp.billing_tokens_per_epoch is not None else int(n * inp.example_tokens)
    )
    return n, per_epoch


def compare(cat: Catalogue, inp: EconomicsInput, *, today: dt.date) -> Economics:
    """Price every option of ``inp`` on ``today``."""
    rpd = inp.requests_per_day
    hit = inp.caching.rate(rpd)
    per_example = DATA_COST_PER_EXAMPLE if inp.cost_per_example is None else inp.cost_per_example
    assumptions = [inp.caching.describe(rpd)]
    if inp.prompt_tokens is not None and inp.caching.enabled and inp.prompt_tokens < MIN_CACHED_PREFIX:
        assumptions[0] += f"; the {inp.prompt_tokens:,.0f}-token prompt is too short to be cached"
    if inp.cost_per_example is None:
        assumptions.append(
            f"data collection ${per_example:g}/example, not given ({DATA_COST_SOURCE}); set --cost-per-example"
        )
    n, per_epoch = _training_tokens(inp)
    retrains = RETRAINS_PER_YEAR[inp.behaviour_changes]
    base = find_model(cat, inp.prompted_model) if inp.prompted_model else None
    s = (
        None
        if inp.prompt_tokens is None
        else Scenario(
            prompt_tokens=inp.prompt_tokens,
            input_tokens=inp.input_tokens,
            output_tokens=inp.output_tokens,
            ft_prompt_tokens=inp.ft_prompt_tokens,
            cache_hit_rate=hit,
            prompted_is_fine_tune=inp.prompted_model is not None and is_fine_tune(inp.prompted_model),
        )
    )
    options = []
    roads: tuple[tuple[Literal["hosted", "serverless", "local"], str | None], ...] = (
        ("hosted", inp.hosted_model),
        ("serverless", inp.serverless_model),
        ("local", inp.local_model),
    )
    for kind, name in roads:
        if name is None:
            continue
        entry = find_model(cat, name)
        t = training_estimate(
            entry, billing_tokens_per_epoch=per_epoch, n_examples=n, epochs=inp.epochs, cost_per_example=per_example
        )
        retraining = t.training_usd * retrains / 12
        fleet = serving_fleet(entry, s, rpd, own_hardware=inp.own_hardware) if s is not None else None
        be_in = be = None
        if base is not None and s is not None:
            be_in = scenario_input(
                base,
                entry,
                s,
                train_cost=t.training_usd,
                data_cost=t.data_usd,
                requests_per_day=rpd,
                hosting=fleet.usd_per_month if fleet else deployment_hosting(entry),
                retraining_per_month=retraining if rpd else 0.0,
                today=today,
            )
            be = break_even(be_in)
        per_request = be_in.ft_cost if be_in is not None and not entry.self_hosted else None
        options.append(
            OptionCost(
                kind=kind,
                model=entry.id,
                provider=entry.provider,
                training=t,
                setup_usd=t.total_usd,
                per_request_usd=per_request,
                fleet=fleet,
                retrains_per_year=retrains,
                retraining_per_month=retraining,
                inputs=be_in,
                break_even=be,
                lifetime_days=remaining_life_days(entry, today),
                availability=availability(
                    entry, cat, today=today, org_history=inp.org_history, customer=inp.azure_customer
                )
                if not entry.self_hosted
                else None,
            )
        )
    if retrains:
        assumptions.append(
            f"behaviour changes {inp.behaviour_changes}: {retrains} retraining run(s) a year, "
            "training compute only (new examples extra)"
        )
    small = None
    hosted = next((o for o in options if o.kind == "hosted"), None)
    small_name = inp.small_model or (hosted.model if hosted else None)
    if s is not None and small_name is not None:
        small_entry = find_model(cat, small_name)
        small = SmallPrompt(model=small_entry.id, per_request_usd=prompt_request_cost(small_entry, s))
    rag = None
    if base is not None and s is not None and inp.rag_tokens is not None:
        rag = prompt_request_cost(base, s.model_copy(update={"input_tokens": s.input_tokens + inp.rag_tokens}))
    return Economics(
        as_of=today,
        requests_per_day=rpd,
        cache_hit_rate=hit,
        caching=assumptions[0],
        prompted_model=base.id if base else None,
        prompt_per_request_usd=prompt_request_cost(base, s) if base is not None and s is not None else None,
        rag_per_request_usd=rag,
        small_prompt=small,
        cost_per_example=per_example,
        data_cost_assumed=inp.cost_per_example is None,
        options=options,
        assumptions=assumptions,
    )


def fine_tune_option(o: OptionCost) -> FineTuneOption:
    """What the decision engine needs to know of a priced option."""
    be = o.break_even
    av = o.availability
    return FineTuneOption(
        kind=o.kind,
        model=o.model,
        setup_usd=o.setup_usd,
        per_request_usd=o.per_request_usd,
        monthly_usd=(o.inputs.monthly_cost if o.inputs else 0.0),
        gpus=o.fleet.gpus if o.fleet else None,
        break_even_days=be.break_even_days if be else None,
        priced=be is not None,
        lifetime_days=o.lifetime_days,
        can_create_job=True if av is None else av.can_create_job,
        availability=[] if av is None else av.reasons,
    )


class Decision(BaseModel):
    """The recommendation, the economics it rests on, and how it changes across the data-cost range."""

    recommendation: Recommendation
    economics: Economics
    data_cost_sensitivity: dict[str, str]  # "$4/example" -> choice
    bridge: str | None = None  # the same hosted model on Azure until its retirement, when that road is open


def azure_bridge(cat: Catalogue, inp: EconomicsInput, *, today: dt.date) -> str | None:
    """The road that keeps the *same* model: Azure trains OpenAI's closing models for existing customers
    until April 2027 and serves them until October 2027. Priced (training on the same tokens, hourly
    hosting), dated, and said to be a bridge: the model must move again before its deployments retire."""
    if inp.hosted_model is None:
        return None
    entry = cat.find(inp.hosted_model, provider="azure")
    if entry is None or entry.shutdown is None:
        return None
    av = availability(entry, cat, today=today, customer=inp.azure_customer)
    if av.can_create_job is False:
        return None
    n, per_epoch = _training_tokens(inp)
    t = training_estimate(entry, billing_tokens_per_epoch=per_epoch, n_examples=n, epochs=inp.epochs)
    days = (entry.shutdown - today).days
    text = (
        f"the Azure bridge keeps the same {entry.id}: trainable until {entry.job_cutoff}, served until "
        f"{entry.shutdown} ({days} days); training ${t.training_usd:,.2f} + ${deployment_hosting(entry):,.0f}/month "
        "hosting per deployment (the Developer tier has no hosting fee, its deployments live 24 h); then it must "
        "move again, to an open model (the roads priced above)"
    )
    return text + (
        "; existing Azure customers only: say --azure-customer existing" if av.can_create_job is None else ""
    )


def decide(cat: Catalogue, answers: Answers, inp: EconomicsInput, *, today: dt.date) -> Decision:
    """Price the options, apply the decision tree, and (when data cost was assumed) redo it across the
    articles' data-cost range so the user sees whether the assumption matters."""

    def one(per_example: float | None) -> tuple[Recommendation, Economics]:
        e = compare(cat, inp.model_copy(update={"cost_per_example": per_example}), today=today)
        a = answers.model_copy(
            update={
                "hosted": fine_tune_option(h) if (h := e.option("hosted")) else None,
                "serverless": fine_tune_option(sl) if (sl := e.option("serverless")) else None,
                "local": fine_tune_option(lo) if (lo := e.option("local")) else None,
                "small_prompt": e.small_prompt,
                "prompt_per_request_usd": e.prompt_per_request_usd,
                "rag_per_request_usd": e.rag_per_request_usd,
            }
        )
        return advise(a), e

    rec, econ = one(inp.cost_per_example)
    rec.assumptions = econ.assumptions + rec.assumptions
    spread: dict[str, str] = {}
    if inp.cost_per_example is None:
        for c in DATA_COST_RANGE:
            spread[f"${c:g}/example"] = one(c)[0].choice
    bridge = azure_bridge(cat, inp, today=today) if answers.data_may_leave else None
    return Decision(recommendation=rec, economics=econ, data_cost_sensitivity=spread, bridge=bridge)
