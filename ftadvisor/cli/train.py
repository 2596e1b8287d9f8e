"""``ftadvisor train``: validate, estimate, confirm, upload, create (at most once), watch and record a job on
any backend; with ``--backend auto`` the advisor picks where it goes."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import click

from ftadvisor.backends.base import Backend, EstimatesPrice, FindsRuns, Job, ModelLifetime
from ftadvisor.cli.backends import option_option, parse_options, resolve
from ftadvisor.cli.common import byte_progress, err, json_option, out, print_json, user_errors
from ftadvisor.cli.options import as_of_option, azure_customer_option, org_history_option, today
from ftadvisor.cli.watching import detach, show_event, show_status


@click.command()
@click.argument("file", type=click.Path(path_type=Path), required=False)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A run described in YAML: ftadvisor's keys (these option names, backend settings under "
    "options:) or an Axolotl config; flags given here override it. Example: --config run.yaml",
)
@click.option(
    "--model",
    "-m",
    help="Base model to fine-tune (with --backend auto: the open model to train if the "
    "advice is local). Example: --model gpt-4o-mini-2024-07-18",
)
@click.option(
    "--backend",
    default="openai",
    show_default=True,
    metavar="NAME",
    help="Where the job runs: openai, azure, together, local, a plugin (`ftadvisor backends`), or auto: "
    "the advisor decides first (prompt? hosted? local?) and stops unless the advice is a fine-tune. "
    "Example: --backend together",
)
@option_option
@click.option(
    "--validation", type=click.Path(path_type=Path), help="Held-out validation file. Example: --validation valid.jsonl"
)
@click.option(
    "--test",
    "test_file",
    type=click.Path(path_type=Path),
    help="Held-out test file: after training, "
    "evaluate base vs fine-tuned on it and record the run. Example: --test test.jsonl",
)
@click.option(
    "--method",
    type=click.Choice(["sft", "dpo"]),
    default="sft",
    show_default=True,
    help="Training method. Example: --method dpo",
)
@click.option("--epochs", type=int, help="Epochs, 1-50 (default auto). Example: --epochs 3")
@click.option("--batch-size", type=int, help="Batch size, 1-256 (default auto). Example: --batch-size 8")
@click.option(
    "--learning-rate-multiplier", type=float, help="> 0 (default auto). Example: --learning-rate-multiplier 1.8"
)
@click.option("--beta", type=float, help="DPO beta, 0-2 (default auto). Example: --beta 0.1")
@click.option("--suffix", help="Up to 64 characters in the model name. Example: --suffix tickets")
@click.option("--seed", type=int, help="Seed for reproducibility. Example: --seed 42")
@click.option(
    "--report-to",
    type=click.Choice(["none", "mlflow", "wandb"]),
    help="Track the run (the same as -o "
    "report_to=...): local runs in MLflow or W&B (offline without WANDB_API_KEY); OpenAI jobs in W&B through "
    "its integration. Example: --report-to mlflow",
)
@click.option("--tracking-project", help="The MLflow experiment or W&B project. Example: --tracking-project tickets")
@click.option("--yes", "-y", is_flag=True, help="Skip the confirmation before spending. Example: --yes")
@click.option("--dry-run", is_flag=True, help="Print the plan and the cost; call no API. Example: --dry-run")
@click.option("--no-wait", is_flag=True, help="Return once the job is created. Example: --no-wait")
@click.option(
    "--poll",
    type=click.FloatRange(min=1),
    default=30,
    show_default=True,
    help="Seconds between status polls. Example: --poll 60",
)
@click.option("--no-log", is_flag=True, help="Do not record this run in the ledger. Example: --no-log")
@click.option(
    "--answers",
    "answers_file",
    type=click.Path(path_type=Path),
    help="Auto: the advisor's answers (YAML/JSON, keys as `ftadvisor advise` options). Example: --answers case.yaml",
)
@click.option("--base-model", help="Auto: the model prompted today. Example: --base-model gpt-4.1")
@click.option(
    "--system-prompt",
    type=click.Path(path_type=Path),
    help="Auto: the prompt a fine-tune would remove (measured on --base-model). Example: --system-prompt prompt.txt",
)
@click.option(
    "--prompt-tokens",
    type=click.FloatRange(min=0),
    help="Auto: its size, instead of --system-prompt. Example: --prompt-tokens 2300",
)
@click.option(
    "--requests-per-day",
    type=click.FloatRange(min=0, min_open=True),
    help="Auto: volume. Example: --requests-per-day 2000",
)
@click.option(
    "--budget", "setup_budget", type=click.FloatRange(min=0), help="Auto: setup budget, USD. Example: --budget 500"
)
@click.option(
    "--prompt-compliance",
    type=click.FloatRange(0, 1),
    help="Auto: share a good prompt gets right. Example: --prompt-compliance 0.8",
)
@click.option(
    "--cost-per-example",
    type=click.FloatRange(min=0),
    help="Auto: data cost per example, USD. Example: --cost-per-example 3",
)
@click.option(
    "--data-may-leave/--data-must-stay",
    default=None,
    help="Auto: may the data go to a hosted provider? Example: --data-must-stay",
)
@click.option("--force", is_flag=True, help="Auto: train even when the advice is not a fine-tune. Example: --force")
@click.option(
    "--again",
    is_flag=True,
    help="Create a job even though an earlier run of this file and model, whose "
    "answer was lost, already created one. Example: --again",
)
@org_history_option
@azure_customer_option
@as_of_option
@json_option
@user_errors
def train(
    file: Path | None,
    config_file: Path | None,
    model: str | None,
    backend: str,
    options: tuple[str, ...],
    validation: Path | None,
    test_file: Path | None,
    method: str,
    epochs: int | None,
    batch_size: int | None,
    learning_rate_multiplier: float | None,
    beta: float | None,
    suffix: str | None,
    seed: int | None,
    report_to: str | None,
    tracking_project: str | None,
    yes: bool,
    dry_run: bool,
    no_wait: bool,
    poll: float,
    no_log: bool,
    as_json: bool,
    answers_file: Path | None,
    base_model: str | None,
    system_prompt: Path | None,
    prompt_tokens: float | None,
    requests_per_day: float | None,
    setup_budget: float | None,
    prompt_compliance: float | None,
    cost_per_example: float | None,
    data_may_leave: bool | None,
    force: bool,
    again: bool,
    org_history: str,
    azure_customer: str,
    as_of: Any,
) -> None:
    """Validate, estimate, confirm, upload, create and watch a fine-tuning job, and record it.

    Each backend's own settings go through -o KEY=VALUE (listed by `ftadvisor backends`). With --backend
    auto the advisor decides first, on this dataset's own cost, and the job goes where it recommends; a
    recommendation that is not a fine-tune stops here (exit 1) unless --force.

    \b
    Examples:
      ftadvisor train train.jsonl --model gpt-4o-mini-2024-07-18 --validation valid.jsonl --dry-run
      ftadvisor train prefs.jsonl --method dpo --model gpt-4.1-mini-2025-04-14 --beta 0.1 --yes
      ftadvisor train train.jsonl --backend together --model meta-llama/Meta-Llama-3.1-8B-Instruct-Reference \\
          -o lora_rank=16 --yes
      ftadvisor train train.jsonl --backend local --model smollm2-135m-instruct -o lora_rank=8 --yes
      ftadvisor train train.jsonl --backend auto --model smollm2-135m-instruct --base-model gpt-4.1 \\
          --system-prompt prompt.txt --requests-per-day 2000 --prompt-compliance 0.8 --dry-run
    """
    from ftadvisor.train import ignored_hyperparameters, plan_training, run_training, upload_files

    tracking = {k: v for k, v in (("report_to", report_to), ("tracking_project", tracking_project)) if v}
    run = _run_config(locals(), {**parse_options(options), **tracking})
    if run.file is None:
        raise click.UsageError("give the training FILE (or --config with a file in it)")
    if run.output_dir and Path(run.output_dir).exists() and any(Path(run.output_dir).iterdir()):
        raise click.UsageError(
            f"output_dir {run.output_dir} exists and is not empty: the adapter is exported there "
            "at the end; remove it or name another"
        )
    file, model, backend = Path(run.file), run.model, run.backend or backend
    validation = Path(run.validation) if run.validation else None
    method, epochs, batch_size, beta = run.method or method, run.epochs, run.batch_size, run.beta
    learning_rate_multiplier, suffix, seed = run.learning_rate_multiplier, run.suffix, run.seed
    on = today(as_of)
    advice = None
    if backend == "auto":
        advice = _auto(
            file,
            model,
            answers_file,
            on,
            as_json,
            force,
            system_prompt=system_prompt,
            flags={
                "base_model": base_model,
                "prompt_tokens": prompt_tokens,
                "requests_per_day": requests_per_day,
                "setup_budget": setup_budget,
                "prompt_compliance": prompt_compliance,
                "cost_per_example": cost_per_example,
                "data_may_leave": data_may_leave,
                "org_history": None if org_history == "unknown" else org_history,
                "azure_customer": None if azure_customer == "unknown" else azure_customer,
            },
        )
        backend, model = advice["dispatch"].backend, advice["dispatch"].model
    elif model is None:
        raise click.UsageError("give --model (or --backend auto)")
    assert model is not None

    b: Backend = resolve(backend)
    plan = plan_training(
        file,
        model=model,
        backend=b,
        method=method,  # type: ignore[arg-type]
        validation=validation,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate_multiplier=learning_rate_multiplier,
        beta=beta,
        suffix=suffix,
        seed=seed,
        options=run.options,
        today=on,
        org_history=org_history,  # type: ignore[arg-type]
        customer=azure_customer,  # type: ignore[arg-type]
    )
    if not as_json or dry_run:
        _show_plan(plan, as_json)
    if dry_run:
        return
    free = plan.free
    quoted = isinstance(b, EstimatesPrice)  # the provider quotes after the (free) upload: confirm on its figure
    if not yes and not free and not sys.stdin.isatty():
        raise click.UsageError(f"about to spend about ${plan.estimated_cost_usd or 0:,.2f}: pass --yes to confirm")
    if isinstance(b, ModelLifetime):
        shutdown = b.model_shutdown(plan.model)
        if shutdown and plan.shutdown and shutdown != plan.shutdown:
            err.print(
                f"[yellow]note:[/] {b.name} reports shutdown {shutdown} for {plan.model} (catalogue: {plan.shutdown})"
            )
    if not yes and not free and not quoted:
        click.confirm(f"Start training for about ${plan.estimated_cost_usd or 0:,.2f}?", abort=True, err=True)
    ledger = None
    if not no_log:
        from ftadvisor.ledger import Ledger, LedgerUnavailable

        try:
            ledger = Ledger()
            ledger.record("training_plan", plan)
        except LedgerUnavailable as exc:
            raise LedgerUnavailable(
                f"{exc}. A paid run is recorded before it starts (so that a lost answer can be "
                "found again): fix the ledger, or pass --no-log"
            ) from None

    created_ids: list[str] = []

    def created(job: Job) -> None:
        created_ids.append(job.id)
        err.print(f"created {job.id}; watch it any time with: ftadvisor jobs wait {job.id}")
        for warning in ignored_hyperparameters(plan.hyperparameters, job):
            err.print(f"[yellow]warning:[/] {warning}")

    from ftadvisor.backends import new_run_id

    if ledger is not None and isinstance(b, FindsRuns):
        refuse_lost_runs(b, plan.model, Path(plan.training_file), ledger, again=again)
    run_id = new_run_id()
    if ledger is not None:  # what `jobs rerun` starts again
        ledger.record("run_config", run.model_copy(update={"model": plan.model, "backend": b.name}), ref=run_id)
    if ledger is not None and advice is not None:  # the decision, linked to the job by its run id
        ledger.record(
            "advice",
            {
                "decision": advice["decision"].model_dump(mode="json"),
                "dispatch": advice["dispatch"].model_dump(mode="json"),
            },
            ref=run_id,
        )
    with byte_progress("uploading", enabled=not as_json) as progress:
        files = upload_files(plan, b, ledger=ledger, run_id=run_id, progress=progress)
    if isinstance(b, EstimatesPrice):
        _confirm_quote(b, plan, files, yes, as_json, ledger, run_id)
    try:
        job = run_training(
            plan,
            b,
            ledger=ledger,
            run_id=run_id,
            files=files,
            on_created=created,
            wait_for_end=not no_wait,
            poll_interval=poll,
            on_event=None if as_json else show_event,
            on_status=None if as_json else show_status,
        )
    except KeyboardInterrupt:
        detach(created_ids[0] if created_ids else None)
    exported = (
        _export_to(b, job, Path(run.output_dir), as_json) if run.output_dir and job.status == "succeeded" else None
    )
    evaluation = None
    if test_file is not None and job.status == "succeeded" and job.fine_tuned_model:
        evaluation = _evaluate_after_training(b, plan.model, job.fine_tuned_model, test_file, ledger, as_json)
    if as_json:
        print_json(
            {k: getattr(job, k) for k in ("id", "status", "fine_tuned_model", "trained_tokens")}
            | {
                "backend": b.name,
                "error": job.error.model_dump() if job.error else None,
                "evaluation": evaluation,
                "export": exported.model_dump() if exported else None,
            }
        )
    sys.exit(0 if job.status in ("succeeded", "validating_files", "queued", "running") else 1)


def _run_config(given: dict[str, Any], cli_options: dict[str, Any]) -> Any:
    """The run: the --config file's values where the command line gave none, and the command line's
    otherwise; Axolotl's val_set_size split off the training file."""
    from click.core import ParameterSource

    from ftadvisor.runconfig import RunConfig, load_config, split_validation

    ctx = click.get_current_context()
    fields = (
        "file",
        "model",
        "validation",
        "method",
        "epochs",
        "batch_size",
        "learning_rate_multiplier",
        "beta",
        "suffix",
        "seed",
    )
    flags = {k: (str(given[k]) if isinstance(given[k], Path) else given[k]) for k in fields}
    if given["config_file"] is None:
        return RunConfig.model_validate({**flags, "options": cli_options})
    config = load_config(given["config_file"])
    for warning in config.warnings:
        err.print(f"[yellow]warning:[/] {given['config_file']}: {warning}")

    def from_line(name: str) -> bool:
        return ctx.get_parameter_source(name) not in (None, ParameterSource.DEFAULT)

    merged = config.model_copy(
        update={
            **{k: v for k, v in flags.items() if from_line(k) or (getattr(config, k) is None and v is not None)},
            "backend": given["backend"] if from_line("backend") or config.backend is None else config.backend,
            "options": {**config.options, **cli_options},
        }
    )
    if merged.val_set_size:
        import hashlib

        from ftadvisor.config import user_dir

        digest = hashlib.sha256(Path(merged.file or "").read_bytes()).hexdigest()[:12] if merged.file else "none"
        merged = split_validation(merged, user_dir() / "splits" / f"{Path(merged.file or 'x').stem}-{digest}")
    return merged


def _export_to(b: Backend, job: Job, out: Path, as_json: bool) -> Any:
    """The run config's output_dir: the finished job's adapter, exported there (where the backend can)."""
    from ftadvisor.backends.base import Exports

    if not isinstance(b, Exports):
        err.print(f"[yellow]note:[/] output_dir {out}: the {b.name} backend keeps the model; nothing exported")
        return None
    result = b.export(job.id, out)
    if not as_json:
        err.print(f"adapter exported to {result.out}" + (f"; serve it with: {result.vllm}" if result.vllm else ""))
    return result


def _confirm_quote(
    b: EstimatesPrice, plan: Any, files: Any, yes: bool, as_json: bool, ledger: Any, run_id: str
) -> None:
    """The provider's own price for the job, shown (and recorded) before it is created; a job the account may
    not pay for stops here."""
    from ftadvisor.errors import FtAdvisorError

    train, valid = files
    quote = b.estimate_price(plan.spec(train.id, valid.id if valid else None))
    if ledger is not None:
        ledger.record("price_estimate", quote, ref=run_id)
    if quote.total_usd is None:
        err.print(
            f"[yellow]note:[/] {plan.backend} gives no price estimate ({quote.unavailable_reason}); ours is "
            f"${plan.estimated_cost_usd or 0:,.2f}"
        )
    elif not as_json:
        err.print(
            f"{plan.backend} quotes [bold]${quote.total_usd:,.2f}[/] for this job"
            + (f" ({quote.train_tokens:,.0f} training tokens)" if quote.train_tokens else "")
            + (f"; your limit is ${quote.user_limit_usd:,.2f}" if quote.user_limit_usd is not None else "")
        )
    if quote.allowed_to_proceed is False:
        raise FtAdvisorError(
            f"{plan.backend} will not run this job: its ${quote.total_usd or 0:,.2f} exceeds what "
            "the account may spend; nothing was created (the uploaded files stay)",
            exit_code=1,
        )
    if not yes:
        price = quote.total_usd if quote.total_usd is not None else plan.estimated_cost_usd or 0
        click.confirm(f"Start training for ${price:,.2f}?", abort=True, err=True)


def refuse_lost_runs(backend: FindsRuns, model: str, training_file: Path, ledger: Any, *, again: bool) -> None:
    """Before a new paid create: a run of the same file on the same model whose answer was lost may have
    created a job. Look each such run up: a job found is recorded and stops this one; a job not listed
    stops it too (lists lag, so absence proves nothing). Only ``again`` goes on, leaving those runs behind."""
    from ftadvisor.errors import FtAdvisorError
    from ftadvisor.train import file_sha256

    for run_id in ledger.unresolved_runs(model, file_sha256(training_file)):
        if again:
            ledger.record("create_abandoned", {"run_id": run_id, "why": "train --again"}, ref=run_id)
            continue
        job = backend.find_run(run_id)
        if job is not None:
            ledger.save_job(job, run_id=run_id)
            raise FtAdvisorError(
                f"an earlier run ({run_id}) already created {job.id} from {training_file} on {model}, "
                f"but its answer was lost: it is now recorded; watch it with `ftadvisor jobs wait "
                f"{job.id}`, or pass --again to create another paid job",
                exit_code=1,
            )
        raise FtAdvisorError(
            f"an earlier run ({run_id}) sent a create for {training_file} on {model} and never learnt its "
            f"outcome; the provider does not list a job for it yet (its list may lag): look again later "
            f"(`ftadvisor jobs find {run_id}`), or pass --again to create another paid job",
            exit_code=1,
        )


def _auto(
    file: Path,
    model: str | None,
    answers_file: Path | None,
    on: dt.date,
    as_json: bool,
    force: bool,
    *,
    system_prompt: Path | None,
    flags: dict[str, Any],
) -> dict[str, Any]:
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
        given["prompt_tokens"] = prompt_overhead(
            base, system_prompt=read_text(system_prompt, "system prompt file"), few_shot=[]
        ).tokens
    profile = cat.find(model) if model else None
    if "local_model" not in given and profile is not None and profile.self_hosted:
        given["local_model"] = profile.id  # price the open model actually trained
    d = decide_from(given, str(answers_file or "answers"), None, on, cache_hit_rate=None, no_cache=False)
    if not as_json:
        print_decision(d)
    target = dispatch(d, local_model=model, force=force)
    if not as_json:
        out.print(
            f"dispatch: {target.backend} {target.model}"
            + (" (forced)" if target.forced else "")
            + (f"; {target.note}" if target.note else "")
        )
    return {"decision": d, "dispatch": target}


def _evaluate_after_training(
    backend: Backend, base: str, fine_tuned: str, test_file: Path, ledger: Any, as_json: bool
) -> str:
    """Base vs fine-tuned on the test split; returns the evaluation run id."""
    from ftadvisor.evaluation.runner import run_eval

    with byte_progress("evaluating", enabled=not as_json) as progress:
        run = run_eval([(backend, base), (backend, fine_tuned)], test_file, progress=progress)
    if ledger is not None:
        ledger.save_eval(run)
    if not as_json:
        for s in run.models:
            out.print(
                f"{s.model}: exact match {s.exact_match:.0%}, ROUGE-L {s.rouge_l:.3f}"
                + (f", accuracy {s.accuracy:.0%}" if s.accuracy is not None else "")
            )
        out.print(f"evaluation {run.id}: `ftadvisor report --run {run.id} --out report/` for the full page")
    return run.id


def _show_plan(plan: Any, as_json: bool) -> None:
    if as_json:
        print_json(plan)
        return
    out.print(f"[bold]plan[/]: {plan.method} on {plan.backend} {plan.model}")
    out.print(
        f"  data: {plan.training_file} ({plan.n_examples:,} examples)"
        + (f", validation {plan.validation_file}" if plan.validation_file else "")
    )
    out.print(
        f"  tokens: {plan.billing_tokens_per_epoch:,} per epoch x {plan.n_epochs} epochs = "
        f"{plan.billed_tokens:,}" + ("" if plan.exact_tokens else " (estimated)")
    )
    if plan.estimated_cost_usd is not None:
        out.print(f"  estimated cost: [bold]${plan.estimated_cost_usd:,.2f}[/] ({plan.cost_basis})")
    hp = ", ".join(f"{k}={v}" for k, v in plan.hyperparameters.items()) or "auto"
    seed = plan.seed if plan.seed is not None else "-"
    out.print(f"  hyperparameters: {hp}; suffix {plan.suffix or '-'}; seed {seed}")
    if plan.options:
        out.print("  options: " + ", ".join(f"{k}={v}" for k, v in plan.options.items()))
    out.print("  steps: upload -> create (at most once) -> watch -> record in the ledger")
    for w in plan.warnings:
        out.print(f"  [yellow]warning:[/] {w}")
