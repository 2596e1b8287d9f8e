"""Run models (either backend, base or fine-tuned) on held-out chat data and score every answer.

The last assistant turn of each example is the reference; everything before it is the prompt."""

from __future__ import annotations

import datetime as dt
import statistics
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ftadvisor.backends.base import Backend, BatchCompletes, Usage
from ftadvisor.data.jsonl import iter_objects
from ftadvisor.data.quality import answer_label, label_balance
from ftadvisor.data.text import split_example
from ftadvisor.errors import FtAdvisorError, InputError
from ftadvisor.evaluation.metrics import (
    ClassReport,
    FormatRules,
    classification,
    field_accuracy,
    format_failures,
    normalise,
    rouge_l,
)

LOCAL_BATCH = 8


class ExampleResult(BaseModel):
    model: str
    line: int
    output: str
    reference: str
    error: str | None = None
    exact: bool
    format_failures: list[str]
    compliant: bool | None
    expected_label: str | None
    label: str | None
    field_accuracy: float | None
    rouge_l: float
    latency_s: float
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int
    cost_usd: float | None


class ModelSummary(BaseModel):
    model: str
    backend: str
    n: int
    n_errors: int
    exact_match: float
    format_compliance: float | None
    accuracy: float | None
    macro_f1: float | None
    per_class: dict[str, ClassReport]
    field_accuracy: float | None
    rouge_l: float
    latency_mean_s: float
    prompt_tokens_mean: float
    completion_tokens_mean: float
    cost_per_request_usd: float | None
    total_cost_usd: float | None


class EvalRun(BaseModel):
    id: str
    created_at: str
    data: str
    rules: FormatRules
    label_field: str | None
    labels: list[str]
    models: list[ModelSummary]
    examples: list[ExampleResult]


def load_cases(path: str | Path) -> list[tuple[int, list[dict[str, Any]], str]]:
    """(line, prompt messages, reference answer) of every example that has a final assistant turn."""
    cases = []
    for line, obj in iter_objects(path):
        prompt, answer = split_example(obj, "sft")
        if answer is not None and prompt:
            cases.append((line, [{"role": m["role"], "content": m.get("content") or ""} for m in prompt], answer))
    if not cases:
        raise InputError(f"{path}: no example with a prompt and a final assistant answer to compare with")
    return cases


def _cost(backend: Backend, model: str, usage: Usage) -> float | None:
    """What one answer cost at the backend's catalogue prices (None on own hardware or for unknown models)."""
    from ftadvisor.advisor.costs import request_cost
    from ftadvisor.pricing import load_catalogue
    from ftadvisor.tokens import base_model

    entry = load_catalogue().find(model, provider=backend.provider)
    if entry is None or entry.self_hosted:
        return None
    try:
        return request_cost(
            entry,
            "ft" if base_model(model) != model else "base",
            usage.prompt_tokens,
            usage.completion_tokens,
            cached_tokens=usage.cached_tokens,
        )
    except FtAdvisorError:
        return None


def score(
    model: str,
    line: int,
    output: str,
    reference: str,
    *,
    rules: FormatRules,
    label_field: str | None,
    classify: bool,
    latency: float = 0.0,
    usage: Any = None,
    error: str | None = None,
    cost: float | None = None,
) -> ExampleResult:
    """Every metric of one answer against its reference."""
    failures = format_failures(output, rules) if rules.any() else []
    return ExampleResult(
        model=model,
        line=line,
        output=output,
        reference=reference,
        error=error,
        exact=normalise(output) == normalise(reference),
        format_failures=failures,
        compliant=(not failures and error is None) if rules.any() else None,
        expected_label=answer_label(reference, label_field) if classify else None,
        label=answer_label(output, label_field) if classify else None,
        field_accuracy=field_accuracy(output, reference),
        rouge_l=rouge_l(output, reference),
        latency_s=latency,
        prompt_tokens=usage.prompt_tokens if usage else 0,
        cached_tokens=usage.cached_tokens if usage else 0,
        completion_tokens=usage.completion_tokens if usage else 0,
        cost_usd=cost,
    )


def summarise(model: str, backend: str, rows: list[ExampleResult], classify: bool) -> ModelSummary:
    n = len(rows)
    acc = macro = None
    per: dict[str, ClassReport] = {}
    if classify:
        expected = [r.expected_label or "" for r in rows]
        acc, per, macro = classification([r.label for r in rows], expected)
    fields = [r.field_accuracy for r in rows if r.field_accuracy is not None]
    costs = [r.cost_usd for r in rows if r.cost_usd is not None]
    compliant = [r.compliant for r in rows if r.compliant is not None]
    return ModelSummary(
        model=model,
        backend=backend,
        n=n,
        n_errors=sum(1 for r in rows if r.error),
        exact_match=sum(r.exact for r in rows) / n,
        format_compliance=sum(compliant) / n if compliant else None,
        accuracy=acc,
        macro_f1=macro,
        per_class=per,
        field_accuracy=sum(fields) / len(fields) if fields else None,
        rouge_l=sum(r.rouge_l for r in rows) / n,
        latency_mean_s=statistics.fmean(r.latency_s for r in rows),
        prompt_tokens_mean=statistics.fmean(r.prompt_tokens for r in rows),
        completion_tokens_mean=statistics.fmean(r.completion_tokens for r in rows),
        cost_per_request_usd=statistics.fmean(costs) if len(costs) == n else None,
        total_cost_usd=sum(costs) if len(costs) == n else None,
    )


def run_eval(
    models: list[tuple[Backend, str]],
    data: str | Path,
    *,
    rules: FormatRules | None = None,
    label_field: str | None = None,
    max_tokens: int = 512,
    concurrency: int = 4,
    progress: Callable[[int, int], None] | None = None,
) -> EvalRun:
    """Ask every (backend, model) every prompt of ``data`` at temperature 0 and score the answers."""
    rules = rules or FormatRules()
    cases = load_cases(data)
    references = [answer_label(ref, label_field) for _, _, ref in cases]
    classify = label_field is not None or label_balance(references, "answer") is not None
    results: list[ExampleResult] = []
    summaries = []
    total, done = len(cases) * len(models), 0
    for backend, model in models:

        def ask(
            case: tuple[int, list[dict[str, Any]], str], backend: Backend = backend, model: str = model
        ) -> ExampleResult:
            line, prompt, reference = case
            start = time.perf_counter()
            try:
                c = backend.complete(model, prompt, max_tokens=max_tokens, temperature=0)
            except FtAdvisorError as exc:
                return score(
                    model,
                    line,
                    "",
                    reference,
                    rules=rules,
                    label_field=label_field,
                    classify=classify,
                    latency=time.perf_counter() - start,
                    error=str(exc),
                )
            return score(
                model,
                line,
                c.text,
                reference,
                rules=rules,
                label_field=label_field,
                classify=classify,
                latency=c.latency_s,
                usage=c.usage,
                cost=_cost(backend, model, c.usage),
            )

        rows: list[ExampleResult] = []
        if isinstance(backend, BatchCompletes):  # a local model answers in batches, one model in memory
            for start in range(0, len(cases), LOCAL_BATCH):
                chunk = cases[start : start + LOCAL_BATCH]
                try:
                    answers = backend.complete_many(
                        model, [prompt for _, prompt, _ in chunk], max_tokens=max_tokens, temperature=0
                    )
                except FtAdvisorError as exc:
                    rows += [
                        score(
                            model,
                            line,
                            "",
                            ref,
                            rules=rules,
                            label_field=label_field,
                            classify=classify,
                            error=str(exc),
                        )
                        for line, _, ref in chunk
                    ]
                else:
                    rows += [
                        score(
                            model,
                            line,
                            c.text,
                            ref,
                            rules=rules,
                            label_field=label_field,
                            classify=classify,
                            latency=c.latency_s,
                            usage=c.usage,
                            cost=None,
                        )
                        for (line, _, ref), c in zip(chunk, answers, strict=True)
                    ]
                done += len(chunk)
                if progress:
                    progress(done, total)
        else:
            with ThreadPoolExecutor(max(1, concurrency)) as pool:
                for row in pool.map(ask, cases):
                    rows.append(row)
                    done += 1
                    if progress:
                        progress(done, total)
        results.extend(rows)
        summaries.append(summarise(model, backend.name, rows, classify))
    labels = sorted({r for r in references if r is not None}) if classify else []
    return EvalRun(
        id="eval-" + uuid.uuid4().hex[:12],
        created_at=dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        data=str(data),
        rules=rules,
        label_field=label_field,
        labels=labels,
        models=summaries,
        examples=results,
    )


def latest_run_id(db: Any) -> str:
    """The newest evaluation run in the ledger."""
    runs = db.eval_runs(1)
    if not runs:
        raise InputError("the ledger holds no evaluation run yet: run `ftadvisor eval run` first")
    return str(runs[0]["id"])


def load_run(db: Any, run_id: str | None = None) -> EvalRun:
    """An evaluation run from the ledger (the newest when ``run_id`` is None), typed again."""
    run_id = run_id or latest_run_id(db)
    data = db.eval_run(run_id)
    if data is None:
        raise InputError(f"no evaluation run {run_id!r} in the ledger (see `ftadvisor ledger list`)")
    examples = [
        ExampleResult(model=e["model"], line=e["line"], output=e["output"], reference=e["reference"], **e["metrics"])
        for e in data.pop("examples")
    ]
    return EvalRun(**data, examples=examples)
