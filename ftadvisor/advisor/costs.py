"""Per-request and training costs from the price catalogue, and the prompt overhead a fine-tune removes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel

from ftadvisor.advisor.breakeven import DAYS_PER_MONTH
from ftadvisor.advisor.caching import cached_prefix_tokens
from ftadvisor.errors import InputError
from ftadvisor.pricing.catalogue import Catalogue, ModelEntry
from ftadvisor.pricing.training import default_epochs
from ftadvisor.tokens import TokenCounter, encoding_name_for_model, is_fine_tune

PriceKind = Literal["base", "ft"]

# Data collection is "often the largest expense" (seed 004): its worked example pays a skilled annotator
# $4 per example, and its cost table gives $0-2,000 per 100 examples, i.e. $0-20 per example. When the user
# gives no figure we assume $4 and show the verdict across the range.
DATA_COST_PER_EXAMPLE = 4.0
DATA_COST_RANGE = (0.0, 4.0, 20.0)
DATA_COST_SOURCE = "seed 004: $4/example (skilled annotator), range $0-20/example"


def find_model(catalogue: Catalogue, model: str) -> ModelEntry:
    """The catalogue entry of ``model``, or one clear error naming how to add it."""
    entry = catalogue.find(model)
    if entry is None:
        raise InputError(
            f"model {model!r} is not in the price catalogue; see `ftadvisor prices list`, or add it with --prices FILE"
        )
    return entry


def _price(entry: ModelEntry, kind: PriceKind, part: str) -> float:
    value = getattr(entry, f"{kind}_{part}")
    if value is None:
        what = "fine-tuned" if kind == "ft" else "base"
        raise InputError(
            f"the catalogue has no {what} {part.replace('_', ' ')} price for {entry.id}; add it with --prices FILE"
        )
    return float(value)


def request_cost(
    entry: ModelEntry, kind: PriceKind, input_tokens: float, output_tokens: float, cached_tokens: float = 0
) -> float:
    """USD of one request. ``cached_tokens`` is the part of ``input_tokens`` billed at the cached price."""
    if cached_tokens > input_tokens:
        raise InputError("cached tokens cannot exceed input tokens")
    cost = (input_tokens - cached_tokens) * _price(entry, kind, "input")
    if cached_tokens:
        cost += cached_tokens * _price(entry, kind, "cached_input")
    return (cost + output_tokens * _price(entry, kind, "output")) / 1_000_000


def cacheable_tokens(entry: ModelEntry, kind: PriceKind, prefix_tokens: float) -> int:
    """Tokens of a static prefix billed at the cached price on a cache hit (0 for models with no cached price)."""
    return 0 if getattr(entry, f"{kind}_cached_input") is None else cached_prefix_tokens(prefix_tokens)


def expected_request_cost(
    entry: ModelEntry, kind: PriceKind, prefix_tokens: float, other_input: float, output_tokens: float, hit_rate: float
) -> float:
    """Mean USD per request when a share ``hit_rate`` of requests finds the static prefix cached (only the
    cacheable part of it, see ``caching``); models without a cached price are billed in full."""
    full = request_cost(entry, kind, prefix_tokens + other_input, output_tokens)
    cached = cacheable_tokens(entry, kind, prefix_tokens)
    if not cached or not hit_rate:
        return full
    hit = request_cost(entry, kind, prefix_tokens + other_input, output_tokens, cached_tokens=cached)
    return (1 - hit_rate) * full + hit_rate * hit


class Overhead(BaseModel):
    model: str
    encoding: str
    tokens: int
    n_messages: int
    price_per_1m: float
    cached_price_per_1m: float | None
    cacheable_tokens: int  # billed at the cached price on a cache hit
    cache_hit_rate: float
    usd_per_request_uncached: float
    usd_per_request: float  # expected, with caching
    requests_per_day: float | None
    usd_per_month: float | None


def read_few_shot(path: Path) -> list[dict[str, Any]]:
    """Few-shot messages from a JSON array of messages, a {"messages": [...]} object, or chat JSONL."""
    from ftadvisor.userfiles import read_text

    text = read_text(path, "few-shot file")
    try:
        data = json.loads(text)
        items = data if isinstance(data, list) else [data]
        where = [f"{path}"] * len(items)
    except json.JSONDecodeError:
        items, where = [], []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append(json.loads(line))
                except json.JSONDecodeError as exc:
                    raise InputError(f"{path}:{n}: invalid_json: column {exc.colno}: {exc.msg}") from exc
                where.append(f"{path}:{n}")
    messages: list[dict[str, Any]] = []
    for item, at in zip(items, where, strict=True):
        chunk = item.get("messages") if isinstance(item, dict) and "messages" in item else [item]
        if not isinstance(chunk, list) or not all(isinstance(m, dict) and "role" in m for m in chunk):
            raise InputError(
                f"{at}: expected messages with a 'role' (a JSON array, {{\"messages\": [...]}}, or chat JSONL)"
            )
        messages.extend(m for m in chunk if m.get("role") not in ("system", "developer"))
    return messages


def prompt_overhead(
    entry: ModelEntry,
    *,
    system_prompt: str | None,
    few_shot: list[dict[str, Any]],
    model: str | None = None,
    encoding: str | None = None,
    cache_hit_rate: float = 0.0,
    requests_per_day: float | None = None,
) -> Overhead:
    """The tokens a fine-tune removes from every request (system prompt and few-shot turns, chat framing
    included) and what they cost on the prompted model, with the share ``cache_hit_rate`` of requests
    billing the cacheable part of them at the cached-input price."""
    messages = ([{"role": "system", "content": system_prompt}] if system_prompt else []) + few_shot
    if not messages:
        raise InputError("nothing to measure: give a system prompt and/or few-shot examples")
    encoding = encoding or entry.encoding or encoding_name_for_model(model or entry.id)
    counter = TokenCounter(encoding)
    tokens = sum(counter.message(m) for m in messages)
    kind: PriceKind = "ft" if model is not None and is_fine_tune(model) else "base"  # an ft: model's own rates
    per_request = expected_request_cost(entry, kind, tokens, 0, 0, cache_hit_rate)
    return Overhead(
        model=model or entry.id,
        encoding=encoding,
        tokens=tokens,
        n_messages=len(messages),
        price_per_1m=_price(entry, kind, "input"),
        cached_price_per_1m=getattr(entry, f"{kind}_cached_input"),
        cacheable_tokens=cacheable_tokens(entry, kind, tokens),
        cache_hit_rate=cache_hit_rate,
        usd_per_request_uncached=request_cost(entry, kind, tokens, 0),
        usd_per_request=per_request,
        requests_per_day=requests_per_day,
        usd_per_month=None if requests_per_day is None else per_request * requests_per_day * DAYS_PER_MONTH,
    )


class TrainingEstimate(BaseModel):
    model: str
    basis: str  # "tokens", "hours" or "gpu"
    n_examples: int | None
    n_epochs: int | None
    billed_tokens: int | None
    hours: float | None
    training_usd: float
    data_usd: float
    total_usd: float
    notes: list[str]


def training_estimate(
    entry: ModelEntry,
    *,
    billing_tokens_per_epoch: int | None = None,
    n_examples: int | None = None,
    epochs: int | None = None,
    hours: float | None = None,
    cost_per_example: float = 0.0,
    gpu_per_hour: float | None = None,
    tokens_per_second: float | None = None,
) -> TrainingEstimate:
    """Training cost on ``entry``: per token x epochs (SFT/DPO), per hour (RFT), or GPU-hours (self-hosted:
    the training loop on all its GPUs plus the profile's rental overhead for download, setup and evaluation).

    Data collection (examples x cost per example) is added, as the seeds insist.
    """
    notes: list[str] = []
    if hours is not None and entry.training_per_hour is None:
        raise InputError(
            f"--hours applies to models billed per hour of training (RFT); {entry.id} is billed "
            + ("in GPU-hours from its throughput" if entry.self_hosted else "per token")
        )
    n_epochs = epochs or (default_epochs(n_examples) if n_examples else None)
    limit = entry.max_example_tokens
    if billing_tokens_per_epoch is not None and n_examples and limit and billing_tokens_per_epoch > n_examples * limit:
        notes.append(
            f"{billing_tokens_per_epoch:,} tokens over {n_examples:,} examples exceed {entry.id}'s {limit:,}-token "
            f"limit per example, which the provider truncates to: at most {n_examples * limit:,} tokens an epoch"
        )
        billing_tokens_per_epoch = n_examples * limit
    billed = billing_tokens_per_epoch * n_epochs if billing_tokens_per_epoch is not None and n_epochs else None
    if entry.self_hosted:
        rate = gpu_per_hour if gpu_per_hour is not None else entry.gpu_per_hour
        tps = tokens_per_second or entry.training_tokens_per_second
        if billed is None or not tps or rate is None:
            raise InputError(
                f"{entry.id} is self-hosted: give the dataset (or tokens), a training throughput "
                "and a GPU price per hour"
            )
        loop = billed / tps / 3600
        hours = loop + entry.training_overhead_hours
        gpus = entry.training_gpus
        training, basis = hours * rate * gpus, "gpu"
        notes.append(
            f"{billed:,} tokens at {tps:,.0f} tokens/s = {loop:.2f} h of training"
            + (
                f" + {entry.training_overhead_hours:g} h setup, download and evaluation"
                if entry.training_overhead_hours
                else ""
            )
            + f", on {gpus} GPU{'s' if gpus > 1 else ''} at ${rate:g}/GPU-hour"
        )
    elif entry.training_per_hour is not None:
        if hours is None:
            raise InputError(f"{entry.id} trains by the hour (${entry.training_per_hour:g}/h, RFT): give --hours")
        training, basis = hours * entry.training_per_hour, "hours"
        notes.append("grader-model tokens are billed separately")
    else:
        if entry.training_per_1m is None:
            raise InputError(f"the catalogue has no training price for {entry.id}")
        if billed is None:
            raise InputError("give a dataset, or --tokens and --examples, to price training per token")
        training, basis = billed * entry.training_per_1m / 1_000_000, "tokens"
    data = (n_examples or 0) * cost_per_example
    if cost_per_example and not n_examples:
        raise InputError("--cost-per-example needs the number of examples (a dataset or --examples)")
    return TrainingEstimate(
        model=entry.id,
        basis=basis,
        n_examples=n_examples,
        n_epochs=n_epochs,
        billed_tokens=billed,
        hours=hours,
        training_usd=training,
        data_usd=data,
        total_usd=training + data,
        notes=notes,
    )
