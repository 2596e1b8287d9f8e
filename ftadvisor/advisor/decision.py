"""The decision engine: prompt, few-shot, RAG, fine-tune (hosted or local) or RAG + fine-tune, with reasons.

It follows the seeds' decision tree: (1) does prompting + few-shot reach the required compliance?
(2) are there 50+ good labelled examples? (3) is the behaviour stable (not changing weekly)? If all say
"fine-tune", the economics decide where: a hosted fine-tune must pay back before its base model shuts
down, and data that may not leave the company rules hosting out. Knowledge that changes goes to RAG:
"fine-tuning teaches behaviour, RAG supplies facts". Each rule is a small function returning a Finding.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, Field

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
FAST_CHANGE = ("weekly", "daily")


class Answers(BaseModel):
    """The seeds' questions. Costs are optional; without them the economics are not judged."""

    task_type: TaskType = "format"
    knowledge_changes: Change = "never"
    labelled_examples: int = Field(default=0, ge=0)
    prompt_compliance: float | None = Field(default=None, ge=0, le=1)
    required_compliance: float = Field(default=DEFAULT_REQUIRED_COMPLIANCE, ge=0, le=1)
    requests_per_day: float | None = Field(default=None, gt=0)
    setup_budget: float | None = Field(default=None, ge=0)
    latency_ms: float | None = Field(default=None, gt=0)
    data_may_leave: bool = True
    # Economics, from `cost breakeven` or given directly.
    hosted_setup_cost: float | None = Field(default=None, ge=0)
    hosted_break_even_days: float | None = Field(default=None, ge=0)
    hosted_lifetime_days: float | None = Field(default=None, ge=0)
    hosted_accepts_jobs: bool = True
    local_setup_cost: float | None = Field(default=None, ge=0)
    local_break_even_days: float | None = Field(default=None, ge=0)


class Finding(BaseModel):
    rule: str
    says: str  # what the rule points to: a Choice, "not-fine-tune", "not-hosted", or "ok"
    reason: str


class Recommendation(BaseModel):
    choice: Choice
    reasons: list[str]
    risks: list[str]
    numbers: dict[str, float | int | str | None]
    findings: list[Finding]


def rule_knowledge(a: Answers) -> Finding | None:
    """Facts that change belong in retrieval, not in weights."""
    if a.task_type == "knowledge" or a.knowledge_changes in FAST_CHANGE:
        why = "the task needs facts" if a.task_type == "knowledge" else f"the knowledge changes {a.knowledge_changes}"
        return Finding(rule="knowledge", says="rag",
                       reason=f"{why}: fine-tuning teaches behaviour, RAG supplies facts, and retraining cannot "
                              "keep up with changing content")
    return None


def rule_prompt_compliance(a: Answers) -> Finding | None:
    """Step 1: if prompting (with few-shot) already reaches the required compliance, stop there."""
    if a.prompt_compliance is None:
        return None
    if a.prompt_compliance >= a.required_compliance:
        return Finding(rule="prompt_compliance", says="prompt",
                       reason=f"prompting already reaches {a.prompt_compliance:.0%} compliance "
                              f"(required {a.required_compliance:.0%})")
    return Finding(rule="prompt_compliance", says="ok",
                   reason=f"prompting reaches only {a.prompt_compliance:.0%} compliance, below the required "
                          f"{a.required_compliance:.0%}")


def rule_examples(a: Answers) -> Finding | None:
    """Step 2: 50+ high-quality labelled examples, and the seeds' table for the task type."""
    low, high = EXAMPLES_NEEDED[a.task_type]
    if a.labelled_examples < MIN_EXAMPLES:
        return Finding(rule="examples", says="few-shot",
                       reason=f"only {a.labelled_examples} labelled examples: fewer than the {MIN_EXAMPLES} a first "
                              "fine-tune needs; use them as few-shot examples and collect more")
    if a.labelled_examples < low:
        return Finding(rule="examples", says="ok",
                       reason=f"{a.labelled_examples} examples is below the {low}-{high or '…'} typically needed "
                              f"for a {a.task_type} task: start with the 50-example test and add failure cases")
    return Finding(rule="examples", says="ok",
                   reason=f"{a.labelled_examples} labelled examples meets the {low}+ typically needed for a "
                          f"{a.task_type} task")


def rule_stability(a: Answers) -> Finding | None:
    """Step 3: do not fine-tune a moving target."""
    if a.knowledge_changes in FAST_CHANGE:
        return Finding(rule="stability", says="not-fine-tune",
                       reason=f"what the model must do changes {a.knowledge_changes}: a fine-tune would be stale "
                              "before it pays back")
    return None


def rule_residency(a: Answers) -> Finding | None:
    """Data that may not leave the company rules out hosted fine-tuning."""
    if not a.data_may_leave:
        return Finding(rule="residency", says="not-hosted",
                       reason="the data may not leave the company: train an open model locally")
    return None


def rule_hosted_lifetime(a: Answers) -> Finding | None:
    """A hosted fine-tune dies with its base model: it must pay back before shutdown, and jobs must still
    be accepted."""
    if not a.hosted_accepts_jobs:
        return Finding(rule="hosted_lifetime", says="not-hosted",
                       reason="the hosted platform takes no new fine-tuning jobs any more")
    if a.hosted_break_even_days is not None and a.hosted_lifetime_days is not None and \
            a.hosted_break_even_days > a.hosted_lifetime_days:
        return Finding(rule="hosted_lifetime", says="not-hosted",
                       reason=f"a hosted fine-tune breaks even after {a.hosted_break_even_days:,.0f} days but its "
                              f"base model shuts down in {a.hosted_lifetime_days:,.0f}: it cannot pay back")
    return None


def rule_budget(a: Answers) -> Finding | None:
    """The setup (data + training) must fit the budget."""
    costs = [c for c in (a.hosted_setup_cost, a.local_setup_cost) if c is not None]
    if a.setup_budget is None or not costs:
        return None
    if min(costs) > a.setup_budget:
        return Finding(rule="budget", says="not-fine-tune",
                       reason=f"the cheapest fine-tune setup (${min(costs):,.0f}) exceeds the ${a.setup_budget:,.0f} "
                              "budget")
    return None


def rule_economics(a: Answers) -> Finding | None:
    """Even when prompting works, a long prompt at high volume can cost more than a fine-tune."""
    days = [d for d in (a.hosted_break_even_days, a.local_break_even_days) if d is not None]
    if not days:
        return None
    best = min(days)
    life = a.hosted_lifetime_days
    if best <= 90 and (life is None or best <= life or a.local_break_even_days == best):
        return Finding(rule="economics", says="fine-tune",
                       reason=f"a fine-tune pays back in {best:,.1f} days: the removed prompt tokens cost more "
                              "than training")
    return Finding(rule="economics", says="ok", reason=f"the fastest fine-tune pays back in {best:,.1f} days")


def rule_local_cost(a: Answers) -> Finding | None:
    """A local fine-tune whose serving costs more than it saves is justified by quality or data residency,
    not by cost: say so."""
    if a.local_setup_cost is not None and a.local_break_even_days is None and a.requests_per_day is not None:
        return Finding(rule="local_cost", says="ok",
                       reason="a local fine-tune never pays back on cost alone at this volume (serving hardware "
                              "costs more than the removed prompt tokens): choose it for compliance or data "
                              "residency, or serve the adapter on hardware you already run")
    return None


def rule_latency(a: Answers) -> Finding | None:
    """Tight latency budgets favour short prompts (a fine-tune) over long few-shot prompts."""
    if a.latency_ms is not None and a.latency_ms < 500:
        return Finding(rule="latency", says="ok",
                       reason=f"a {a.latency_ms:.0f} ms latency budget favours short prompts: few-shot examples "
                              "add input tokens to every request, a fine-tune removes them")
    return None


RULES: tuple[Callable[[Answers], Finding | None], ...] = (
    rule_knowledge, rule_prompt_compliance, rule_examples, rule_stability, rule_residency, rule_hosted_lifetime,
    rule_budget, rule_economics, rule_local_cost, rule_latency,
)


def _risks(a: Answers, choice: Choice) -> list[str]:
    risks = []
    if "fine-tune" in choice:
        low, _ = EXAMPLES_NEEDED[a.task_type]
        if a.labelled_examples < max(low, 100):
            risks.append("overfitting: few examples; hold out a test split and watch validation loss")
        risks.append("forgetting: compare general prompts (maths, common sense) against the base model; "
                     "a drop of more than 5-10 points means over-training or inconsistent data")
        risks.append("inconsistent data is copied faithfully: run `ftadvisor data check` and `data dedup` first")
    if choice in ("fine-tune-hosted", "rag+fine-tune") and a.data_may_leave:
        risks.append("model shutdown: OpenAI takes no new fine-tuning jobs from 2027-01-06 and shuts the bases "
                     "down on 2027-01-14; plan the local path (same data, open model)")
    return risks


def advise(a: Answers) -> Recommendation:
    """Apply every rule and combine them along the seeds' decision tree."""
    findings = [f for rule in RULES if (f := rule(a)) is not None]
    says = {f.rule: f.says for f in findings}
    reasons = [f.reason for f in findings]
    no_ft = "not-fine-tune" in says.values()
    not_hosted = "not-hosted" in says.values()
    enough = says.get("examples") == "ok"
    compliant = says.get("prompt_compliance") == "prompt"
    cheaper = says.get("economics") == "fine-tune"

    def where() -> Choice:
        return "fine-tune-local" if not_hosted else "fine-tune-hosted"

    choice: Choice
    if says.get("knowledge") == "rag":
        needs_behaviour = a.prompt_compliance is not None and not compliant
        choice = "rag+fine-tune" if needs_behaviour and enough and not no_ft and \
            a.knowledge_changes not in FAST_CHANGE else "rag"
        if choice == "rag+fine-tune" and not_hosted:
            reasons.append("fine-tune the behaviour locally and retrieve the facts")
    elif compliant:
        choice = where() if cheaper and enough and not no_ft else "prompt"
    elif not enough or no_ft:
        choice = "few-shot"
    elif a.prompt_compliance is None and not cheaper:
        choice = "few-shot"
        reasons.append("prompt compliance is unknown: measure a good prompt with a few examples first (step 1 "
                       "of the decision tree), then fine-tune if it falls short")
    else:
        choice = where()
    numbers: dict[str, float | int | str | None] = {
        "examples_needed_min": EXAMPLES_NEEDED[a.task_type][0],
        "examples_needed_max": EXAMPLES_NEEDED[a.task_type][1],
        "hosted_break_even_days": a.hosted_break_even_days,
        "hosted_lifetime_days": a.hosted_lifetime_days,
        "local_break_even_days": a.local_break_even_days,
        "hosted_setup_cost_usd": a.hosted_setup_cost,
        "local_setup_cost_usd": a.local_setup_cost,
    }
    return Recommendation(choice=choice, reasons=reasons, risks=_risks(a, choice), numbers=numbers,
                          findings=findings)
