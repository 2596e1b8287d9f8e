"""The Python the calculators page runs, translated to JavaScript by :mod:`ftadvisor.calc.pyjs`.

These are the API's own functions and models, not copies: ``break_even`` here is the ``break_even`` that
``cost breakeven``, ``advise`` and the report call. Adding a calculator means listing what it calls.
"""

from __future__ import annotations

from functools import lru_cache

from ftadvisor.advisor import breakeven, caching, costs, decision, lora, scenario
from ftadvisor.calc.pyjs import Export, translate
from ftadvisor.pricing import training
from ftadvisor.pricing.catalogue import ModelEntry

EXPORT = Export(
    functions=[
        # prompt caching and per-request prices
        caching.cached_prefix_tokens,
        caching.derived_hit_rate,
        costs._price,
        costs.request_cost,
        costs.cacheable_tokens,
        costs.expected_request_cost,
        scenario.prompt_request_cost,
        scenario.ft_request_cost,
        scenario.serving_fleet,
        scenario.deployment_hosting,
        scenario.breakeven_input,
        # break-even
        breakeven.cumulative_costs,
        breakeven.break_even,
        breakeven._verdict,
        breakeven.chart_horizon,
        # examples and epochs
        training.default_epochs,
        # the decision tree
        decision._options,
        decision.needs_facts,
        decision.rule_facts,
        decision.rule_prompt_compliance,
        decision.rule_examples,
        decision.rule_stability,
        decision.rule_residency,
        decision.rule_hosted,
        decision._over_budget,
        decision.rule_budget,
        decision.rule_small_model,
        decision.rule_local_cost,
        decision.rule_latency,
        decision._where,
        decision._economics_reason,
        decision.advise,
        decision._fine_tune_choice,
        decision._cost_headline,
        decision._risks,
        # LoRA sizing and memory
        lora.memory,
        lora._largest,
        lora.fit,
        lora._matrix,
        lora.lora_size,
    ],
    models={
        caching.Caching: ("rate", "describe"),
        ModelEntry: ("self_hosted",),
        scenario.Scenario: (),
        scenario.Fleet: (),
        breakeven.BreakEvenInput: ("monthly_cost", "_monthly_costs_need_volume"),
        breakeven.CostPoint: (),
        breakeven.BreakEven: (),
        decision.FineTuneOption: (),
        decision.SmallPrompt: (),
        decision.Answers: (),
        decision.Finding: (),
        decision.Recommendation: (),
        lora.ModelShape: ("linears", "linear_params", "total_params"),
        lora.MemorySettings: (),
        lora.MemoryBreakdown: (),
        lora.Fit: (),
        lora.MatrixSize: (),
        lora.LoraSize: (),
    },
)


@lru_cache(maxsize=1)
def javascript() -> str:
    """The page's formulas as JavaScript (generated once per process)."""
    return translate(EXPORT)
