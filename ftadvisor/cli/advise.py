"""``ftadvisor advise``: prompt, few-shot, RAG or fine-tune, with reasons and numbers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from ftadvisor.cli.common import err, json_option, out, print_json, user_errors
from ftadvisor.cli.options import (
    as_of_option,
    azure_customer_option,
    cache_options,
    caching,
    org_history_option,
    today,
)
from ftadvisor.cli.prices import load, prices_option

TASKS = ["format", "classification", "vocabulary", "reasoning", "capability", "knowledge", "general"]
CHANGES = ["never", "yearly", "monthly", "weekly", "daily"]


def read_answers(path: Path) -> dict[str, Any]:
    from ftadvisor.errors import InputError
    from ftadvisor.userfiles import read_text

    text = read_text(path, "answers file")
    try:
        if path.suffix.lower() in (".yaml", ".yml"):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:  # yaml and json raise different types
        raise InputError(f"{path}: cannot parse: {exc}") from exc
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of answers")
    return {k.replace("-", "_"): v for k, v in data.items()}


ECONOMICS_KEYS = {
    "base_model": "prompted_model",
    "hosted_model": "hosted_model",
    "local_model": "local_model",
    "serverless_model": "serverless_model",
    "small_model": "small_model",
    "prompt_tokens": "prompt_tokens",
    "input_tokens": "input_tokens",
    "output_tokens": "output_tokens",
    "ft_prompt_tokens": "ft_prompt_tokens",
    "example_tokens": "example_tokens",
    "cost_per_example": "cost_per_example",
    "own_hardware": "own_hardware",
    "org_history": "org_history",
    "azure_customer": "azure_customer",
    "rag_tokens": "rag_tokens",
    "billing_tokens_per_epoch": "billing_tokens_per_epoch",
}


def advice_options(fn: Any) -> Any:
    """The decision tool's questions, shared by ``advise`` and ``train --backend auto``."""
    for option in reversed(
        [
            click.option(
                "--task-type", type=click.Choice(TASKS), help="What the model must learn. Example: --task-type format"
            ),
            click.option(
                "--facts-change",
                type=click.Choice(CHANGES),
                help="How often the facts the model must know "
                "change (never = it needs no changing facts); changing facts call for RAG. "
                "Example: --facts-change daily",
            ),
            click.option(
                "--behaviour-changes",
                type=click.Choice(CHANGES),
                help="How often the format, tone or labels "
                "it must keep change; weekly or faster stays in the prompt, slower is retrained (priced). "
                "Example: --behaviour-changes monthly",
            ),
            click.option(
                "--knowledge-changes",
                type=click.Choice(CHANGES),
                hidden=True,
                help="Deprecated alias of --facts-change (say --behaviour-changes too). Example: --facts-change weekly",
            ),
            click.option(
                "--examples",
                "labelled_examples",
                type=click.IntRange(min=0),
                help="Labelled examples available. Example: --examples 300",
            ),
            click.option(
                "--prompt-compliance",
                type=click.FloatRange(0, 1),
                help="Share of requests a good prompt gets right today. Example: --prompt-compliance 0.85",
            ),
            click.option(
                "--small-model-compliance",
                type=click.FloatRange(0, 1),
                help="Share a good prompt gets right "
                "on the smaller model you would fine-tune (the 'prompt the smaller model' baseline). "
                "Example: --small-model-compliance 0.9",
            ),
            click.option(
                "--required-compliance",
                type=click.FloatRange(0, 1),
                help="Share required (default 0.95). Example: --required-compliance 0.99",
            ),
            click.option(
                "--requests-per-day",
                type=click.FloatRange(min=0, min_open=True),
                help="Average volume. Example: --requests-per-day 5000",
            ),
            click.option(
                "--budget",
                "setup_budget",
                type=click.FloatRange(min=0),
                help="Setup budget in USD (data + "
                "training): a hard limit, no option above it is recommended. Example: --budget 500",
            ),
            click.option(
                "--latency-ms",
                type=click.FloatRange(min=0, min_open=True),
                help="Latency tolerance. Example: --latency-ms 800",
            ),
            click.option(
                "--data-may-leave/--data-must-stay",
                default=None,
                help="May training data go to a hosted provider? Example: --data-must-stay",
            ),
            org_history_option,
            azure_customer_option,
            click.option(
                "--base-model", help="Model prompted today, to price the economics. Example: --base-model gpt-4o"
            ),
            click.option(
                "--hosted-model",
                help="Hosted model to fine-tune (default gpt-4.1-mini-2025-04-14). Example: --hosted-model gpt-4o-mini",
            ),
            click.option(
                "--serverless-model",
                help="Open model whose adapter a provider serves per token (default together/llama-3.1-8b-instruct, "
                "Together's serverless LoRA). Example: --serverless-model together/llama-3.1-8b-instruct",
            ),
            click.option(
                "--local-model",
                help="Self-hosted profile to fine-tune (default local/llama-3.1-8b-instruct). "
                "Example: --local-model local/llama-3.1-70b-instruct",
            ),
            click.option(
                "--small-model",
                help="Smaller model to prompt as a baseline (default: the hosted model's "
                "base). Example: --small-model gpt-4.1-mini",
            ),
            click.option(
                "--prompt-tokens",
                type=click.FloatRange(min=0),
                help="Static prompt tokens a fine-tune removes. Example: --prompt-tokens 2300",
            ),
            click.option(
                "--input-tokens",
                type=click.FloatRange(min=0),
                help="Request input tokens (default 200). Example: --input-tokens 300",
            ),
            click.option(
                "--output-tokens",
                type=click.FloatRange(min=0),
                help="Output tokens per request (default 200). Example: --output-tokens 150",
            ),
            click.option(
                "--ft-prompt-tokens",
                type=click.FloatRange(min=0),
                help="Short prompt the fine-tune still needs (default 0). Example: --ft-prompt-tokens 50",
            ),
            click.option(
                "--rag-tokens",
                type=click.FloatRange(min=0),
                help="Retrieved context RAG adds to each request, "
                "to price the RAG answer (index and retrieval not included). Example: --rag-tokens 1500",
            ),
            click.option(
                "--example-tokens",
                type=click.FloatRange(min=1),
                help="Average tokens per training example (default 500). Example: --example-tokens 800",
            ),
            click.option(
                "--cost-per-example",
                type=click.FloatRange(min=0),
                help="Data collection cost per example, "
                "USD (default: seed 004's $4, shown with the verdict at $0 and $20). "
                "Example: --cost-per-example 4",
            ),
            click.option(
                "--own-hardware",
                is_flag=True,
                default=None,
                help="Serve the local fine-tune on GPUs you already run (no rental). Example: --own-hardware",
            ),
            cache_options,
            as_of_option,
        ]
    ):
        fn = option(fn)
    return fn


def decide_from(
    given: dict[str, Any],
    origin: str,
    prices_file: Path | None,
    on: dt.date,
    *,
    cache_hit_rate: float | None,
    no_cache: bool,
) -> Any:
    """Build the answers and the economics from the options (and an answers file) and decide."""
    from pydantic import ValidationError

    from ftadvisor.advisor.decision import Answers
    from ftadvisor.advisor.economics import EconomicsInput, decide
    from ftadvisor.errors import InputError

    if "knowledge_changes" in given:
        err.print(
            "[yellow]warning:[/] --knowledge-changes is deprecated: it now means --facts-change; say how "
            "often the format or labels change with --behaviour-changes"
        )
        given.setdefault("facts_change", given.pop("knowledge_changes"))
    econ = {ECONOMICS_KEYS[k]: given.pop(k) for k in list(given) if k in ECONOMICS_KEYS}
    for k in ("labelled_examples", "requests_per_day", "behaviour_changes"):
        if k in given:
            econ["examples" if k == "labelled_examples" else k] = given[k]
    try:
        answers = Answers(**given)
        econ["caching"] = caching(cache_hit_rate, no_cache)
        inp = EconomicsInput(**econ)
    except ValidationError as exc:
        e = exc.errors()[0]
        raise InputError(f"{origin}: {'.'.join(map(str, e['loc']))}: {e['msg']}") from exc
    if inp.prompt_tokens is not None and inp.prompted_model is None:
        raise InputError("--prompt-tokens needs --base-model (the model prompted today) to price the economics")
    return decide(load(prices_file, on), answers, inp, today=on)


@click.command()
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(path_type=Path),
    help="YAML or JSON file with the answers (keys as the options, with _). Example: --answers case.yaml",
)
@advice_options
@prices_option
@json_option
@user_errors
def advise(
    answers_file: Path | None,
    prices_file: Path | None,
    as_json: bool,
    as_of: Any,
    cache_hit_rate: float | None,
    no_cache: bool,
    **flags: Any,
) -> None:
    """Recommend prompt, few-shot, RAG, a hosted or local fine-tune, or RAG + fine-tune.

    Follows the decision tree: does prompting reach the required compliance, are there 50+ good
    examples, is the behaviour stable, do the facts change; then each fine-tune option is priced (data,
    training, retraining, prompt caching on both sides, GPUs for self-hosting) and kept only if this
    organisation may create it, it fits the budget and it pays back before its model shuts down.

    \b
    Examples:
      ftadvisor advise --task-type classification --examples 300 --prompt-compliance 0.85 --requests-per-day 5000
      ftadvisor advise --answers case.yaml --base-model gpt-4o --prompt-tokens 2300 --org-history active --json
    """
    given = read_answers(answers_file) if answers_file else {}
    given.update(
        {
            k: v
            for k, v in flags.items()
            if v is not None and not (k in ("org_history", "azure_customer") and v == "unknown" and k in given)
        }
    )
    on = today(as_of)
    d = decide_from(
        given, str(answers_file or "answers"), prices_file, on, cache_hit_rate=cache_hit_rate, no_cache=no_cache
    )
    if as_json:
        print_json({"as_of": str(on), **d.model_dump(mode="json")})
        return
    print_decision(d)


def print_decision(d: Any) -> None:
    """The recommendation, its reasons, numbers, assumptions and risks (shared with ``train --backend auto``)."""
    rec = d.recommendation
    out.print(
        f"recommendation: [bold]{rec.choice}[/]"
        + (f" ({rec.model})" if rec.model else "")
        + (f": [yellow]{rec.headline}[/]" if rec.headline else "")
        + f"  [dim](as of {d.economics.as_of})[/]"
    )
    for reason in rec.reasons:
        out.print(f"  - {reason}")
    if d.bridge:
        out.print(f"bridge: {d.bridge}")
    shown = {k: v for k, v in rec.numbers.items() if v is not None}
    if shown:
        out.print(
            "numbers: " + ", ".join(f"{k} {v:,.6g}" if isinstance(v, float) else f"{k} {v}" for k, v in shown.items())
        )
    out.print("assumptions:")
    for a in rec.assumptions:
        out.print(f"  - {a}")
    if d.data_cost_sensitivity:
        out.print("data cost: " + ", ".join(f"at {k} -> {v}" for k, v in d.data_cost_sensitivity.items()))
    if rec.risks:
        out.print("risks:")
        for risk in rec.risks:
            out.print(f"  - {risk}")
