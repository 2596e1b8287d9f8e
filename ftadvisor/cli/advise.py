"""``ftadvisor advise``: prompt, few-shot, RAG or fine-tune, with reasons and numbers."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import click

from ftadvisor.cli.common import json_option, out, print_json, user_errors
from ftadvisor.cli.prices import load, prices_option

TASKS = ["format", "classification", "vocabulary", "reasoning", "capability", "knowledge", "general"]
CHANGES = ["never", "yearly", "monthly", "weekly", "daily"]


def _read_answers(path: Path) -> dict[str, Any]:
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


@click.command()
@click.option("--answers", "answers_file", type=click.Path(path_type=Path),
              help="YAML or JSON file with the answers (keys as the options, with _). Example: --answers case.yaml")
@click.option("--task-type", type=click.Choice(TASKS), help="What the model must learn. Example: --task-type format")
@click.option("--knowledge-changes", type=click.Choice(CHANGES), help="How often the facts/behaviour change. "
              "Example: --knowledge-changes monthly")
@click.option("--examples", "labelled_examples", type=click.IntRange(min=0), help="Labelled examples available. "
              "Example: --examples 300")
@click.option("--prompt-compliance", type=click.FloatRange(0, 1), help="Share of requests a good prompt gets "
              "right today. Example: --prompt-compliance 0.85")
@click.option("--required-compliance", type=click.FloatRange(0, 1), help="Share required (default 0.95). "
              "Example: --required-compliance 0.99")
@click.option("--requests-per-day", type=click.FloatRange(min=0, min_open=True), help="Volume. "
              "Example: --requests-per-day 5000")
@click.option("--budget", "setup_budget", type=click.FloatRange(min=0), help="Setup budget, USD (data + "
              "training). Example: --budget 500")
@click.option("--latency-ms", type=click.FloatRange(min=0, min_open=True), help="Latency tolerance. "
              "Example: --latency-ms 800")
@click.option("--data-may-leave/--data-must-stay", default=None, help="May training data go to a hosted "
              "provider? Example: --data-must-stay")
@click.option("--base-model", help="Model prompted today, to price the economics. Example: --base-model gpt-4o")
@click.option("--hosted-model", default="gpt-4.1-mini-2025-04-14", show_default=True,
              help="Hosted model to fine-tune. Example: --hosted-model gpt-4o-mini")
@click.option("--local-model", default="local/llama-3.1-8b-instruct", show_default=True,
              help="Self-hosted profile to fine-tune. Example: --local-model local/smollm2-135m-instruct")
@click.option("--prompt-tokens", type=click.FloatRange(min=0), help="Static prompt tokens a fine-tune removes. "
              "Example: --prompt-tokens 2300")
@click.option("--input-tokens", type=click.FloatRange(min=0), default=200, show_default=True,
              help="Request input tokens. Example: --input-tokens 300")
@click.option("--output-tokens", type=click.FloatRange(min=0), default=200, show_default=True,
              help="Output tokens per request. Example: --output-tokens 150")
@click.option("--example-tokens", type=click.FloatRange(min=1), default=500, show_default=True,
              help="Average tokens per training example. Example: --example-tokens 800")
@click.option("--cost-per-example", type=click.FloatRange(min=0), default=0.0, show_default=True,
              help="Data collection cost per example, USD. Example: --cost-per-example 4")
@prices_option
@json_option
@user_errors
def advise(answers_file: Path | None, prices_file: Path | None, as_json: bool, base_model: str | None,
           hosted_model: str, local_model: str, prompt_tokens: float | None, input_tokens: float,
           output_tokens: float, example_tokens: float, cost_per_example: float, **flags: Any) -> None:
    """Recommend prompt, few-shot, RAG, a hosted or local fine-tune, or RAG + fine-tune.

    Follows the decision tree: does prompting reach the required compliance, are there 50+ good
    examples, is the behaviour stable; then the economics (break-even before the model's shutdown),
    the budget and where the data may go decide.

    \b
    Examples:
      ftadvisor advise --task-type classification --examples 300 --prompt-compliance 0.85 --requests-per-day 5000
      ftadvisor advise --answers case.yaml --base-model gpt-4o --prompt-tokens 2300 --json
    """
    from pydantic import ValidationError

    from ftadvisor.advisor.decision import Answers
    from ftadvisor.advisor.decision import advise as run
    from ftadvisor.errors import InputError

    given = _read_answers(answers_file) if answers_file else {}
    given.update({k: v for k, v in flags.items() if v is not None})
    try:
        answers = Answers(**given)
    except ValidationError as exc:
        e = exc.errors()[0]
        raise InputError(f"{answers_file or 'answers'}: {'.'.join(map(str, e['loc']))}: {e['msg']}") from exc
    if base_model and prompt_tokens is not None:
        answers = _with_economics(answers, load(prices_file), base_model, hosted_model, local_model,
                                  prompt_tokens, input_tokens, output_tokens, example_tokens, cost_per_example)
    rec = run(answers)
    if as_json:
        print_json(rec)
        return
    out.print(f"recommendation: [bold]{rec.choice}[/]")
    for reason in rec.reasons:
        out.print(f"  - {reason}")
    shown = {k: v for k, v in rec.numbers.items() if v is not None}
    if shown:
        out.print("numbers: " + ", ".join(f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}"
                                          for k, v in shown.items()))
    if rec.risks:
        out.print("risks:")
        for risk in rec.risks:
            out.print(f"  - {risk}")


def _with_economics(a, cat, base_model: str, hosted_model: str, local_model: str, prompt_tokens: float,
                    input_tokens: float, output_tokens: float, example_tokens: float, cost_per_example: float):
    """Fill the answers' hosted and local setup costs and break-even days from the catalogue."""
    from ftadvisor.advisor.breakeven import break_even
    from ftadvisor.advisor.costs import find_model, training_estimate
    from ftadvisor.advisor.scenario import Scenario, scenario_input

    base = find_model(cat, base_model)
    s = Scenario(prompt_tokens=prompt_tokens, input_tokens=input_tokens, output_tokens=output_tokens)
    n = max(a.labelled_examples, 1)
    per_epoch = int(n * example_tokens)
    update: dict[str, Any] = {}
    for key, name in (("hosted", hosted_model), ("local", local_model)):
        entry = find_model(cat, name)
        t = training_estimate(entry, billing_tokens_per_epoch=per_epoch, n_examples=n,
                              cost_per_example=cost_per_example)
        r = break_even(scenario_input(base, entry, s, train_cost=t.training_usd, data_cost=t.data_usd,
                                      requests_per_day=a.requests_per_day))
        update[f"{key}_setup_cost"] = t.total_usd
        update[f"{key}_break_even_days"] = r.break_even_days
        if key == "hosted":
            update["hosted_lifetime_days"] = r.lifetime_days
            update["hosted_accepts_jobs"] = entry.accepts_jobs(dt.date.today())
    return a.model_copy(update=update)
