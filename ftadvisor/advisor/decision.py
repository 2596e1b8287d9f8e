"""The decision engine: prompt, few-shot, RAG, fine-tune (hosted or local) or RAG + fine-tune, with reasons.

It follows the seeds' decision tree: (1) does prompting + few-shot reach the required compliance?
(2) are there 50+ good labelled examples? (3) is the behaviour stable (not changing weekly)? Facts and
behaviour are separate questions: "fine-tuning teaches behaviour, RAG supplies facts", and the two stack,
so changing facts with a format prompting cannot hold give RAG + fine-tune. Where to fine-tune is decided
per option: a hosted fine-tune must be creatable by this organisation, pay back before its base model shuts
down and keep the data where it may go; every option must fit the setup budget. Each rule is a small
function returning a Finding; reasons quote the figures of the option they talk about.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

from ftadvisor.advisor.breakeven import DAYS_PER_MONTH

TaskType = Literal["format", "classification", "vocabulary", "reasoning", "capability", "knowledge", "general"]
Change = Literal["never", "yearly", "monthly", "weekly", "daily"]
Choice = Literal["prompt", "few-shot", "rag", "fine-tune-hosted", "fine-tune-local", "rag+fine-tune"]

# The seeds' "how many examples do you need" table: (typical minimum, typical maximum or None).
EXAMPLES_NEEDED: dict[str, tuple[int, int | None]] = {
    "format": (50, 200),
    "classification": (100, 500),
    "vocabulary": (200, 1000),
    "reasoning": (500, 5000),
    "capability": (10_000, None),
    "knowledge": (0, None),
    "general": (0, None),
}
MIN_EXAMPLES = 50  # the seeds' "50-example test"
DEFAULT_REQUIRED_COMPLIANCE = 0.95
UNSTABLE = ("weekly", "daily")  # seed 004 step 3: "not changing weekly"
# A fine-tune that repays its setup within a quarter is worth it even when prompting already complies
# (seed 004: "spending more on long system prompts than training"). Our threshold, not a sourced figure.
QUICK_PAYBACK_DAYS = 90
# A recommendation dearer than this multiple of prompting's monthly cost says so beside the choice, with
# what it buys (the advice audit's low-volume cases: a $877/month GPU against $0.59/month of prompting).
DEARER_THAN_PROMPTING = 5.0


class FineTuneOption(BaseModel):
    """One place to fine-tune, as priced by ``economics`` (or given directly)."""

    kind: Literal["hosted", "serverless", "local"]  # serverless: an open model's adapter billed per token
    model: str
    setup_usd: float | None = None
    per_request_usd: float | None = None
    monthly_usd: float = 0.0
    gpus: int | None = None
    priced: bool = False  # break-even computed (needs the prompt tokens and a prompted model)
    break_even_days: float | None = None  # None when priced: never pays back
    lifetime_days: float | None = None
    can_create_job: bool | None = True  # None: depends on an organisation history we were not told
    availability: list[str] = Field(default_factory=list)


class SmallPrompt(BaseModel):
    """The baseline "prompt the smaller model": the fine-tune's own base, prompted with the long prompt."""

    model: str
    per_request_usd: float


class Answers(BaseModel):
    """The seeds' questions, and the priced options (``economics.decide`` fills them)."""

    task_type: TaskType = "format"
    facts_change: Change = "never"
    behaviour_changes: Change = "never"
    labelled_examples: int = Field(default=0, ge=0)
    prompt_compliance: float | None = Field(default=None, ge=0, le=1)
    small_model_compliance: float | None = Field(default=None, ge=0, le=1)
    required_compliance: float = Field(default=DEFAULT_REQUIRED_COMPLIANCE, ge=0, le=1)
    requests_per_day: float | None = Field(default=None, gt=0)
    setup_budget: float | None = Field(default=None, ge=0)
    latency_ms: float | None = Field(default=None, gt=0)
    data_may_leave: bool = True
    hosted: FineTuneOption | None = None
    serverless: FineTuneOption | None = None
    local: FineTuneOption | None = None
    small_prompt: SmallPrompt | None = None
    prompt_per_request_usd: float | None = None
    rag_per_request_usd: float | None = None


class Finding(BaseModel):
    rule: str
    says: str  # a Choice, "not-fine-tune", "not-hosted", "not-local", "fine-tune" or "ok"
    reason: str


class Recommendation(BaseModel):
    choice: Choice
    model: str | None  # the model to fine-tune (or to prompt), when the choice names one
    headline: str | None = None  # said beside the choice: what a choice far dearer than prompting buys
    reasons: list[str]
    risks: list[str]
    assumptions: list[str]
    numbers: dict[str, float | int | str | None]
    findings: list[Finding]


def _options(a: Answers) -> list[FineTuneOption]:
    """The priced fine-tune roads, per-token ones before dedicated hardware."""
    return [o for o in (a.hosted, a.serverless, a.local) if o is not None]


def needs_facts(a: Answers) -> bool:
    return a.task_type == "knowledge" or a.facts_change != "never"


def rule_facts(a: Answers) -> Finding | None:
    """Facts that change belong in retrieval, not in weights."""
    if not needs_facts(a):
        return None
    why = "the task needs facts" if a.task_type == "knowledge" else f"the facts change {a.facts_change}"
    return Finding(
        rule="facts",
        says="rag",
        reason=f"{why}: RAG supplies facts, fine-tuning teaches behaviour, and retraining cannot keep "
        "up with changing content",
    )


def rule_prompt_compliance(a: Answers) -> Finding | None:
    """Step 1: if prompting (with few-shot) already reaches the required compliance, stop there."""
    if a.prompt_compliance is None:
        return None
    if a.prompt_compliance >= a.required_compliance:
        return Finding(
            rule="prompt_compliance",
            says="prompt",
            reason=f"prompting already reaches {a.prompt_compliance:.0%} compliance "
            f"(required {a.required_compliance:.0%})",
        )
    return Finding(
        rule="prompt_compliance",
        says="ok",
        reason=f"prompting reaches only {a.prompt_compliance:.0%} compliance, below the required "
        f"{a.required_compliance:.0%}",
    )


def rule_examples(a: Answers) -> Finding | None:
    """Step 2: 50+ high-quality labelled examples, and the seeds' table for the task type."""
    low, high = EXAMPLES_NEEDED[a.task_type]
    if a.labelled_examples < MIN_EXAMPLES:
        return Finding(
            rule="examples",
            says="few-shot",
            reason=f"only {a.labelled_examples} labelled examples: fewer than the {MIN_EXAMPLES} a first "
            "fine-tune needs; use them as few-shot examples (collect more only if the volume "
            "justifies a fine-tune)",
        )
    if a.labelled_examples < low:
        return Finding(
            rule="examples",
            says="ok",
            reason=f"{a.labelled_examples} examples is below the {low}-{high or '…'} typically needed "
            f"for a {a.task_type} task: start with the 50-example test and add failure cases",
        )
    return Finding(
        rule="examples",
        says="ok",
        reason=f"{a.labelled_examples} labelled examples meets the {low}+ typically needed for a {a.task_type} task",
    )


def rule_stability(a: Answers) -> Finding | None:
    """Step 3: do not fine-tune a moving target; a slowly moving one is retrained (priced in economics)."""
    if a.behaviour_changes in UNSTABLE:
        return Finding(
            rule="stability",
            says="not-fine-tune",
            reason=f"the required behaviour (format, tone, labels) changes {a.behaviour_changes}: keep it "
            "in the prompt, where a change costs nothing; a fine-tune would be stale before it "
            "pays back",
        )
    if a.behaviour_changes in ("monthly", "yearly"):
        n = 12 if a.behaviour_changes == "monthly" else 1
        return Finding(
            rule="stability",
            says="ok",
            reason=f"the behaviour changes {a.behaviour_changes}: a fine-tune is retrained and "
            f"re-evaluated {n} time{'s' if n > 1 else ''} a year (priced in its monthly cost)",
        )
    return None


def rule_residency(a: Answers) -> Finding | None:
    """Data that may not leave the company rules out hosted fine-tuning."""
    if not a.data_may_leave:
        return Finding(
            rule="residency",
            says="local-only",
            reason="the data may not leave the company: train an open model locally",
        )
    return None


def rule_hosted(a: Answers) -> Finding | None:
    """A hosted fine-tune must be creatable by this organisation and pay back before its base shuts down."""
    h = a.hosted
    if h is None:
        return None
    if h.can_create_job is False:
        return Finding(
            rule="hosted",
            says="not-hosted",
            reason=f"a hosted fine-tune of {h.model} cannot be created: " + "; ".join(h.availability),
        )
    if h.can_create_job is None:
        return Finding(
            rule="hosted",
            says="not-hosted",
            reason=f"a hosted fine-tune of {h.model} may not be creatable ({'; '.join(h.availability)}); assumed not",
        )
    if (
        h.priced
        and h.break_even_days is not None
        and h.lifetime_days is not None
        and h.break_even_days > h.lifetime_days
    ):
        return Finding(
            rule="hosted",
            says="not-hosted",
            reason=f"a hosted fine-tune of {h.model} breaks even after {h.break_even_days:,.0f} days but "
            f"its base model shuts down in {h.lifetime_days:,.0f}: it cannot pay back",
        )
    if h.priced and h.break_even_days is None:
        return Finding(
            rule="hosted",
            says="not-hosted",
            reason=f"a hosted fine-tune of {h.model} never pays back: its per-request cost "
            f"(${h.per_request_usd or 0:.6f}) is not below prompting's",
        )
    return None


def _over_budget(a: Answers, o: FineTuneOption | None) -> bool:
    return o is not None and a.setup_budget is not None and o.setup_usd is not None and o.setup_usd > a.setup_budget


def rule_budget(a: Answers) -> Finding | None:
    """The setup (data + training) of the recommended option must fit the budget: a hard limit."""
    over = [o for o in _options(a) if _over_budget(a, o)]
    if not over:
        return None
    assert a.setup_budget is not None
    text = "; ".join(
        f"the {o.kind} fine-tune's setup (${o.setup_usd:,.2f}) exceeds the ${a.setup_budget:,.2f} budget" for o in over
    )
    says = "not-fine-tune" if len(over) == len(_options(a)) else f"not-{over[0].kind}"
    return Finding(rule="budget", says=says, reason=text)


def rule_small_model(a: Answers) -> Finding | None:
    """Savings from moving to a smaller model belong to the smaller model, not to fine-tuning."""
    sp, h = a.small_prompt, a.hosted
    if sp is None:
        return None
    if a.small_model_compliance is not None and a.small_model_compliance >= a.required_compliance:
        return Finding(
            rule="small_model",
            says="prompt",
            reason=f"prompting the smaller {sp.model} reaches {a.small_model_compliance:.0%} (required "
            f"{a.required_compliance:.0%}) at ${sp.per_request_usd:.6f}/request",
        )
    if h is not None and h.per_request_usd is not None and h.model == sp.model:
        cmp = "less than" if sp.per_request_usd < h.per_request_usd else "more than"
        return Finding(
            rule="small_model",
            says="ok",
            reason=f"baseline: prompting {sp.model} with the same prompt costs ${sp.per_request_usd:.6f}/"
            f"request, {cmp} its fine-tune (${h.per_request_usd:.6f}); measure its compliance "
            "(--small-model-compliance)",
        )
    return None


def rule_local_cost(a: Answers) -> Finding | None:
    """A local fine-tune whose serving costs more than it saves is justified by quality or residency."""
    lo = a.local
    if lo is not None and lo.priced and lo.break_even_days is None and a.requests_per_day is not None:
        gpus = f"{lo.gpus} GPU{'s' if (lo.gpus or 1) > 1 else ''}, " if lo.gpus else ""
        return Finding(
            rule="local_cost",
            says="ok",
            reason=f"a local fine-tune of {lo.model} never pays back on cost alone at this volume "
            f"(serving: {gpus}${lo.monthly_usd:,.0f}/month): choose it for compliance, data "
            "residency or the platform's shutdown, or serve it on hardware you already run "
            "(--own-hardware)",
        )
    return None


def rule_latency(a: Answers) -> Finding | None:
    """Tight latency budgets favour short prompts (a fine-tune) over long few-shot prompts."""
    if a.latency_ms is not None and a.latency_ms < 500:
        return Finding(
            rule="latency",
            says="ok",
            reason=f"a {a.latency_ms:.0f} ms latency budget favours short prompts: few-shot examples "
            "add input tokens to every request, a fine-tune removes them",
        )
    return None


RULES: tuple[Callable[[Answers], Finding | None], ...] = (
    rule_facts,
    rule_prompt_compliance,
    rule_examples,
    rule_stability,
    rule_residency,
    rule_hosted,
    rule_budget,
    rule_small_model,
    rule_local_cost,
    rule_latency,
)


def _where(a: Answers, says: set[str]) -> FineTuneOption | None:
    """The fine-tune option to recommend: the allowed one that pays back soonest (hosted first on a tie;
    data that must stay allows only the local road)."""
    allowed = []
    for o in _options(a):
        if f"not-{o.kind}" in says or (o.kind != "local" and "local-only" in says) or _over_budget(a, o):
            continue
        allowed.append(o)
    if not allowed:
        if not _options(a) and "not-hosted" not in says and "local-only" not in says:
            return FineTuneOption(kind="hosted", model="")  # unpriced: the pure decision tree
        if not _options(a):
            return FineTuneOption(kind="local", model="")
        return None
    return min(allowed, key=lambda o: (o.break_even_days is None and o.priced, o.break_even_days or 0.0))


def _economics_reason(o: FineTuneOption) -> str | None:
    if not o.priced:
        return None
    where = f"the {o.kind} fine-tune of {o.model}"
    if o.break_even_days is None:
        return f"{where} costs ${o.setup_usd or 0:,.2f} to set up"
    life = (
        f", {o.lifetime_days - o.break_even_days:,.0f} days before its shutdown" if o.lifetime_days is not None else ""
    )
    return f"{where} costs ${o.setup_usd or 0:,.2f} to set up and pays back in {o.break_even_days:,.1f} days{life}"


def advise(a: Answers) -> Recommendation:
    """Apply every rule and combine them along the seeds' decision tree."""
    findings = [f for rule in RULES if (f := rule(a)) is not None]
    says = {f.says for f in findings}
    by_rule = {f.rule: f.says for f in findings}
    reasons = [f.reason for f in findings]
    enough = by_rule.get("examples") == "ok"
    compliant = by_rule.get("prompt_compliance") == "prompt"
    small_ok = by_rule.get("small_model") == "prompt"
    option = None if "not-fine-tune" in says or not enough else _where(a, says)
    quick = (
        option is not None
        and option.priced
        and option.break_even_days is not None
        and option.break_even_days <= QUICK_PAYBACK_DAYS
    )
    if (
        small_ok
        and quick
        and option is not None
        and a.small_prompt is not None
        and option.per_request_usd is not None
        and option.per_request_usd >= a.small_prompt.per_request_usd
    ):
        quick = False  # it pays back against the big prompted model, but prompting the smaller one is cheaper
    model: str | None = None

    choice: Choice
    if needs_facts(a):
        behaviour_fails = a.prompt_compliance is not None and not compliant
        choice = "rag+fine-tune" if behaviour_fails and option is not None else "rag"
        if choice == "rag+fine-tune":
            assert option is not None
            reasons.append(
                f"the format still fails with a prompt: fine-tune the behaviour ({option.kind}) and "
                "retrieve the facts; the two stack"
            )
    elif compliant or small_ok:
        if quick:
            assert option is not None
            choice = _fine_tune_choice(option)
            reasons.append(
                f"even though prompting complies, a fine-tune repays its setup within {QUICK_PAYBACK_DAYS} "
                "days: the removed prompt tokens cost more than training"
            )
        else:
            choice = "prompt"
            if small_ok and a.small_prompt is not None:
                model = a.small_prompt.model
    elif option is None:
        choice = "few-shot"
        if enough and "not-fine-tune" not in says:
            reasons.append("no fine-tune option is open: see the reasons above")
    elif a.prompt_compliance is None and not quick:
        choice = "few-shot"
        reasons.append(
            "prompt compliance is unknown: measure a good prompt with a few examples first (step 1 "
            "of the decision tree), then fine-tune if it falls short"
        )
    else:
        choice = _fine_tune_choice(option)
    if "fine-tune" in choice and option is not None:
        model = option.model or None
        if (why := _economics_reason(option)) is not None:
            reasons.append(why)
    numbers: dict[str, float | int | str | None] = {
        "examples_needed_min": EXAMPLES_NEEDED[a.task_type][0],
        "examples_needed_max": EXAMPLES_NEEDED[a.task_type][1],
        "prompt_usd_per_request": a.prompt_per_request_usd,
    }
    if "rag" in choice:
        numbers["rag_usd_per_request"] = a.rag_per_request_usd
    for o in _options(a):
        if o is not None:
            numbers[f"{o.kind}_setup_cost_usd"] = o.setup_usd
            numbers[f"{o.kind}_break_even_days"] = o.break_even_days
            numbers[f"{o.kind}_usd_per_request"] = o.per_request_usd
            numbers[f"{o.kind}_monthly_usd"] = o.monthly_usd
    if a.hosted is not None:
        numbers["hosted_lifetime_days"] = a.hosted.lifetime_days
    if a.local is not None and a.local.gpus is not None:
        numbers["local_serving_gpus"] = a.local.gpus
    if a.small_prompt is not None:
        numbers["small_model_usd_per_request"] = a.small_prompt.per_request_usd
    chosen = option if "fine-tune" in choice else None
    return Recommendation(
        choice=choice,
        model=model,
        headline=_cost_headline(a, chosen),
        reasons=reasons,
        risks=_risks(a, choice, chosen),
        assumptions=[],
        numbers=numbers,
        findings=findings,
    )


def _fine_tune_choice(o: FineTuneOption) -> Choice:
    """The choice naming where ``o`` trains: a per-token open-model host is a hosted fine-tune too."""
    return "fine-tune-local" if o.kind == "local" else "fine-tune-hosted"


def _cost_headline(a: Answers, o: FineTuneOption | None) -> str | None:
    """A fine-tune costing more than DEARER_THAN_PROMPTING x prompting a month is said to, with what it buys."""
    if o is None or not o.priced or a.requests_per_day is None or a.prompt_per_request_usd is None:
        return None
    prompting = a.prompt_per_request_usd * a.requests_per_day * DAYS_PER_MONTH
    tuned = o.monthly_usd + (o.per_request_usd or 0.0) * a.requests_per_day * DAYS_PER_MONTH
    if tuned <= DEARER_THAN_PROMPTING * prompting:
        return None
    buys = (
        f"compliance above the {a.prompt_compliance:.0%} prompting reaches"
        if a.prompt_compliance is not None and a.prompt_compliance < a.required_compliance
        else "independence from the prompted model"
    )
    if not a.data_may_leave:
        buys += " with data that never leaves"
    return (
        f"costs ${tuned:,.2f}/month, {tuned / max(prompting, 0.01):,.0f}x prompting's ${prompting:,.2f} at "
        f"{a.requests_per_day:,.0f} requests/day: what it buys is {buys}"
    )


def _risks(a: Answers, choice: Choice, chosen: FineTuneOption | None) -> list[str]:
    risks = []
    if "fine-tune" in choice:
        low, _ = EXAMPLES_NEEDED[a.task_type]
        if a.labelled_examples < max(low, 100):
            risks.append("overfitting: few examples; hold out a test split and watch validation loss")
        risks.append(
            "forgetting: compare general prompts (maths, common sense) against the base model; "
            "a drop of more than 5-10 points means over-training or inconsistent data"
        )
        risks.append("inconsistent data is copied faithfully: run `ftadvisor data check` and `data dedup` first")
    if chosen is not None and chosen.kind == "hosted" and chosen.lifetime_days is not None:
        risks.append(
            f"model shutdown: a hosted fine-tune of {chosen.model or 'an OpenAI model'} stops answering "
            f"in {chosen.lifetime_days:,.0f} days; plan the local path (same data, open model)"
        )
    return risks
