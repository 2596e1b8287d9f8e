"""``ftadvisor cost``: prompt overhead, training cost and break-even."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ftadvisor.cli.common import err, json_option, log_estimate, no_log_option, out, print_json, user_errors
from ftadvisor.cli.options import (
    as_of_option,
    azure_customer_option,
    cache_options,
    caching,
    org_history_option,
    today,
)
from ftadvisor.cli.prices import load, prices_option


@click.group()
def cost() -> None:
    """What prompting costs, what training costs, and when a fine-tune pays back."""


def _overhead(
    cat, model: str, system_prompt: Path | None, few_shot: Path | None, hit_rate: float, requests_per_day: float | None
):
    from ftadvisor.advisor.costs import find_model, prompt_overhead, read_few_shot
    from ftadvisor.userfiles import read_text

    return prompt_overhead(
        find_model(cat, model),
        model=model,
        cache_hit_rate=hit_rate,
        requests_per_day=requests_per_day,
        system_prompt=read_text(system_prompt, "system prompt file") if system_prompt else None,
        few_shot=read_few_shot(few_shot) if few_shot else [],
    )


def _base_flags(entry, on) -> dict[str, bool]:
    """Mark a prompted (base) model that no longer answers; warn on stderr."""
    retired = entry.base_is_retired(on)
    if retired:
        err.print(
            f"[yellow]warning:[/] {entry.id} was shut down on {entry.base_shutdown or entry.shutdown}: these "
            "prices are history, the model answers no requests"
        )
    return {"retired": retired}


def _ft_flags(entry, cat, on, org_history: Any, customer: Any) -> dict[str, object]:
    """Mark a model to fine-tune that is retired, past its job cut-off or closed to this organisation."""
    from ftadvisor.advisor.availability import availability

    if entry.self_hosted:
        return {"retired": False, "past_job_cutoff": False, "can_create_job": True}
    av = availability(entry, cat, today=on, org_history=org_history, customer=customer)
    if (w := av.warning()) is not None:
        err.print(f"[yellow]warning:[/] {w}")
    return {"retired": av.retired, "past_job_cutoff": av.past_job_cutoff, "can_create_job": av.can_create_job}


@cost.command()
@click.option(
    "--system-prompt",
    type=click.Path(path_type=Path),
    help="File holding the system prompt a fine-tune would make unnecessary. Example: --system-prompt prompt.txt",
)
@click.option(
    "--few-shot",
    type=click.Path(path_type=Path),
    help="Few-shot examples sent with every request "
    "(chat JSONL or a JSON messages array). Example: --few-shot examples.jsonl",
)
@click.option("--model", "-m", required=True, help="The model you prompt today. Example: --model gpt-4o")
@click.option(
    "--requests-per-day",
    type=click.FloatRange(min=0, min_open=True),
    help="Volume, for a monthly figure and the cache hit rate. Example: --requests-per-day 1000",
)
@cache_options
@as_of_option
@prices_option
@no_log_option
@json_option
@user_errors
def overhead(
    system_prompt: Path | None,
    few_shot: Path | None,
    model: str,
    requests_per_day: float | None,
    cache_hit_rate: float | None,
    no_cache: bool,
    as_of,
    prices_file: Path | None,
    no_log: bool,
    as_json: bool,
) -> None:
    """Tokens a fine-tune removes from every request, and what they cost (with prompt caching).

    \b
    Example:
      ftadvisor cost overhead --system-prompt prompt.txt --few-shot shots.jsonl --model gpt-4o --requests-per-day 1000
    """
    from ftadvisor.advisor.costs import find_model

    on = today(as_of)
    cache = caching(cache_hit_rate, no_cache)
    cat = load(prices_file, on)
    o = _overhead(cat, model, system_prompt, few_shot, cache.rate(requests_per_day), requests_per_day)
    data = {
        **o.model_dump(mode="json"),
        "as_of": str(on),
        "caching": cache.describe(requests_per_day),
        **_base_flags(find_model(cat, model), on),
    }
    log_estimate("overhead_estimate", data, no_log)
    if as_json:
        print_json(data)
        return
    out.print(f"{o.tokens:,} tokens per request ({o.n_messages} messages, {o.encoding}, chat framing included)")
    out.print(
        f"${o.usd_per_request_uncached:.6f} per request uncached, at ${o.price_per_1m:g} per 1M input tokens on "
        f"{o.model}"
    )
    if o.cacheable_tokens and o.cache_hit_rate:
        out.print(
            f"${o.usd_per_request:.6f} per request with caching: {o.cacheable_tokens:,} tokens at "
            f"${o.cached_price_per_1m:g} per 1M on the {o.cache_hit_rate:.0%} of requests that hit"
        )
    elif cache.enabled and not o.cacheable_tokens:
        out.print("not cacheable: OpenAI caches only prompts of 1,024 tokens or more")
    if o.usd_per_month is not None:
        out.print(f"${o.usd_per_month:,.2f} per month at {o.requests_per_day:,.0f} requests/day")
    out.print(f"[dim]{data['caching']}[/]")


def _dataset_tokens(path: Path, model: str) -> tuple[int, int]:
    """(billing tokens per epoch, examples) of a dataset, counted for ``model`` (OpenAI tokenizers only)."""
    from ftadvisor.data.stats import dataset_stats
    from ftadvisor.errors import InputError

    s = dataset_stats(path, model=model)
    if s.format_errors:
        raise InputError(f"{path}: has format errors ({', '.join(s.format_errors)}); run `ftadvisor data validate`")
    return s.billing_tokens_per_epoch, s.n_examples


@cost.command()
@click.argument("dataset", required=False, type=click.Path(path_type=Path))
@click.option("--model", "-m", required=True, help="Model to train. Example: --model gpt-4.1-mini-2025-04-14")
@click.option(
    "--tokens",
    type=click.IntRange(min=1),
    help="Training tokens per epoch, instead of a dataset. Example: --tokens 250000",
)
@click.option(
    "--examples", type=click.IntRange(min=1), help="Number of examples, instead of a dataset. Example: --examples 500"
)
@click.option(
    "--epochs", type=click.IntRange(1, 50), help="Epochs (default: OpenAI's auto heuristic). Example: --epochs 3"
)
@click.option(
    "--hours",
    type=click.FloatRange(min=0),
    help="Training hours, for models billed by the hour (RFT). Example: --hours 5",
)
@click.option(
    "--cost-per-example",
    type=click.FloatRange(min=0),
    help="Data collection cost per example, USD (default: seed 004's $4, stated). Example: --cost-per-example 4",
)
@click.option(
    "--gpu-per-hour", type=click.FloatRange(min=0), help="Self-hosted: GPU price per hour. Example: --gpu-per-hour 1.2"
)
@click.option(
    "--tokens-per-second",
    type=click.FloatRange(min=0, min_open=True),
    help="Self-hosted: training throughput. Example: --tokens-per-second 3000",
)
@org_history_option
@azure_customer_option
@as_of_option
@prices_option
@no_log_option
@json_option
@user_errors
def training(
    dataset: Path | None,
    model: str,
    tokens: int | None,
    examples: int | None,
    epochs: int | None,
    hours: float | None,
    cost_per_example: float | None,
    gpu_per_hour: float | None,
    tokens_per_second: float | None,
    org_history: str,
    azure_customer: str,
    as_of,
    prices_file: Path | None,
    no_log: bool,
    as_json: bool,
) -> None:
    """Training cost: epochs x billed tokens x price (or hours, or GPU-hours), plus data collection.

    \b
    Examples:
      ftadvisor cost training train.jsonl --model gpt-4o-mini --cost-per-example 4
      ftadvisor cost training --tokens 400000 --examples 500 --model local/llama-3.1-8b-instruct
    """
    from ftadvisor.advisor.costs import DATA_COST_PER_EXAMPLE, DATA_COST_SOURCE, find_model, training_estimate

    on = today(as_of)
    cat = load(prices_file, on)
    entry = find_model(cat, model)
    if dataset is not None:
        if tokens or examples:
            raise click.UsageError("give a dataset or --tokens/--examples, not both")
        from ftadvisor.backends.base import ESTIMATE_MODEL

        count_model = model if not entry.self_hosted else ESTIMATE_MODEL
        tokens, examples = _dataset_tokens(dataset, count_model)
    flags = _ft_flags(entry, cat, on, org_history, azure_customer)
    assumed = cost_per_example is None and examples is not None
    per_example = DATA_COST_PER_EXAMPLE if assumed else (cost_per_example or 0.0)
    t = training_estimate(
        entry,
        billing_tokens_per_epoch=tokens,
        n_examples=examples,
        epochs=epochs,
        hours=hours,
        cost_per_example=per_example,
        gpu_per_hour=gpu_per_hour,
        tokens_per_second=tokens_per_second,
    )
    data = {
        **t.model_dump(mode="json"),
        "as_of": str(on),
        **flags,
        "cost_per_example": per_example,
        "data_cost_assumed": assumed,
    }
    log_estimate("training_estimate", data, no_log)
    if as_json:
        print_json(data)
        return
    if t.billed_tokens is not None:
        out.print(f"{t.n_examples or 0:,} examples, {t.n_epochs} epochs, {t.billed_tokens:,} billed tokens")
    out.print(f"training: [bold]${t.training_usd:,.2f}[/] ({t.basis}) on {t.model}")
    if t.data_usd or assumed:
        out.print(
            f"data collection: ${t.data_usd:,.2f} ({t.n_examples or 0:,} x ${per_example:g}"
            + (f"; assumed, not given: {DATA_COST_SOURCE}; set --cost-per-example" if assumed else "")
            + ")"
        )
    out.print(f"total: [bold]${t.total_usd:,.2f}[/]")
    for n in t.notes:
        out.print(f"note: {n}")


@cost.command()
@click.option("--train-cost", type=click.FloatRange(min=0), help="One-off training cost, USD. Example: --train-cost 50")
@click.option(
    "--prompt-cost",
    type=click.FloatRange(min=0),
    help="Cost per request when prompting, USD. Example: --prompt-cost 0.0115",
)
@click.option(
    "--ft-cost",
    type=click.FloatRange(min=0),
    help="Cost per request of the fine-tuned model, USD. Example: --ft-cost 0.00015",
)
@click.option("--base-model", help="Derive costs from tokens: the model prompted today. Example: --base-model gpt-4o")
@click.option("--ft-model", help="The model to fine-tune (default: --base-model). Example: --ft-model gpt-4o-mini")
@click.option(
    "--prompt-tokens",
    type=click.FloatRange(min=0),
    help="Static prompt tokens a fine-tune removes. Example: --prompt-tokens 2300",
)
@click.option(
    "--system-prompt",
    type=click.Path(path_type=Path),
    help="Measure --prompt-tokens from this file. Example: --system-prompt prompt.txt",
)
@click.option(
    "--few-shot",
    type=click.Path(path_type=Path),
    help="...and these few-shot examples. Example: --few-shot shots.jsonl",
)
@click.option(
    "--input-tokens",
    type=click.FloatRange(min=0),
    default=0,
    help="The request's own input tokens. Example: --input-tokens 200",
)
@click.option(
    "--output-tokens",
    type=click.FloatRange(min=0),
    default=0,
    help="Output tokens per request. Example: --output-tokens 150",
)
@click.option(
    "--ft-prompt-tokens",
    type=click.FloatRange(min=0),
    default=0,
    help="Short prompt the fine-tune still needs. Example: --ft-prompt-tokens 50",
)
@cache_options
@click.option(
    "--dataset",
    type=click.Path(path_type=Path),
    help="Training data, to derive --train-cost (and the "
    "data cost at --cost-per-example). Example: --dataset train.jsonl",
)
@click.option("--epochs", type=click.IntRange(1, 50), help="Epochs for --dataset. Example: --epochs 3")
@click.option(
    "--data-cost",
    type=click.FloatRange(min=0),
    help="Data collection cost, USD (with --dataset the "
    "default is examples x --cost-per-example). Example: --data-cost 2000",
)
@click.option(
    "--cost-per-example",
    type=click.FloatRange(min=0),
    help="With --dataset: data cost per example (default: seed 004's $4, stated). Example: --cost-per-example 4",
)
@click.option(
    "--hosting-per-month",
    type=click.FloatRange(min=0),
    help="Fixed serving cost of the fine-tune per "
    "month (default: 0 hosted; self-hosted, the GPUs the volume needs). Example: --hosting-per-month 900",
)
@click.option(
    "--own-hardware", is_flag=True, help="Self-hosted on GPUs you already run: no hosting cost. Example: --own-hardware"
)
@click.option(
    "--requests-per-day", type=click.FloatRange(min=0, min_open=True), help="Volume. Example: --requests-per-day 1000"
)
@click.option(
    "--lifetime-days",
    type=click.FloatRange(min=0),
    help="Remaining life of the fine-tune (default: "
    "until its base model's shutdown date). Example: --lifetime-days 365",
)
@click.option(
    "--plot",
    "plot_file",
    type=click.Path(path_type=Path),
    help="Write cumulative cost curves as PNG. Example: --plot breakeven.png",
)
@org_history_option
@azure_customer_option
@as_of_option
@prices_option
@no_log_option
@json_option
@user_errors
def breakeven(
    train_cost: float | None,
    prompt_cost: float | None,
    ft_cost: float | None,
    base_model: str | None,
    ft_model: str | None,
    prompt_tokens: float | None,
    system_prompt: Path | None,
    few_shot: Path | None,
    input_tokens: float,
    output_tokens: float,
    ft_prompt_tokens: float,
    cache_hit_rate: float | None,
    no_cache: bool,
    dataset: Path | None,
    epochs: int | None,
    data_cost: float | None,
    cost_per_example: float | None,
    hosting_per_month: float | None,
    own_hardware: bool,
    requests_per_day: float | None,
    lifetime_days: float | None,
    plot_file: Path | None,
    org_history: str,
    azure_customer: str,
    as_of,
    prices_file: Path | None,
    no_log: bool,
    as_json: bool,
) -> None:
    """When does a fine-tune pay back: N = (training + data) / (prompt cost - fine-tuned cost) per request.

    Give the costs directly, or tokens and models to price them from the catalogue, with prompt caching
    on both sides (see --cache-hit-rate). The fine-tune's remaining life (its base model's shutdown date)
    decides whether it pays back at all.

    \b
    Examples:
      ftadvisor cost breakeven --train-cost 50 --prompt-cost 0.0115 --ft-cost 0.00015 --requests-per-day 1000
      ftadvisor cost breakeven --base-model gpt-4o --ft-model gpt-4o-mini --prompt-tokens 2300 \\
          --input-tokens 200 --output-tokens 150 --dataset train.jsonl --data-cost 2000 --requests-per-day 1000
    """
    from pydantic import ValidationError

    from ftadvisor.advisor.breakeven import BreakEvenInput, break_even, sensitivity
    from ftadvisor.advisor.costs import DATA_COST_PER_EXAMPLE, DATA_COST_SOURCE, find_model, training_estimate
    from ftadvisor.advisor.scenario import Scenario, scenario_input
    from ftadvisor.errors import InputError
    from ftadvisor.tokens import is_fine_tune

    on = today(as_of)
    cache = caching(cache_hit_rate, no_cache)
    derived = base_model is not None
    if not derived and None in (train_cost, prompt_cost, ft_cost):
        raise click.UsageError("give --train-cost, --prompt-cost and --ft-cost, or --base-model with tokens")
    if cost_per_example is not None and dataset is None:
        raise click.UsageError("--cost-per-example needs --dataset (or give --data-cost)")
    if derived and (prompt_cost is not None or ft_cost is not None):
        given = " and ".join(f for f, v in (("--prompt-cost", prompt_cost), ("--ft-cost", ft_cost)) if v is not None)
        raise click.UsageError(
            f"{given} {'conflict' if prompt_cost is not None and ft_cost is not None else 'conflicts'} with "
            "--base-model, which prices requests from tokens: give the costs per request "
            "(--train-cost, --prompt-cost, --ft-cost) or the models and tokens, not both"
        )
    assumptions: list[str] = []
    flags: dict[str, object] = {}
    scenario = base = ft = None
    try:
        if derived:
            assert base_model is not None
            cat = load(prices_file, on)
            base = find_model(cat, base_model)
            ft = find_model(cat, ft_model or base_model)
            flags = {
                "base_model": _base_flags(base, on),
                "ft_model": _ft_flags(ft, cat, on, org_history, azure_customer),
            }
            if prompt_tokens is None:
                if not (system_prompt or few_shot):
                    raise click.UsageError("give --prompt-tokens, or --system-prompt/--few-shot to measure them")
                prompt_tokens = _overhead(cat, base_model, system_prompt, few_shot, 0.0, None).tokens
            assumptions.append(cache.describe(requests_per_day))
            scenario = Scenario(
                prompt_tokens=prompt_tokens,
                input_tokens=input_tokens,
                output_tokens=output_tokens,
                ft_prompt_tokens=ft_prompt_tokens,
                cache_hit_rate=cache.rate(requests_per_day),
                prompted_is_fine_tune=is_fine_tune(base_model),
            )
            if train_cost is None or (dataset is not None and data_cost is None):
                if dataset is None:
                    raise click.UsageError("give --train-cost or --dataset")
                count_model = ft.id if not ft.self_hosted else base.id
                per_epoch, n = _dataset_tokens(dataset, count_model)
                per_example = DATA_COST_PER_EXAMPLE if cost_per_example is None else cost_per_example
                t = training_estimate(
                    ft, billing_tokens_per_epoch=per_epoch, n_examples=n, epochs=epochs, cost_per_example=per_example
                )
                train_cost = t.training_usd if train_cost is None else train_cost
                if data_cost is None:
                    data_cost = t.data_usd
                    if cost_per_example is None:
                        assumptions.append(
                            f"data collection {n:,} x ${per_example:g} = ${data_cost:,.2f}, assumed "
                            f"({DATA_COST_SOURCE}); set --data-cost or --cost-per-example"
                        )
            inp = scenario_input(
                base,
                ft,
                scenario,
                train_cost=train_cost,
                data_cost=data_cost or 0.0,
                requests_per_day=requests_per_day,
                lifetime_days=lifetime_days,
                hosting=hosting_per_month,
                own_hardware=own_hardware,
                today=on,
            )
        else:
            inp = BreakEvenInput(
                train_cost=train_cost or 0,
                prompt_cost=prompt_cost or 0,
                ft_cost=ft_cost or 0,
                data_cost=data_cost or 0,
                hosting_per_month=hosting_per_month or 0,
                requests_per_day=requests_per_day,
                lifetime_days=lifetime_days,
            )
    except ValidationError as exc:
        raise InputError(exc.errors()[0]["msg"].removeprefix("Value error, ")) from exc
    if data_cost is None:
        assumptions.append(
            "data collection cost not given: counted as $0 (seed 004: often the largest expense, "
            "$0-20/example); set --data-cost"
        )
    r = break_even(inp)
    ft_flags = flags.get("ft_model")
    if isinstance(ft_flags, dict) and ft_flags.get("can_create_job") is None:
        r = r.model_copy(update={"verdict": r.verdict + " (if you may still create this job: see the warning above)"})
    if isinstance(ft_flags, dict) and ft_flags.get("can_create_job") is False and ft is not None:
        r = r.model_copy(
            update={
                "verdict": f"no verdict: {ft.id} on {ft.provider} cannot be fine-tuned by you on {on} (see the "
                "warning above); price an open road instead (together/..., local/...)",
                "pays_back_before_shutdown": None,
            }
        )
    rpd = inp.requests_per_day
    volumes = [rpd * f for f in (0.1, 0.5, 1, 2, 10)] if rpd else [100.0, 1_000.0, 10_000.0, 100_000.0]
    factors = (0.25, 0.5, 1, 2, 4)
    if scenario is not None and base is not None and ft is not None:
        cols = [scenario.prompt_tokens * f for f in factors]
        col_labels = [f"{c:,.0f} tok" for c in cols]
        s0, b0, f0 = scenario, base, ft

        def make(v: float, c: int) -> BreakEvenInput:
            s = s0.model_copy(update={"prompt_tokens": cols[c], "cache_hit_rate": cache.rate(v)})
            return scenario_input(
                b0,
                f0,
                s,
                train_cost=inp.train_cost,
                data_cost=inp.data_cost,
                requests_per_day=v,
                lifetime_days=inp.lifetime_days,
                hosting=hosting_per_month,
                own_hardware=own_hardware,
                today=on,
            )
    else:
        col_labels = [f"x{f:g}" for f in factors]

        def make(v: float, c: int) -> BreakEvenInput:
            return inp.model_copy(update={"requests_per_day": v, "prompt_cost": inp.prompt_cost * factors[c]})

    table = sensitivity(make, volumes, len(factors))
    log_estimate(
        "breakeven_estimate",
        {
            "inputs": inp.model_dump(mode="json"),
            "result": r.model_dump(mode="json"),
            "as_of": str(on),
            "assumptions": assumptions,
        },
        no_log,
    )
    if plot_file is not None:
        if rpd is None:
            raise click.UsageError("--plot needs --requests-per-day")
        from ftadvisor.advisor.plot import plot_breakeven

        plot_breakeven(inp, r, plot_file)
    if as_json:
        data = r.model_dump(mode="json")
        data["inputs"] = {
            **inp.model_dump(mode="json"),
            "as_of": str(on),
            "cache_hit_rate": scenario.cache_hit_rate if scenario else None,
        }
        data["assumptions"] = assumptions
        data.update({k: v for k, v in flags.items()})
        data["sensitivity"] = {"requests_per_day": volumes, "prompt": col_labels, "break_even_days": table}
        data["plot"] = str(plot_file) if plot_file else None
        print_json(data)
        return
    from rich.table import Table

    out.print(
        f"prompting: ${inp.prompt_cost:.6f}/request; fine-tune: ${inp.ft_cost:.6f}/request"
        + (f" + ${inp.hosting_per_month:,.2f}/month hosting" if inp.hosting_per_month else "")
        + f"; fixed: ${r.fixed_cost_usd:,.2f} (training ${inp.train_cost:,.2f} + data ${inp.data_cost:,.2f})"
    )
    if scenario is not None and ft is not None and ft.self_hosted and hosting_per_month is None:
        from ftadvisor.advisor.scenario import serving_fleet

        fleet = serving_fleet(ft, scenario, rpd, own_hardware=own_hardware)
        if fleet is not None:
            out.print(f"serving: {fleet.gpus} GPU{'s' if fleet.gpus > 1 else ''} ({fleet.basis})")
    out.print(f"savings: ${r.per_request_savings_usd:.6f} per request")
    if r.break_even_requests is not None:
        line = f"break-even: [bold]{r.break_even_requests:,} requests[/]"
        if r.break_even_days is not None:
            line += f", {r.break_even_days:,.1f} days at {rpd:,.0f}/day"
        out.print(line)
    if r.lifetime_days is not None:
        out.print(f"remaining life of the fine-tune: {r.lifetime_days:,.0f} days (as of {on})")
    blocked = r.verdict.startswith("no verdict")
    color = "red" if blocked or r.pays_back_before_shutdown is False or r.break_even_requests is None else "green"
    out.print(f"verdict: [{color}]{r.verdict}[/]")
    for a in assumptions:
        out.print(f"[dim]assumption: {a}[/]")
    if r.cumulative:
        cum = Table("after", "requests", "prompting", "fine-tune", "cheaper", title="cumulative cost")
        for p in r.cumulative:
            cum.add_row(
                p.label + (" (after shutdown)" if p.after_shutdown else ""),
                f"{p.requests:,.0f}",
                f"${p.prompt_cost_usd:,.2f}",
                f"${p.ft_cost_usd:,.2f}",
                p.cheaper,
            )
        out.print(cum)
    grid = Table("requests/day", *col_labels, title="break-even days (sensitivity: volume x prompt)")
    for v, row in zip(volumes, table, strict=True):
        life = r.lifetime_days
        grid.add_row(
            f"{v:,.0f}",
            *("never" if d is None else f"{d:,.1f}" + ("!" if life is not None and d > life else "") for d in row),
        )
    out.print(grid)
    if r.lifetime_days is not None:
        out.print("! = after the model's shutdown")
    if plot_file:
        out.print(f"plot: {plot_file}")
