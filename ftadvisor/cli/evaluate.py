"""``ftadvisor eval``: base vs fine-tuned on held-out data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ftadvisor.cli.common import byte_progress, json_option, open_ledger, out, print_json, user_errors


@click.group("eval")
def eval_() -> None:
    """Evaluate models on held-out data (the last assistant turn of each example is the reference)."""


def _pairs(models: tuple[str, ...], default: str) -> list[tuple[Any, str]]:
    """(backend, model) for each ``[BACKEND:]model`` (e.g. ``together:meta-llama/...``); one backend object per
    kind. ``ft:`` names are OpenAI's model syntax, not a backend prefix."""
    from ftadvisor.backends import get_backend, names

    backends: dict[str, Any] = {}
    pairs = []
    known = names()
    for m in models:
        name, _, rest = m.partition(":")
        which, model = (name, rest) if name in known and rest else (default, m)
        if which not in backends:
            backends[which] = get_backend(which)
        pairs.append((backends[which], model))
    return pairs


model_option = click.option(
    "--model",
    "-m",
    "models",
    multiple=True,
    required=True,
    help="Model to evaluate; repeat to compare (the first is the baseline); prefix a backend (local:, openai:, "
    "azure:, together:) to pick its backend. "
    "Example: -m gpt-4o-mini -m ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf",
)
backend_option = click.option(
    "--backend",
    default="openai",
    show_default=True,
    metavar="NAME",
    help="Backend for models without a prefix. Example: --backend local",
)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1%}"


@eval_.command("run")
@model_option
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    required=True,
    help="Held-out chat JSONL (never used in training). Example: --data splits/test.jsonl",
)
@backend_option
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=4,
    show_default=True,
    help="Parallel requests per hosted model. Example: --concurrency 8",
)
@click.option("--label-field", help="JSON field of the answer that holds the class. Example: --label-field category")
@click.option("--require-json", is_flag=True, help="Answers must be JSON. Example: --require-json")
@click.option(
    "--json-schema",
    type=click.Path(path_type=Path),
    help="Answers must satisfy this JSON schema. Example: --json-schema answer.schema.json",
)
@click.option(
    "--require", "regex", multiple=True, help="Regex every answer must match; repeatable. Example: --require '^1\\. '"
)
@click.option(
    "--contains",
    multiple=True,
    help="Text every answer must contain; repeatable. "
    "Example: --contains 'This response does not constitute legal advice.'",
)
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=512,
    show_default=True,
    help="Longest answer. Example: --max-tokens 200",
)
@click.option("--no-log", is_flag=True, help="Do not record the run in the ledger. Example: --no-log")
@json_option
@user_errors
def run(
    models: tuple[str, ...],
    data: Path,
    backend: str,
    concurrency: int,
    label_field: str | None,
    require_json: bool,
    json_schema: Path | None,
    regex: tuple[str, ...],
    contains: tuple[str, ...],
    max_tokens: int,
    no_log: bool,
    as_json: bool,
) -> None:
    """Run each model on the held-out prompts and score format, accuracy/F1, fields, ROUGE-L, latency and cost.

    \b
    Examples:
      ftadvisor eval run -m gpt-4o-mini -m ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf --data test.jsonl \\
          --label-field category --require-json
      ftadvisor eval run --backend local -m smollm2-135m-instruct -m ft:smollm2-135m-instruct:t:1a2b3c4d \
          --data test.jsonl
    """
    from ftadvisor.evaluation.metrics import FormatRules
    from ftadvisor.evaluation.runner import run_eval
    from ftadvisor.userfiles import read_json

    schema = read_json(json_schema, "JSON schema") if json_schema is not None else None
    rules = FormatRules(require_json=require_json, json_schema=schema, regex=list(regex), contains=list(contains))
    from ftadvisor.evaluation.runner import load_cases

    load_cases(data)  # a bad data file is reported before any backend is set up
    pairs = _pairs(models, backend)
    with byte_progress("evaluating", enabled=not as_json) as progress:
        result = run_eval(
            pairs,
            data,
            rules=rules,
            label_field=label_field,
            max_tokens=max_tokens,
            concurrency=concurrency,
            progress=progress,
        )
    if not no_log and (db := open_ledger()) is not None:
        db.save_eval(result)
    if as_json:
        print_json(result)
        return
    from rich.table import Table

    t = Table(
        "model",
        "n",
        "errors",
        "format",
        "exact",
        "accuracy",
        "macro F1",
        "fields",
        "ROUGE-L",
        "latency",
        "tokens in/out",
        "$/request",
        title=f"{result.id} on {data}",
    )
    for s in result.models:
        t.add_row(
            s.model,
            str(s.n),
            str(s.n_errors),
            _pct(s.format_compliance),
            _pct(s.exact_match),
            _pct(s.accuracy),
            "-" if s.macro_f1 is None else f"{s.macro_f1:.3f}",
            _pct(s.field_accuracy),
            f"{s.rouge_l:.3f}",
            f"{s.latency_mean_s:.2f} s",
            f"{s.prompt_tokens_mean:.0f}/{s.completion_tokens_mean:.0f}",
            "-" if s.cost_per_request_usd is None else f"{s.cost_per_request_usd:.6f}",
        )
    out.print(t)
    out.print(f"recorded as {result.id}" if not no_log else "not recorded (--no-log)")


@eval_.command("regression")
@model_option
@backend_option
@click.option(
    "--extra",
    type=click.Path(path_type=Path),
    help='Your own prompts, JSONL of {"prompt", "expect" regex}. Example: --extra my-general.jsonl',
)
@click.option("--no-log", is_flag=True, help="Do not record the run in the ledger. Example: --no-log")
@json_option
@user_errors
def regression(models: tuple[str, ...], backend: str, extra: Path | None, no_log: bool, as_json: bool) -> None:
    """General prompts (arithmetic, common sense, chat, formatting): did the fine-tune forget anything?

    Exit 1 when a model drops more than 5 points below the first (base) model.

    \b
    Example:
      ftadvisor eval regression -m gpt-4o-mini -m ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf
    """
    import sys

    from ftadvisor.evaluation.regression import load_prompts, run_regression

    results = run_regression(_pairs(models, backend), load_prompts(extra))
    if not no_log and (db := open_ledger()) is not None:
        db.record("regression", {"models": [r.model_dump() for r in results]})
    if as_json:
        print_json([r.model_dump() for r in results])
    else:
        for r in results:
            change = "" if r.change_points is None else f" ({r.change_points:+.1f} points vs {results[0].model})"
            flag = " [red]DROP[/]" if r.flagged else ""
            kinds = ", ".join(f"{k} {v:.0%}" for k, v in r.by_kind.items())
            out.print(f"{r.model}: {r.pass_rate:.1%} passed{change}{flag}  ({kinds})")
    sys.exit(1 if any(r.flagged for r in results) else 0)


@eval_.command("judge")
@click.option(
    "--run",
    "eval_id",
    help="Evaluation run whose answers to judge (default: the last). Example: --run eval-1a2b3c4d5e6f",
)
@click.option(
    "--judge-model",
    required=True,
    help="Judge model; prefix local: or openai: to pick its backend. Example: --judge-model gpt-4.1-2025-04-14",
)
@click.option(
    "--rubric",
    type=click.Path(path_type=Path),
    help="Rubric text (default: a 1-5 scale for correctness and format). Example: --rubric rubric.txt",
)
@click.option(
    "--judge-backend",
    default="openai",
    metavar="NAME",
    show_default=True,
    help="Backend of the judge when not prefixed. Example: --judge-backend local",
)
@click.option("--no-log", is_flag=True, help="Do not record the verdicts in the ledger. Example: --no-log")
@json_option
@user_errors
def judge(
    eval_id: str | None, judge_model: str, rubric: Path | None, judge_backend: str, no_log: bool, as_json: bool
) -> None:
    """Judge an evaluation run: a 1-5 rubric score per answer, and base vs fine-tuned pairwise with the order
    swapped (disagreement counts as a tie; win rate = (wins + ties/2) / n).

    \b
    Example:
      ftadvisor eval judge --judge-model gpt-4.1-2025-04-14 --rubric rubric.txt
    """
    from ftadvisor.errors import InputError
    from ftadvisor.evaluation.judge import judge_run, read_rubric
    from ftadvisor.evaluation.runner import latest_run_id
    from ftadvisor.ledger import Ledger

    db = Ledger()
    eval_id = eval_id or latest_run_id(db)
    run = db.eval_run(eval_id)
    if run is None:
        raise InputError(f"no evaluation run {eval_id!r} in the ledger")
    result = judge_run({**run, "id": eval_id}, _pairs((judge_model,), judge_backend)[0], read_rubric(rubric))
    pair = result["pairwise"]
    if not no_log:
        db.record("judgement", result, ref=eval_id)
    if as_json:
        print_json(result)
        return
    for m, v in result["mean_score"].items():
        out.print(f"{m}: mean rubric score {'-' if v is None else f'{v:.2f}'} / 5")
    if pair:
        out.print(
            f"{pair['candidate']} vs {pair['baseline']}: {pair['wins']} wins, {pair['ties']} ties, "
            f"{pair['losses']} losses; win rate {pair['win_rate']:.1%}, both orders agreed on "
            f"{pair['consistency']:.0%} of pairs"
            + (
                f"; {pair['unparsed']} pair(s) left out: the judge's verdict could not be read"
                if pair.get("unparsed")
                else ""
            )
        )
