"""``ftadvisor demo``: the whole path on the built-in legal dataset, no API key needed.

Data report -> advice (prompting a large hosted model with the long prompt vs a hosted fine-tune, whose
base shuts down, vs a local one) -> a LoRA fine-tune of SmolLM2-135M-Instruct on this machine ->
evaluation of base vs fine-tuned on the held-out split -> the HTML report."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import click
from pydantic import BaseModel

from ftadvisor.cli.common import err, out, user_errors

PROMPTED_MODEL = "gpt-4.1-2025-04-14"
HOSTED_FT = "gpt-4.1-mini-2025-04-14"
LOCAL_MODEL = "smollm2-135m-instruct"
LOCAL_PROFILE = "local/llama-3.1-8b-instruct"  # what the local fine-tune would be served as in production
REQUESTS_PER_DAY = 2_000
COST_PER_EXAMPLE = 3.0  # an assumption for the demo: a trainee solicitor's time per reviewed example
DISCLAIMER = "This response does not constitute legal advice."


class Road(BaseModel):
    """How the demo fine-tunes on one backend."""

    backend: str
    model: str
    key: str | None  # the environment variable it needs, checked before anything runs
    hyper: dict[str, Any]  # epochs, batch size, learning-rate multiplier (empty: the provider's auto)
    options: dict[str, Any]
    poll_s: float


# One epoch at 5x the base LoRA learning rate is enough for a 135M model to learn this format (measured: 48
# examples in batches of 2 reach 4/4 compliance on held-out questions); the hosted job keeps OpenAI's auto.
ROADS = {
    "local": Road(
        backend="local",
        model=LOCAL_MODEL,
        key=None,
        options={"lora_rank": 16, "max_length": 512},
        hyper={"epochs": 1, "batch_size": 4, "learning_rate_multiplier": 5.0},
        poll_s=3,
    ),
    "openai": Road(backend="openai", model=HOSTED_FT, key="OPENAI_API_KEY", options={}, hyper={}, poll_s=30),
}


def _step(n: int, title: str) -> None:
    out.rule(f"[bold]{n}. {title}[/]", align="left")


@click.command()
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    default=Path("ftadvisor-demo"),
    show_default=True,
    help="Folder for the demo's outputs and report. Example: --out /tmp/demo",
)
@click.option(
    "--backend",
    type=click.Choice(list(ROADS)),
    default="local",
    show_default=True,
    help="Where to fine-tune: local (SmolLM2 on this machine, free) or openai (needs OPENAI_API_KEY and "
    "spends money). Example: --backend local",
)
@click.option(
    "--quick",
    is_flag=True,
    help="A smaller run (48 training and 6 test examples): under 5 minutes on 2 CPU cores. Example: --quick",
)
@user_errors
def demo(out_dir: Path, backend: str, quick: bool) -> None:
    """From dataset to verdict on the built-in legal-support dataset: validate, advise, fine-tune, evaluate,
    report. No API key needed.

    \b
    Examples:
      ftadvisor demo --quick
      ftadvisor demo --out /tmp/demo
    """
    from ftadvisor.samples import sample_path

    started = time.perf_counter()
    legal = sample_path("legal")
    out_dir.mkdir(parents=True, exist_ok=True)
    train, test = _subset(legal, out_dir, quick)
    out.print(
        f"[bold]ftadvisor demo[/]: a legal-support assistant that must answer in numbered action items, in "
        f'formal British English, ending with "{DISCLAIMER}"'
    )
    _data(train, test)
    scenario = _advice(legal, train)
    ft_model, job_id = _fine_tune(train, legal / "validation.jsonl", backend, quick)
    eval_id = _evaluate(test, backend, ft_model, quick)
    _step(6, "report")
    from ftadvisor.reports.build import write_report

    page = write_report(
        out_dir / "report",
        eval_id=eval_id,
        job_id=job_id,
        breakeven=scenario.inputs,
        decision=scenario.decision,
        sides=(f"prompting {PROMPTED_MODEL} with the long prompt", f"{HOSTED_FT} fine-tuned"),
    )
    out.print(f"report: [bold]{page.resolve()}[/]  (demo took {time.perf_counter() - started:,.0f} s)")


def _subset(legal: Path, out_dir: Path, quick: bool) -> tuple[Path, Path]:
    if not quick:
        return legal / "train.jsonl", legal / "test.jsonl"
    train, test = out_dir / "train.quick.jsonl", out_dir / "test.quick.jsonl"
    train.write_text(
        "".join((legal / "train.jsonl").read_text(encoding="utf-8").splitlines(True)[:48]), encoding="utf-8"
    )
    test.write_text("".join((legal / "test.jsonl").read_text(encoding="utf-8").splitlines(True)[:6]), encoding="utf-8")
    return train, test


def _data(train: Path, test: Path) -> None:
    from ftadvisor.data.dedup import find_duplicates
    from ftadvisor.data.quality import check_quality
    from ftadvisor.data.stats import dataset_stats
    from ftadvisor.data.validate import validate_file

    _step(1, "the data")
    for path in (train, test):
        v = validate_file(path, model=HOSTED_FT)
        out.print(f"{path.name}: {'valid' if v.valid else 'INVALID'}, {v.n_examples} examples, {v.n_errors} errors")
    s = dataset_stats(train, model=HOSTED_FT)
    assert s.tokens_per_example is not None
    out.print(
        f"tokens ({s.encoding}): median {s.tokens_per_example.median:.0f} per example; "
        f"{s.billed_tokens:,} billed tokens over {s.n_epochs} epochs = ${s.estimated_training_cost_usd or 0:.2f} "
        f"on {HOSTED_FT}"
    )
    q = check_quality(train, require=[r"^1\. ", DISCLAIMER.replace(".", r"\.") + "$"])
    out.print(f"consistency: {len(q.failures)} answers break the format rules, {len(q.inconsistent)} contradictions")
    d = find_duplicates(train)
    out.print(f"duplicates: {len(d.groups)} near-duplicate groups ({d.n_removable} removable)")


class Advice(BaseModel):
    """What the report leads with: the decision, and the hosted fine-tune's break-even against prompting."""

    decision: Any
    inputs: Any


def _advice(legal: Path, train: Path) -> Advice:
    """Print the overhead, each option's economics and the advice; returns them for the report."""
    import datetime as dt

    from ftadvisor.advisor.costs import find_model, prompt_overhead, read_few_shot
    from ftadvisor.advisor.decision import Answers
    from ftadvisor.advisor.economics import EconomicsInput, decide
    from ftadvisor.data.stats import dataset_stats
    from ftadvisor.pricing import load_catalogue

    _step(2, "should we fine-tune, and where?")
    cat = load_catalogue()
    on = dt.date.today()
    o = prompt_overhead(
        find_model(cat, PROMPTED_MODEL),
        system_prompt=(legal / "system_prompt.txt").read_text(encoding="utf-8"),
        few_shot=read_few_shot(legal / "few_shot.jsonl"),
        requests_per_day=REQUESTS_PER_DAY,
    )
    out.print(
        f"prompting {PROMPTED_MODEL} needs the long system prompt + 3 worked examples: {o.tokens:,} tokens on "
        f"every request = ${o.usd_per_month:,.2f}/month at {REQUESTS_PER_DAY:,} requests/day"
        + (" (under 1,024 tokens: prompt caching does not apply)" if not o.cacheable_tokens else "")
    )
    s = dataset_stats(train, model=HOSTED_FT)
    inp = EconomicsInput(
        prompted_model=PROMPTED_MODEL,
        hosted_model=HOSTED_FT,
        local_model=LOCAL_PROFILE,
        prompt_tokens=o.tokens,
        input_tokens=60,
        output_tokens=110,
        ft_prompt_tokens=15,
        examples=s.n_examples,
        billing_tokens_per_epoch=s.billing_tokens_per_epoch,
        cost_per_example=COST_PER_EXAMPLE,
        requests_per_day=REQUESTS_PER_DAY,
    )
    d = decide(
        cat,
        Answers(
            task_type="format", labelled_examples=s.n_examples, prompt_compliance=0.8, requests_per_day=REQUESTS_PER_DAY
        ),
        inp,
        today=on,
    )
    for opt in d.economics.options:
        assert opt.break_even is not None
        out.print(
            f"fine-tune {opt.model}: setup ${opt.setup_usd:,.2f} (data ${opt.training.data_usd:,.2f} at "
            f"${COST_PER_EXAMPLE:g}/example): {opt.break_even.verdict}"
        )
        if opt.availability is not None and (w := opt.availability.warning()):
            out.print(f"  [yellow]{w}[/]")
    rec = d.recommendation
    out.print(
        f"advice (assuming a prompt reaches 80% compliance): [bold]{rec.choice}[/]"
        + (f" ({rec.model})" if rec.model else "")
    )
    for reason in rec.reasons:
        out.print(f"  - {reason}")
    hosted = d.economics.option("hosted")
    assert hosted is not None
    return Advice(decision=d, inputs=hosted.inputs)


def _fine_tune(train: Path, validation: Path, backend: str, quick: bool) -> tuple[str, str]:
    from ftadvisor.backends import get_backend
    from ftadvisor.cli.watching import show_event, show_status
    from ftadvisor.ledger import Ledger
    from ftadvisor.train import plan_training, run_training

    road = ROADS[backend]
    _step(3, f"fine-tune {road.model} ({backend})")
    if road.key and not os.environ.get(road.key):
        raise click.UsageError(f"--backend {backend} needs {road.key}; the default --backend local needs none")
    hyper = road.hyper | ({"batch_size": 2} if quick and "batch_size" in road.hyper else {})
    plan = plan_training(
        train,
        model=road.model,
        backend=backend,
        validation=None if quick else validation,
        suffix="legal",
        seed=7,
        options=road.options,
        **hyper,
    )
    cost = "free on this machine" if not plan.pays_provider else f"about ${plan.estimated_cost_usd or 0:.2f}"
    out.print(f"{plan.n_examples} examples, {cost}; the first run converts the model once (about 30 s)")
    job = run_training(
        plan,
        get_backend(backend),
        ledger=Ledger(),
        poll_interval=road.poll_s,
        on_event=show_event,
        on_status=show_status,
    )
    if job.status != "succeeded":
        raise click.ClickException(f"the fine-tune ended {job.status}: {job.error}")
    return job.fine_tuned_model or "", job.id


def _evaluate(test: Path, backend: str, ft_model: str, quick: bool) -> str:
    from ftadvisor.backends import get_backend
    from ftadvisor.cli.common import byte_progress
    from ftadvisor.evaluation.metrics import FormatRules
    from ftadvisor.evaluation.runner import run_eval
    from ftadvisor.ledger import Ledger

    _step(4, "evaluate base vs fine-tuned on the held-out split")
    b = get_backend(backend)
    base = ROADS[backend].model
    rules = FormatRules(regex=[r"^1\. "], contains=[DISCLAIMER])
    with byte_progress("answering") as progress:
        run = run_eval(
            [(b, base), (b, ft_model)], test, rules=rules, max_tokens=128 if quick else 160, progress=progress
        )
    Ledger().save_eval(run)
    for s in run.models:
        out.print(
            f"{s.model}: format compliance [bold]{s.format_compliance:.0%}[/], ROUGE-L {s.rouge_l:.3f}, "
            f"{s.latency_mean_s:.1f} s per answer"
        )
    _step(5, "judge")
    if os.environ.get("OPENAI_API_KEY"):
        _judge(run.id)
    else:
        out.print("skipped: set OPENAI_API_KEY to have gpt-4.1 judge the answers pairwise (both orders)")
    return run.id


def _judge(eval_id: str) -> None:
    """Pairwise judging of base vs fine-tuned by a hosted model (only with OPENAI_API_KEY; never fails the demo)."""
    from ftadvisor.backends import get_backend
    from ftadvisor.evaluation.judge import judge_run
    from ftadvisor.ledger import Ledger

    db = Ledger()
    run = db.eval_run(eval_id)
    assert run is not None
    try:
        result = judge_run({**run, "id": eval_id}, (get_backend("openai"), PROMPTED_MODEL), scores=False)
    except Exception as exc:  # the judge is optional
        err.print(f"judge skipped: {exc}")
        return
    db.record("judgement", result, ref=eval_id)
    pair = result["pairwise"]
    out.print(
        f"{pair['candidate']} vs {pair['baseline']}: win rate {pair['win_rate']:.0%} ({pair['wins']} wins, "
        f"{pair['ties']} ties, {pair['losses']} losses; orders agreed on {pair['consistency']:.0%}"
        + (f"; {pair['unparsed']} unreadable verdicts left out)" if pair.get("unparsed") else ")")
    )
