"""``ftadvisor jobs``, ``train`` and ``chat``: fine-tuning jobs on a backend, watched live."""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

import click

from ftadvisor.cli.common import byte_progress, err, json_option, open_ledger, out, print_json, user_errors
from ftadvisor.cli.options import as_of_option, org_history_option, today

backend_option = click.option("--backend", type=click.Choice(["openai", "local"]), default="openai",
                              show_default=True, help="Where the job runs. Example: --backend openai")


def _backend(name: str) -> Any:
    from ftadvisor.backends import get_backend

    return get_backend(name)


def _when(ts: int | None) -> str:
    return dt.datetime.fromtimestamp(ts, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC") if ts else "-"


def show_event(e: Any) -> None:
    d = e.data or {}
    if e.type == "metrics" and "step" in d:
        parts = [f"step {d['step']}" + (f"/{d['total_steps']}" if d.get("total_steps") else "")]
        for key in ("train_loss", "valid_loss", "full_valid_loss"):
            if d.get(key) is not None:
                parts.append(f"{key.replace('_', ' ')} {d[key]:.4f}")
        out.print("  " + ", ".join(parts))
    else:
        style = {"warn": "yellow", "error": "red"}.get(e.level, "dim")
        out.print(f"  [{style}]{_when(e.created_at)[11:16]}[/] {e.message}")


def show_status(job: Any) -> None:
    line = f"[bold]{job.id}[/]: {job.status}"
    if job.estimated_finish and not job.done:
        line += f" (estimated finish {_when(job.estimated_finish)})"
    if job.fine_tuned_model:
        line += f" -> [green]{job.fine_tuned_model}[/]"
    out.print(line)
    if job.status == "failed" and job.error:
        out.print(f"  [red]error {job.error.code}[/] (param {job.error.param}): {job.error.message}")


def watch(backend: Any, job_id: str, poll: float, as_json: bool, ledger: Any = None) -> Any:
    """Wait for the end of a job, showing its events and recording every status change (and the finished
    job) in the ledger; Ctrl-C detaches and leaves the job running."""
    from ftadvisor.backends import wait
    from ftadvisor.ledger import LedgerUnavailable
    from ftadvisor.train import record_finished

    book = {"ledger": ledger}

    def status(j: Any) -> None:
        if not as_json:
            show_status(j)
        if book["ledger"] is not None:
            try:
                book["ledger"].save_job(j)
            except LedgerUnavailable as exc:
                err.print(f"[yellow]warning:[/] {exc}; the job's progress is not recorded")
                book["ledger"] = None

    try:
        job = wait(backend, job_id, poll_interval=poll, on_event=None if as_json else show_event,
                   on_status=status, sleep=getattr(backend, "sleep", time.sleep))
    except KeyboardInterrupt:
        detach(job_id)
    if book["ledger"] is not None and job.done:
        try:
            record_finished(job, backend, book["ledger"])
        except LedgerUnavailable as exc:
            err.print(f"[yellow]warning:[/] {exc}; the finished job is not recorded")
    return job


def detach(job_id: str | None) -> None:
    """Ctrl-C while watching: the job keeps running on the provider; say how to come back, exit 130."""
    if job_id:
        err.print(f"\nstopped watching; the job keeps running. Re-attach with: ftadvisor jobs wait {job_id}")
    else:
        err.print("\nstopped before any job was created (no create request was sent); nothing is running")
    sys.exit(130)


@click.group()
def jobs() -> None:
    """Fine-tuning jobs: list, inspect, watch, cancel, pause, resume."""


@jobs.command("list")
@backend_option
@click.option("--limit", type=click.IntRange(1, 100), default=20, show_default=True,
              help="How many. Example: --limit 5")
@json_option
@user_errors
def list_jobs(backend: str, limit: int, as_json: bool) -> None:
    """List recent jobs, newest first.

    \b
    Example:
      ftadvisor jobs list --limit 5 --json
    """
    items = _backend(backend).list_jobs(limit)
    if as_json:
        print_json([j.model_dump(mode="json") for j in items])
        return
    for j in items:
        out.print(f"{j.id}  {j.status:<16} {j.model}  {j.fine_tuned_model or ''}")


def _one(name: str, doc: str):
    @jobs.command(name, help=doc)
    @click.argument("job_id")
    @backend_option
    @json_option
    @user_errors
    def command(job_id: str, backend: str, as_json: bool) -> None:
        b = _backend(backend)
        result = getattr(b, {"get": "get_job", "events": "list_events", "checkpoints": "list_checkpoints"}
                         .get(name, name))(job_id)
        if as_json:
            print_json([r.model_dump(mode="json") for r in result] if isinstance(result, list) else result)
        elif name == "events":
            for e in reversed(result):
                show_event(e)
        elif name == "checkpoints":
            for c in result:
                metrics = ", ".join(f"{k} {v:.4f}" for k, v in c.metrics.items() if v is not None and k != "step")
                out.print(f"step {c.step_number}: {c.fine_tuned_model_checkpoint}  {metrics}")
        else:
            show_status(result)
        if name in ("get", "cancel", "pause", "resume"):
            _record_status(result)

    return command


def _record_status(job: Any, run_id: str | None = None) -> None:
    """Every status we see goes into the ledger (a broken ledger costs a warning, never the command)."""
    from ftadvisor.ledger import LedgerUnavailable

    if (db := open_ledger()) is None:
        return
    try:
        db.save_job(job, run_id=run_id)
    except LedgerUnavailable as exc:
        err.print(f"[yellow]warning:[/] {exc}; the status is not recorded")
    db.close()


for _name, _doc in (
    ("get", "Show a job's status, model and error.\n\n\b\nExample:\n  ftadvisor jobs get ftjob-abc123"),
    ("events", "A job's events, oldest first.\n\n\b\nExample:\n  ftadvisor jobs events ftjob-abc123 --json"),
    ("checkpoints", "A job's checkpoints with their metrics.\n\n\b\nExample:\n"
                    "  ftadvisor jobs checkpoints ftjob-abc123"),
    ("cancel", "Cancel a job.\n\n\b\nExample:\n  ftadvisor jobs cancel ftjob-abc123"),
    ("pause", "Pause a running job.\n\n\b\nExample:\n  ftadvisor jobs pause ftjob-abc123"),
    ("resume", "Resume a paused job.\n\n\b\nExample:\n  ftadvisor jobs resume ftjob-abc123"),
):
    _one(_name, _doc)


@jobs.command("find")
@click.argument("run_id")
@json_option
@user_errors
def find(run_id: str, as_json: bool) -> None:
    """Find the OpenAI job a run created (by the run id in its metadata), after a create whose answer was
    lost; a job found is recorded in the ledger. Exit 1 when OpenAI lists none.

    \b
    Example:
      ftadvisor jobs find run-3f2a9c1b7d4e5f60
    """
    from ftadvisor.backends.openai_api import OpenAIBackend

    job = OpenAIBackend().find_run(run_id)
    if job is not None:
        _record_status(job, run_id)
    if as_json:
        print_json({"run_id": run_id, "job": job.model_dump(mode="json") if job else None})
    elif job is not None:
        show_status(job)
        out.print(f"run {run_id} created {job.id}; watch it with: ftadvisor jobs wait {job.id}")
    else:
        out.print(f"OpenAI lists no job for run {run_id} (its list can lag by seconds: ask again in a minute to "
                  "be sure)")
    sys.exit(0 if job is not None else 1)


def refuse_lost_runs(backend: Any, model: str, training_file: Path, ledger: Any) -> None:
    """Before a new paid create: a run of the same file on the same model whose answer was lost may have
    created a job. Look each such run up; a job found is recorded and stops this one (--again overrides)."""
    from ftadvisor.errors import FtAdvisorError
    from ftadvisor.train import file_sha256

    for run_id in ledger.unresolved_runs(model, file_sha256(training_file)):
        job = backend.find_run(run_id)
        if job is None:
            ledger.record("create_absent", {"run_id": run_id}, ref=run_id)
            continue
        ledger.save_job(job, run_id=run_id)
        raise FtAdvisorError(f"an earlier run ({run_id}) already created {job.id} from {training_file} on {model}, "
                             f"but its answer was lost: it is now recorded; watch it with `ftadvisor jobs wait "
                             f"{job.id}`, or pass --again to create another paid job", exit_code=1)


@jobs.command("wait")
@click.argument("job_id")
@backend_option
@click.option("--poll", type=click.FloatRange(min=1), default=30, show_default=True,
              help="Seconds between polls. Example: --poll 60")
@json_option
@user_errors
def wait_cmd(job_id: str, backend: str, poll: float, as_json: bool) -> None:
    """Watch a job until it succeeds, fails or is cancelled (Ctrl-C detaches; the job keeps running).

    \b
    Example:
      ftadvisor jobs wait ftjob-abc123
    """
    job = watch(_backend(backend), job_id, poll, as_json, ledger=open_ledger())
    if as_json:
        print_json(job)
    sys.exit(0 if job.status == "succeeded" else 1)


@click.command()
@click.argument("prompt")
@click.option("--model", "-m", required=True, help="Model to call, e.g. a fine-tuned one. "
              "Example: --model ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf")
@click.option("--system", help="System prompt. Example: --system 'Answer in JSON.'")
@click.option("--max-tokens", type=click.IntRange(min=1), default=512, show_default=True,
              help="Longest answer. Example: --max-tokens 100")
@backend_option
@json_option
@user_errors
def chat(prompt: str, model: str, system: str | None, max_tokens: int, backend: str, as_json: bool) -> None:
    """Send one prompt to a model (a new fine-tuned model that is not served yet is retried for minutes).

    \b
    Example:
      ftadvisor chat --model ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf "My invoice is wrong"
    """
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    c = _backend(backend).complete(model, messages, max_tokens=max_tokens)
    if as_json:
        print_json(c)
        return
    click.echo(c.text)
    err.print(f"[dim]{c.usage.prompt_tokens} prompt ({c.usage.cached_tokens} cached) + {c.usage.completion_tokens} "
              f"completion tokens, {c.latency_s:.2f} s[/]")


@click.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--model", "-m", help="Base model to fine-tune (with --backend auto: the open model to train if the "
              "advice is local). Example: --model gpt-4o-mini-2024-07-18")
@click.option("--backend", type=click.Choice(["openai", "local", "auto"]), default="openai", show_default=True,
              help="Where the job runs; auto asks the advisor first (prompt? hosted? local?) and stops unless the "
                   "advice is a fine-tune. Example: --backend auto")
@click.option("--validation", type=click.Path(path_type=Path), help="Held-out validation file. "
              "Example: --validation valid.jsonl")
@click.option("--test", "test_file", type=click.Path(path_type=Path), help="Held-out test file: after training, "
              "evaluate base vs fine-tuned on it and record the run. Example: --test test.jsonl")
@click.option("--method", type=click.Choice(["sft", "dpo"]), default="sft", show_default=True,
              help="Training method. Example: --method dpo")
@click.option("--epochs", type=int, help="Epochs, 1-50 (default auto). Example: --epochs 3")
@click.option("--batch-size", type=int, help="Batch size, 1-256 (default auto). Example: --batch-size 8")
@click.option("--learning-rate-multiplier", type=float,
              help="> 0 (default auto). Example: --learning-rate-multiplier 1.8")
@click.option("--beta", type=float, help="DPO beta, 0-2 (default auto). Example: --beta 0.1")
@click.option("--suffix", help="Up to 64 characters in the model name. Example: --suffix tickets")
@click.option("--seed", type=int, help="Seed for reproducibility. Example: --seed 42")
@click.option("--yes", "-y", is_flag=True, help="Skip the confirmation before spending. Example: --yes")
@click.option("--dry-run", is_flag=True, help="Print the plan and the cost; call no API. Example: --dry-run")
@click.option("--no-wait", is_flag=True, help="Return once the job is created. Example: --no-wait")
@click.option("--poll", type=click.FloatRange(min=1), default=30, show_default=True,
              help="Seconds between status polls. Example: --poll 60")
@click.option("--no-log", is_flag=True, help="Do not record this run in the ledger. Example: --no-log")
@click.option("--lora-rank", type=click.IntRange(min=1), help="Local: LoRA rank (default 16). Example: --lora-rank 8")
@click.option("--lora-alpha", type=click.IntRange(min=1),
              help="Local: LoRA alpha (default 32). Example: --lora-alpha 16")
@click.option("--lora-dropout", type=click.FloatRange(0, 1, max_open=True),
              help="Local: LoRA dropout (default 0.05). Example: --lora-dropout 0.1")
@click.option("--targets", help="Local: modules to adapt, comma-separated, or all-linear (default). "
              "Example: --targets q_proj,v_proj")
@click.option("--qlora", is_flag=True, help="Local: 4-bit NF4 base (QLoRA, bitsandbytes). Example: --qlora")
@click.option("--max-length", type=click.IntRange(min=8), help="Local: tokens per example, longer ones are cut "
              "(default 1024). Example: --max-length 2048")
@click.option("--gpu-per-hour", type=click.FloatRange(min=0), help="Local: price of this machine per hour, for "
              "the run's cost. Example: --gpu-per-hour 1.2")
@click.option("--num-processes", type=click.IntRange(min=1), help="Local: data-parallel processes through "
              "torchrun (one per GPU; gloo on CPU). Example: --num-processes 4")
@click.option("--answers", "answers_file", type=click.Path(path_type=Path), help="Auto: the advisor's answers "
              "(YAML/JSON, keys as `ftadvisor advise` options). Example: --answers case.yaml")
@click.option("--base-model", help="Auto: the model prompted today. Example: --base-model gpt-4.1")
@click.option("--system-prompt", type=click.Path(path_type=Path), help="Auto: the prompt a fine-tune would remove "
              "(measured on --base-model). Example: --system-prompt prompt.txt")
@click.option("--prompt-tokens", type=click.FloatRange(min=0), help="Auto: its size, instead of --system-prompt. "
              "Example: --prompt-tokens 2300")
@click.option("--requests-per-day", type=click.FloatRange(min=0, min_open=True), help="Auto: volume. "
              "Example: --requests-per-day 2000")
@click.option("--budget", "setup_budget", type=click.FloatRange(min=0), help="Auto: setup budget, USD. "
              "Example: --budget 500")
@click.option("--prompt-compliance", type=click.FloatRange(0, 1), help="Auto: share a good prompt gets right. "
              "Example: --prompt-compliance 0.8")
@click.option("--cost-per-example", type=click.FloatRange(min=0), help="Auto: data cost per example, USD. "
              "Example: --cost-per-example 3")
@click.option("--data-may-leave/--data-must-stay", default=None, help="Auto: may the data go to a hosted provider? "
              "Example: --data-must-stay")
@click.option("--force", is_flag=True, help="Auto: train even when the advice is not a fine-tune. Example: --force")
@click.option("--again", is_flag=True, help="Create a job even though an earlier run of this file and model, whose "
              "answer was lost, already created one. Example: --again")
@org_history_option
@as_of_option
@json_option
@user_errors
def train(file: Path, model: str | None, backend: str, validation: Path | None, test_file: Path | None, method: str,
          epochs: int | None,
          batch_size: int | None, learning_rate_multiplier: float | None, beta: float | None, suffix: str | None,
          seed: int | None, yes: bool, dry_run: bool, no_wait: bool, poll: float, no_log: bool, as_json: bool,
          lora_rank: int | None, lora_alpha: int | None, lora_dropout: float | None, targets: str | None,
          qlora: bool, max_length: int | None, gpu_per_hour: float | None, num_processes: int | None,
          answers_file: Path | None, base_model: str | None, system_prompt: Path | None, prompt_tokens: float | None,
          requests_per_day: float | None, setup_budget: float | None, prompt_compliance: float | None,
          cost_per_example: float | None, data_may_leave: bool | None, force: bool, again: bool, org_history: str,
          as_of: Any) -> None:
    """Validate, estimate, confirm, upload, create and watch a fine-tuning job, and record it.

    With --backend auto the advisor decides first, on this dataset's own cost, and the job goes where it
    recommends; a recommendation that is not a fine-tune stops here (exit 1) unless --force.

    \b
    Examples:
      ftadvisor train train.jsonl --model gpt-4o-mini-2024-07-18 --validation valid.jsonl --dry-run
      ftadvisor train prefs.jsonl --method dpo --model gpt-4.1-mini-2025-04-14 --beta 0.1 --yes
      ftadvisor train train.jsonl --backend local --model smollm2-135m-instruct --lora-rank 8 --yes
      ftadvisor train train.jsonl --backend auto --model smollm2-135m-instruct --base-model gpt-4.1 \\
          --system-prompt prompt.txt --requests-per-day 2000 --prompt-compliance 0.8 --dry-run
    """
    from ftadvisor.train import ignored_hyperparameters, plan_training, run_training

    on = today(as_of)
    advice = None
    if backend == "auto":
        advice = _auto(file, model, answers_file, on, as_json, force, system_prompt=system_prompt, flags={
            "base_model": base_model, "prompt_tokens": prompt_tokens, "requests_per_day": requests_per_day,
            "setup_budget": setup_budget, "prompt_compliance": prompt_compliance,
            "cost_per_example": cost_per_example, "data_may_leave": data_may_leave,
            "org_history": None if org_history == "unknown" else org_history})
        backend, model = advice["dispatch"].backend, advice["dispatch"].model
    elif model is None:
        raise click.UsageError("give --model (or --backend auto)")
    assert model is not None

    local = {k: v for k, v in (("lora_rank", lora_rank), ("lora_alpha", lora_alpha), ("lora_dropout", lora_dropout),
                               ("target_modules", targets.split(",") if targets and targets != "all-linear" else None),
                               ("qlora", qlora or None), ("max_length", max_length), ("gpu_per_hour", gpu_per_hour),
                               ("num_processes", num_processes))
             if v is not None}
    if local and backend != "local":
        raise click.UsageError(f"{', '.join(local)}: options of --backend local")

    plan = plan_training(file, model=model, backend=backend, method=method, validation=validation,  # type: ignore[arg-type]
                         epochs=epochs, batch_size=batch_size, learning_rate_multiplier=learning_rate_multiplier,
                         beta=beta, suffix=suffix, seed=seed, local_options=local, today=on,
                         org_history=org_history)  # type: ignore[arg-type]
    if not as_json or dry_run:
        _show_plan(plan, as_json)
    if dry_run:
        return
    free = backend == "local" and not plan.estimated_cost_usd
    if not yes and not free and not sys.stdin.isatty():
        raise click.UsageError(f"about to spend about ${plan.estimated_cost_usd or 0:,.2f}: pass --yes to confirm")
    b = _backend(backend)
    shutdown = getattr(b, "model_shutdown", lambda m: None)(plan.model)
    if shutdown and plan.shutdown and shutdown != plan.shutdown:
        err.print(f"[yellow]note:[/] OpenAI reports shutdown {shutdown} for {plan.model} (catalogue: {plan.shutdown})")
    if not yes and not free:
        click.confirm(f"Start training for about ${plan.estimated_cost_usd or 0:,.2f}?", abort=True, err=True)
    ledger = None
    if not no_log:
        from ftadvisor.ledger import Ledger, LedgerUnavailable

        try:
            ledger = Ledger()
            ledger.record("training_plan", plan)
        except LedgerUnavailable as exc:
            raise LedgerUnavailable(f"{exc}. A paid run is recorded before it starts (so that a lost answer can be "
                                    "found again): fix the ledger, or pass --no-log") from None

    created_ids: list[str] = []

    def created(job: Any) -> None:
        created_ids.append(job.id)
        err.print(f"created {job.id}; watch it any time with: ftadvisor jobs wait {job.id}")
        for warning in ignored_hyperparameters(plan.hyperparameters, job):
            err.print(f"[yellow]warning:[/] {warning}")

    from ftadvisor.backends.openai_api import new_run_id
    from ftadvisor.train import upload_files

    if ledger is not None and backend == "openai" and not again:
        refuse_lost_runs(b, plan.model, Path(plan.training_file), ledger)
    run_id = new_run_id()
    if ledger is not None and advice is not None:  # the decision, linked to the job by its run id
        ledger.record("advice", {"decision": advice["decision"].model_dump(mode="json"),
                                 "dispatch": advice["dispatch"].model_dump(mode="json")}, ref=run_id)
    with byte_progress("uploading", enabled=not as_json) as progress:
        files = upload_files(plan, b, ledger=ledger, run_id=run_id, progress=progress)
    try:
        job = run_training(plan, b, ledger=ledger, run_id=run_id, files=files, on_created=created,
                           wait_for_end=not no_wait, poll_interval=poll,
                           on_event=None if as_json else show_event, on_status=None if as_json else show_status)
    except KeyboardInterrupt:
        detach(created_ids[0] if created_ids else None)
    evaluation = None
    if test_file is not None and job.status == "succeeded" and job.fine_tuned_model:
        evaluation = _evaluate_after_training(b, plan.model, job.fine_tuned_model, test_file, ledger, as_json)
    if as_json:
        print_json({k: getattr(job, k) for k in ("id", "status", "fine_tuned_model", "trained_tokens")}
                   | {"error": job.error.model_dump() if job.error else None, "evaluation": evaluation})
    sys.exit(0 if job.status in ("succeeded", "validating_files", "queued", "running") else 1)


def _auto(file: Path, model: str | None, answers_file: Path | None, on: dt.date, as_json: bool, force: bool, *,
          system_prompt: Path | None, flags: dict[str, Any]) -> dict[str, Any]:
    """Ask the advisor about this dataset and return its decision and where to send the job."""
    from ftadvisor.advisor.costs import find_model, prompt_overhead
    from ftadvisor.advisor.dispatch import dispatch
    from ftadvisor.cli.advise import decide_from, print_decision, read_answers
    from ftadvisor.data.stats import dataset_stats
    from ftadvisor.errors import InputError
    from ftadvisor.pricing import load_catalogue
    from ftadvisor.userfiles import read_text

    given = read_answers(answers_file) if answers_file else {}
    given.update({k: v for k, v in flags.items() if v is not None})
    cat = load_catalogue()
    hosted = given.get("hosted_model") or "gpt-4.1-mini-2025-04-14"
    s = dataset_stats(file, model=hosted, catalogue=cat, today=on)
    if s.format_errors:
        raise InputError(f"{file}: has format errors ({', '.join(s.format_errors)}); run `ftadvisor data validate`")
    given.setdefault("labelled_examples", s.n_examples)
    given["billing_tokens_per_epoch"] = s.billing_tokens_per_epoch
    if system_prompt is not None:
        if not given.get("base_model"):
            raise click.UsageError("--system-prompt needs --base-model (the model prompted today)")
        base = find_model(cat, given["base_model"])
        given["prompt_tokens"] = prompt_overhead(base, system_prompt=read_text(system_prompt, "system prompt file"),
                                                 few_shot=[]).tokens
    profile = cat.find(model) if model else None
    if "local_model" not in given and profile is not None and profile.provider == "self-hosted":
        given["local_model"] = profile.id  # price the open model actually trained
    d = decide_from(given, str(answers_file or "answers"), None, on, cache_hit_rate=None, no_cache=False)
    if not as_json:
        print_decision(d)
    target = dispatch(d, local_model=model, force=force)
    if not as_json:
        out.print(f"dispatch: {target.backend} {target.model}" + (" (forced)" if target.forced else "")
                  + (f"; {target.note}" if target.note else ""))
    return {"decision": d, "dispatch": target}


def _evaluate_after_training(backend: Any, base: str, fine_tuned: str, test_file: Path, ledger: Any,
                             as_json: bool) -> str:
    """Base vs fine-tuned on the test split; returns the evaluation run id."""
    from ftadvisor.evaluation.runner import run_eval

    with byte_progress("evaluating", enabled=not as_json) as progress:
        run = run_eval([(backend, base), (backend, fine_tuned)], test_file, progress=progress)
    if ledger is not None:
        ledger.save_eval(run)
    if not as_json:
        for s in run.models:
            out.print(f"{s.model}: exact match {s.exact_match:.0%}, ROUGE-L {s.rouge_l:.3f}"
                      + (f", accuracy {s.accuracy:.0%}" if s.accuracy is not None else ""))
        out.print(f"evaluation {run.id}: `ftadvisor report --run {run.id} --out report/` for the full page")
    return run.id


def _show_plan(plan: Any, as_json: bool) -> None:
    if as_json:
        print_json(plan)
        return
    out.print(f"[bold]plan[/]: {plan.method} on {plan.backend} {plan.model}")
    out.print(f"  data: {plan.training_file} ({plan.n_examples:,} examples)"
              + (f", validation {plan.validation_file}" if plan.validation_file else ""))
    out.print(f"  tokens: {plan.billing_tokens_per_epoch:,} per epoch x {plan.n_epochs} epochs = "
              f"{plan.billed_tokens:,}")
    if plan.estimated_cost_usd is not None:
        basis = (f"${plan.price_per_1m:g} per 1M tokens" if plan.price_per_1m is not None
                 else f"GPU time at ${plan.backend_options.get('gpu_per_hour', 0):g}/hour")
        out.print(f"  estimated cost: [bold]${plan.estimated_cost_usd:,.2f}[/] ({basis})")
    hp = ", ".join(f"{k}={v}" for k, v in plan.hyperparameters.items()) or "auto"
    seed = plan.seed if plan.seed is not None else "-"
    out.print(f"  hyperparameters: {hp}; suffix {plan.suffix or '-'}; seed {seed}")
    out.print("  steps: upload -> create (at most once) -> watch -> record in the ledger")
    for w in plan.warnings:
        out.print(f"  [yellow]warning:[/] {w}")


@click.command()
@click.argument("job_id")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Folder to write (must not exist or be empty). Example: --out exports/tickets")
@click.option("--merge", is_flag=True, help="Write a merged 16-bit model instead of the adapter. Example: --merge")
@json_option
@user_errors
def export(job_id: str, out_dir: Path, merge: bool, as_json: bool) -> None:
    """Export a local job: the PEFT adapter vLLM accepts (with its `vllm serve` line), or a merged model.

    \b
    Examples:
      ftadvisor export ftjob-0123abcd --out exports/tickets
      ftadvisor export ftjob-0123abcd --merge --out exports/tickets-merged
    """
    result = _backend("local").export(job_id, out_dir, merge=merge)
    if as_json:
        print_json(result)
        return
    out.print(f"wrote the {result['kind']} to {result['out']}")
    out.print(f"serve it with: {result['vllm']}")
