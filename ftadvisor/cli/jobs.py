"""``ftadvisor jobs``, ``chat`` and ``export``: fine-tuning jobs on any backend, watched live. The backend of a
job id or model is inferred (ledger, then the id's shape) unless ``--backend`` names it."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ftadvisor.backends.base import (
    Checkpointed,
    Deploys,
    DownloadsAdapter,
    Exports,
    FindsRuns,
    Job,
    Pausable,
    all_events,
)
from ftadvisor.cli.backends import backend_option, require, resolve
from ftadvisor.cli.common import err, json_option, open_ledger, out, print_json, user_errors
from ftadvisor.cli.watching import record_status, show_event, show_status, watch

job_id_argument = click.argument("job_id")


@click.group()
def jobs() -> None:
    """Fine-tuning jobs on any backend: list, inspect, watch, cancel, pause, resume, deploy, download."""


def _show_job(job: Job, as_json: bool) -> None:
    record_status(job)
    if as_json:
        print_json(job)
    else:
        show_status(job)


@jobs.command("list")
@backend_option(default="openai")
@click.option(
    "--limit", type=click.IntRange(1, 100), default=20, show_default=True, help="How many. Example: --limit 5"
)
@json_option
@user_errors
def list_jobs(backend: str, limit: int, as_json: bool) -> None:
    """List a backend's recent jobs, newest first.

    \b
    Example:
      ftadvisor jobs list --backend together --limit 5 --json
    """
    items = resolve(backend).list_jobs(limit)
    if as_json:
        print_json([j.model_dump(mode="json") for j in items])
        return
    for j in items:
        out.print(f"{j.id}  {j.status:<16} {j.model}  {j.fine_tuned_model or ''}")


@jobs.command("get")
@job_id_argument
@backend_option()
@json_option
@user_errors
def get(job_id: str, backend: str | None, as_json: bool) -> None:
    """Show a job's status, model and error.

    \b
    Example:
      ftadvisor jobs get ftjob-abc123
    """
    _show_job(resolve(backend, job_id).get_job(job_id), as_json)


@jobs.command("events")
@job_id_argument
@backend_option()
@click.option(
    "--limit",
    type=click.IntRange(1, 10_000),
    default=100,
    show_default=True,
    help="How many of the newest events. Example: --limit 20",
)
@click.option("--after", help="Page on: the events older than this event id. Example: --after ftevent-abc")
@click.option("--all", "every", is_flag=True, help="Every event of the job, however many. Example: --all")
@json_option
@user_errors
def events(job_id: str, backend: str | None, limit: int, after: str | None, every: bool, as_json: bool) -> None:
    """A job's newest events (or --all of them), printed oldest first.

    \b
    Examples:
      ftadvisor jobs events ftjob-abc123 --json
      ftadvisor jobs events ftjob-abc123 --all
    """
    b = resolve(backend, job_id)
    if every and after:
        raise click.UsageError("give --all or --after, not both")
    items = all_events(b, job_id) if every else b.list_events(job_id, limit=limit, after=after)
    if as_json:
        print_json([e.model_dump(mode="json") for e in items])
        return
    for e in reversed(items):
        show_event(e)


@jobs.command("rerun")
@click.argument("job_id")
@click.option("--yes", "-y", is_flag=True, help="Skip the confirmation before spending. Example: --yes")
@click.option("--dry-run", is_flag=True, help="Print the plan and the cost; start nothing. Example: --dry-run")
@json_option
@click.pass_context
@user_errors
def rerun(ctx: click.Context, job_id: str, yes: bool, dry_run: bool, as_json: bool) -> None:
    """Start a new job exactly as JOB_ID was started: the run config recorded with it (data, validation,
    model, backend, hyperparameters, backend options, seed).

    \b
    Example:
      ftadvisor jobs rerun ftjob-abc123 --dry-run
    """
    import yaml

    from ftadvisor.config import user_dir
    from ftadvisor.data.jsonl import atomic_writer
    from ftadvisor.ledger import Ledger
    from ftadvisor.runconfig import run_config_of

    config = run_config_of(Ledger(), job_id)
    path = user_dir() / "runs" / f"{job_id}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(path, "w") as f:
        # the first run's output_dir holds its export already: the rerun's adapter stays in its job (`export`)
        yaml.safe_dump(
            config.model_dump(exclude={"warnings", "source", "val_set_size", "output_dir"}, exclude_none=True), f
        )
    if not as_json:
        err.print(f"rerunning {job_id} from its recorded run config ({path})")
    from ftadvisor.cli.train import train

    ctx.invoke(train, config_file=path, yes=yes, dry_run=dry_run, as_json=as_json)


@jobs.command("checkpoints")
@job_id_argument
@backend_option()
@json_option
@user_errors
def checkpoints(job_id: str, backend: str | None, as_json: bool) -> None:
    """A job's checkpoints with their metrics.

    \b
    Example:
      ftadvisor jobs checkpoints ftjob-abc123
    """
    items = require(resolve(backend, job_id), Checkpointed, "list checkpoints").list_checkpoints(job_id)
    if as_json:
        print_json([c.model_dump(mode="json") for c in items])
        return
    for c in items:
        metrics = ", ".join(f"{k} {v:.4f}" for k, v in c.metrics.items() if v is not None and k != "step")
        out.print(f"step {c.step_number}: {c.fine_tuned_model_checkpoint}  {metrics}")


@jobs.command("cancel")
@job_id_argument
@backend_option()
@json_option
@user_errors
def cancel(job_id: str, backend: str | None, as_json: bool) -> None:
    """Cancel a job.

    \b
    Example:
      ftadvisor jobs cancel ftjob-abc123
    """
    _show_job(resolve(backend, job_id).cancel(job_id), as_json)


@jobs.command("pause")
@job_id_argument
@backend_option()
@json_option
@user_errors
def pause(job_id: str, backend: str | None, as_json: bool) -> None:
    """Pause a running job (a checkpoint is kept; `jobs resume` continues it).

    \b
    Example:
      ftadvisor jobs pause ftjob-abc123
    """
    _show_job(require(resolve(backend, job_id), Pausable, "pause jobs").pause(job_id), as_json)


@jobs.command("resume")
@job_id_argument
@backend_option()
@json_option
@user_errors
def resume(job_id: str, backend: str | None, as_json: bool) -> None:
    """Resume a paused job.

    \b
    Example:
      ftadvisor jobs resume ftjob-abc123
    """
    _show_job(require(resolve(backend, job_id), Pausable, "resume jobs").resume(job_id), as_json)


@jobs.command("wait")
@job_id_argument
@backend_option()
@click.option(
    "--poll",
    type=click.FloatRange(min=1),
    default=30,
    show_default=True,
    help="Seconds between polls. Example: --poll 60",
)
@json_option
@user_errors
def wait_cmd(job_id: str, backend: str | None, poll: float, as_json: bool) -> None:
    """Watch a job until it succeeds, fails or is cancelled (Ctrl-C detaches; the job keeps running).

    \b
    Example:
      ftadvisor jobs wait ftjob-abc123
    """
    job = watch(resolve(backend, job_id), job_id, poll, as_json, ledger=open_ledger())
    if as_json:
        print_json(job)
    sys.exit(0 if job.status == "succeeded" else 1)


@jobs.command("find")
@click.argument("run_id")
@backend_option()
@json_option
@user_errors
def find(run_id: str, backend: str | None, as_json: bool) -> None:
    """Find the job a run created (by the run id in its metadata), after a create whose answer was lost; a
    job found is recorded in the ledger. Exit 1 when the provider lists none.

    \b
    Example:
      ftadvisor jobs find run-3f2a9c1b7d4e5f60
    """
    from ftadvisor.ledger import LedgerUnavailable

    if backend is None and (db := open_ledger()) is not None:
        try:
            backend = db.run_backend(run_id)
        except LedgerUnavailable:
            backend = None
        db.close()
    b = require(resolve(backend), FindsRuns, "look runs up by their id")
    job = b.find_run(run_id)
    if job is not None:
        record_status(job, run_id)
    if as_json:
        print_json({"run_id": run_id, "job": job.model_dump(mode="json") if job else None})
    elif job is not None:
        show_status(job)
        out.print(f"run {run_id} created {job.id}; watch it with: ftadvisor jobs wait {job.id}")
    else:
        out.print(
            f"{b.name} lists no job for run {run_id} (its list can lag by seconds: ask again in a minute to be sure)"
        )
    sys.exit(0 if job is not None else 1)


@jobs.command("deploy")
@click.argument("fine_tuned_model")
@click.option("--name", help="Deployment name (default: from the model). Example: --name tickets-ft")
@backend_option()
@json_option
@user_errors
def deploy(fine_tuned_model: str, name: str | None, backend: str | None, as_json: bool) -> None:
    """Deploy a fine-tune so that it answers (Azure: billed by the hour while it exists, deleted after 15
    idle days).

    \b
    Example:
      ftadvisor jobs deploy gpt-4.1-mini-2025-04-14.ft-0123456789abcdef0123456789abcdef --name tickets
    """
    d = require(resolve(backend, fine_tuned_model), Deploys, "deploy models").deploy(fine_tuned_model, name)
    if as_json:
        print_json(d)
        return
    out.print(
        f"deployed {d.model} as [bold]{d.name}[/] ({d.status})"
        + (f"; hosting ${d.hourly_usd:g}/hour, ${d.hourly_usd * 24 * 30:,.0f}/month" if d.hourly_usd else "")
    )
    if d.note:
        out.print(f"  {d.note}")


@jobs.command("download-adapter")
@job_id_argument
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to write (must not exist or be empty). Example: --out adapters/tickets",
)
@backend_option()
@json_option
@user_errors
def download_adapter(job_id: str, out_dir: Path, backend: str | None, as_json: bool) -> None:
    """Download a finished job's LoRA adapter (PEFT layout), to serve it locally (`chat --backend local
    --model DIR`) or with vLLM.

    \b
    Example:
      ftadvisor jobs download-adapter ft-3b883474-f39c-40d9-9d5a-7f97ba9eeb9f --out adapters/tickets
    """
    a = require(resolve(backend, job_id), DownloadsAdapter, "download adapters").download_adapter(job_id, out_dir)
    if as_json:
        print_json(a)
        return
    out.print(f"wrote the adapter of {job_id} ({a.base_model}) to {a.path}: {', '.join(a.files)}")
    out.print(f'chat with it here: ftadvisor chat --backend local --model {a.path} "..."')


@click.command()
@click.argument("prompt")
@click.option(
    "--model",
    "-m",
    required=True,
    help="Model to call, e.g. a fine-tuned one. Example: --model ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf",
)
@click.option("--system", help="System prompt. Example: --system 'Answer in JSON.'")
@click.option(
    "--max-tokens",
    type=click.IntRange(min=1),
    default=512,
    show_default=True,
    help="Longest answer. Example: --max-tokens 100",
)
@backend_option(
    help_text="Who answers (default: the backend the model belongs to, else openai). Example: --backend together"
)
@json_option
@user_errors
def chat(prompt: str, model: str, system: str | None, max_tokens: int, backend: str | None, as_json: bool) -> None:
    """Send one prompt to a model (a new fine-tuned model that is not served yet is retried for minutes).

    \b
    Example:
      ftadvisor chat --model ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf "My invoice is wrong"
    """
    messages = ([{"role": "system", "content": system}] if system else []) + [{"role": "user", "content": prompt}]
    c = resolve(backend, model, fallback="openai").complete(model, messages, max_tokens=max_tokens)
    if as_json:
        print_json(c)
        return
    click.echo(c.text)
    err.print(
        f"[dim]{c.usage.prompt_tokens} prompt ({c.usage.cached_tokens} cached) + {c.usage.completion_tokens} "
        f"completion tokens, {c.latency_s:.2f} s[/]"
    )


@click.command()
@click.argument("job_id")
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder to write (must not exist or be empty). Example: --out exports/tickets",
)
@click.option("--merge", is_flag=True, help="Write a merged 16-bit model instead of the adapter. Example: --merge")
@backend_option(default="local")
@json_option
@user_errors
def export(job_id: str, out_dir: Path, merge: bool, backend: str, as_json: bool) -> None:
    """Export a local job, or an adapter folder (e.g. from `jobs download-adapter`): the PEFT adapter vLLM accepts
    (with its `vllm serve` line), or a merged model.

    \b
    Examples:
      ftadvisor export ftjob-0123abcd --out exports/tickets
      ftadvisor export ftjob-0123abcd --merge --out exports/tickets-merged
      ftadvisor export adapters/tickets --merge --out exports/tickets-merged
    """
    result = require(resolve(backend), Exports, "export models").export(job_id, out_dir, merge=merge)
    if as_json:
        print_json(result)
        return
    out.print(f"wrote the {result.kind} to {result.out}")
    out.print(f"serve it with: {result.vllm}")
