"""The migration kit's first step: know what you have before OpenAI turns it off (2027-01-14).

``inventory`` reads every fine-tuning job of the organisation (every page of the list), and for each
fine-tuned model: its base, creation date, hyperparameters, suffix and metadata, the days it has left, whether
the files it trained on can still be downloaded whole (size and line count), the road it could move to and
roughly what retraining there costs. Riskiest first. It only reads: nothing is created or paid for.
``fetch_whole`` is the one download rule of the kit: a file shorter than the provider says is refused.
``plan_record``/``run_record`` keep the hosted model's own answers to the team's prompts (priced first,
journaled per prompt in the ledger so a rerun asks only what is missing), the one step that cannot be done
after the shutdown.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from pydantic import BaseModel

from ftadvisor.advisor.availability import CustomerAnswer, availability
from ftadvisor.advisor.costs import request_cost
from ftadvisor.backends.azure import DEFAULT_API_VERSION as AZURE_API_VERSION
from ftadvisor.backends.base import Backend, Completion, Job
from ftadvisor.errors import FtAdvisorError, InputError
from ftadvisor.pricing.catalogue import Catalogue
from ftadvisor.tokens import base_model

# Where a model goes when the Azure bridge is closed to this organisation: the per-token open road (the
# base Together serves as a serverless LoRA, so the replacement costs nothing while idle).
OPEN_ROAD = ("together", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference")


@runtime_checkable
class WholeFiles(Protocol):
    """A provider that says how large its files are, so a download can be checked whole."""

    name: ClassVar[str]

    def file_bytes(self, file_id: str) -> int: ...
    def download(self, file_id: str) -> bytes: ...


@runtime_checkable
class HostedSource(WholeFiles, Protocol):
    """What the inventory reads from a hosted provider (OpenAI and Azure implement it)."""

    def all_jobs(self) -> list[Job]: ...


def fetch_whole(source: WholeFiles, file_id: str) -> bytes:
    """A file's content, refused when fewer bytes arrive than the provider records for it (a download cut
    short at a line end still parses, and would train on part of the data as if it were all of it)."""
    expected = source.file_bytes(file_id)
    content = source.download(file_id)
    if len(content) != expected:
        raise InputError(
            f"{file_id}: {len(content):,} bytes arrived of the {expected:,} {source.name} records for it: the "
            "download was cut short; nothing was written or trained on, try again"
        )
    return content


class FileCheck(BaseModel):
    file_id: str
    bytes: int | None = None  # as the provider records it
    lines: int | None = None  # non-empty lines of the whole download
    downloadable: bool
    problem: str | None = None


class InventoryRow(BaseModel):
    fine_tuned_model: str
    job_id: str
    base: str
    created: dt.date | None
    method: str
    hyperparameters: dict[str, object]
    suffix: str | None
    metadata: dict[str, str]
    trained_tokens: int | None
    shutdown: dt.date | None
    days_left: int | None
    training: FileCheck | None
    validation: FileCheck | None
    target: str  # the backend it could move to
    target_model: str
    target_note: str
    retrain_usd: float | None  # training on the target at the tokens the job was billed for
    risk: str  # one line: why this row sits where it does


def _check(source: HostedSource, file_id: str | None) -> FileCheck | None:
    if not file_id:
        return None
    try:
        content = fetch_whole(source, file_id)
    except FtAdvisorError as exc:
        return FileCheck(file_id=file_id, downloadable=False, problem=str(exc))
    return FileCheck(
        file_id=file_id, bytes=len(content), lines=sum(1 for x in content.splitlines() if x.strip()), downloadable=True
    )


def _suffix(fine_tuned_model: str) -> str | None:
    """The suffix of ``ft:base:org:suffix:id`` (empty parts are None)."""
    parts = fine_tuned_model.split(":")
    return (parts[3] or None) if len(parts) == 5 else None


def _target(cat: Catalogue, base: str, today: dt.date, customer: CustomerAnswer) -> tuple[str, str, str]:
    """The road a model of ``base`` could move to: the Azure bridge where this customer may take it, else
    the per-token open road."""
    azure = cat.find(base, provider="azure")
    if azure is not None and azure.shutdown is not None:
        av = availability(azure, cat, today=today, customer=customer)
        if av.can_create_job is not False:
            note = f"same model until {azure.shutdown}, then move again"
            return "azure", azure.id, note + ("; existing Azure customers only" if av.can_create_job is None else "")
    return OPEN_ROAD[0], OPEN_ROAD[1], "an open model, per token, whose weights you can download"


def inventory(
    source: HostedSource, cat: Catalogue, *, today: dt.date, customer: CustomerAnswer = "unknown"
) -> list[InventoryRow]:
    """Every fine-tuned model of the organisation with what moving it needs, riskiest first: files that can
    no longer be downloaded whole (only recorded answers can carry it over), then the fewest days left."""
    rows = []
    for job in source.all_jobs():
        if not job.fine_tuned_model:
            continue
        base = base_model(job.fine_tuned_model)
        entry = cat.find(base, provider="openai")
        shutdown = entry.shutdown if entry else None
        training, validation = _check(source, job.training_file), _check(source, job.validation_file)
        target, target_model, note = _target(cat, base, today, customer)
        target_entry = cat.find(target_model, provider=target)
        retrain = (
            target_entry.training_cost(job.trained_tokens)
            if target_entry is not None and job.trained_tokens is not None
            else None
        )
        days_left = None if shutdown is None else max(0, (shutdown - today).days)
        if training is None or not training.downloadable:
            risk = "files not whole: its own answers are the only data left; keep them before it shuts down"
        elif days_left is not None:
            risk = f"{days_left} days until {shutdown}"
        else:
            risk = "no shutdown date known"
        rows.append(
            InventoryRow(
                fine_tuned_model=job.fine_tuned_model,
                job_id=job.id,
                base=base,
                created=dt.datetime.fromtimestamp(job.created_at, dt.timezone.utc).date() if job.created_at else None,
                method=job.method,
                hyperparameters=job.hyperparameters,
                suffix=_suffix(job.fine_tuned_model),
                metadata=job.metadata,
                trained_tokens=job.trained_tokens,
                shutdown=shutdown,
                days_left=days_left,
                training=training,
                validation=validation,
                target=target,
                target_model=target_model,
                target_note=note,
                retrain_usd=retrain,
                risk=risk,
            )
        )
    rows.sort(key=lambda r: (r.training is not None and r.training.downloadable, r.days_left is None, r.days_left or 0))
    return rows


# --- record: the hosted model's own answers, kept before it is gone ---------------------------------------------


class Prompt(BaseModel):
    line: int
    key: str  # digest of the messages: the journal's key, so a rerun asks only what is missing
    messages: list[dict[str, Any]]


class RecordPlan(BaseModel):
    model: str
    prompts_file: str
    prompts_sha256: str
    prompts: list[Prompt]
    already: int  # answered in an earlier run: not asked again
    input_tokens: int  # of the prompts still to ask
    max_tokens: int
    usd_at_most: float | None  # input at the fine-tuned price + max_tokens of output per prompt
    price_note: str


class RecordResult(BaseModel):
    model: str
    out: str
    manifest: str
    answered: int  # in this run
    total: int
    prompt_tokens: int
    completion_tokens: int
    usd: float | None


def _chat_lines(path: Path, what: str) -> Iterator[tuple[int, dict[str, Any], list[dict[str, Any]]]]:
    """(line number, the line's object, its messages) of a chat JSONL file; a line that is not one is named
    by file and line, before anything is asked or written."""
    from ftadvisor.userfiles import read_text

    for n, raw in enumerate(read_text(path, what).splitlines(), 1):
        if not raw.strip():
            continue
        try:
            item = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}:{n}: invalid_json: column {exc.colno}: {exc.msg}") from None
        messages = item.get("messages") if isinstance(item, dict) else None
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise InputError(f"{path}:{n}: messages: expected a non-empty list of chat messages")
        yield n, item, messages


def _prompt_key(messages: list[dict[str, Any]]) -> str:
    """A chat without its final answer, canonically: the same prompt gives the same key wherever it appears."""
    body = messages[:-1] if messages and messages[-1].get("role") == "assistant" else messages
    return json.dumps(body, sort_keys=True, ensure_ascii=False)


def read_prompts(path: Path) -> list[Prompt]:
    """Chats to ask: each line's messages up to (not including) a final assistant turn, so a training file's
    own examples serve as prompts. Bad lines are named by file and line, nothing is asked."""
    prompts = []
    for n, _, messages in _chat_lines(path, "prompts file"):
        if messages[-1].get("role") == "assistant":
            messages = messages[:-1]
        if not messages or messages[-1].get("role") not in ("user", "tool"):
            raise InputError(f"{path}:{n}: messages: the chat must end with a user turn to be answered")
        key = hashlib.sha256(_prompt_key(messages).encode()).hexdigest()[:24]
        prompts.append(Prompt(line=n, key=key, messages=messages))
    if not prompts:
        raise InputError(f"{path}: no prompts")
    return prompts


def _journal_ref(model: str, key: str) -> str:
    return f"{model}#{key}"


def _fine_tuned_usd(cat: Catalogue, model: str, input_tokens: float, output_tokens: float) -> float | None:
    """What ``model`` (a hosted fine-tune) bills for these tokens; None when the catalogue cannot price it."""
    entry = cat.find(model, provider="openai")
    if entry is None or entry.ft_input is None or entry.ft_output is None:
        return None
    return request_cost(entry, "ft", input_tokens, output_tokens)


def plan_record(model: str, prompts_file: Path, cat: Catalogue, ledger: Any, *, max_tokens: int = 1024) -> RecordPlan:
    """What recording will ask and cost, before anything is sent: prompts answered by an earlier run are
    skipped (the ledger's journal), the rest priced at the model's fine-tuned input price plus ``max_tokens``
    of output each (an upper bound: answers stop earlier)."""
    from ftadvisor.tokens import TokenCounter, encoding_name_for_model
    from ftadvisor.train import file_sha256

    prompts = read_prompts(prompts_file)
    done = ledger.recorded_answers(model) if ledger is not None else {}
    todo = [p for p in prompts if _journal_ref(model, p.key) not in done]
    counter = TokenCounter(encoding_name_for_model(model))
    tokens = sum(sum(counter.message(m) for m in p.messages) for p in todo)
    usd = _fine_tuned_usd(cat, model, tokens, len(todo) * max_tokens)
    note = (
        f"{tokens:,} input tokens + up to {max_tokens:,} output tokens each, at {model}'s fine-tuned prices"
        if usd is not None
        else f"{model} is not in the price catalogue: cost unknown"
    )
    return RecordPlan(
        model=model,
        prompts_file=str(prompts_file),
        prompts_sha256=file_sha256(prompts_file),
        prompts=prompts,
        already=len(prompts) - len(todo),
        input_tokens=tokens,
        max_tokens=max_tokens,
        usd_at_most=usd,
        price_note=note,
    )


def run_record(
    plan: RecordPlan,
    source: Backend,
    ledger: Any,
    out: Path,
    *,
    concurrency: int = 4,
    cat: Catalogue,
    on_answer: Callable[[int, int], None] | None = None,
) -> RecordResult:
    """Ask each prompt not yet answered, ``concurrency`` at a time; every answer goes into the ledger's journal
    and the output file the moment it arrives, so an interrupted run loses at most the prompts in flight
    (asked again by the next run). The output is OpenAI's chat format: the prompt plus the hosted answer as
    the assistant turn, in the prompts' order, with a manifest beside it."""
    from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

    from ftadvisor.data.jsonl import atomic_writer

    def line(p: Prompt, answer: dict[str, Any]) -> str:
        return json.dumps({"messages": [*p.messages, {"role": "assistant", "content": answer["text"]}]}) + "\n"

    answers: dict[str, dict[str, Any]] = {
        ref.split("#", 1)[1]: data for ref, data in ledger.recorded_answers(plan.model).items()
    }
    by_key = {p.key: p for p in plan.prompts}
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_writer(out, "w") as f:  # what earlier runs recorded, then each new answer as it arrives
        f.writelines(line(by_key[k], a) for k, a in answers.items() if k in by_key)
    todo = [p for p in plan.prompts if p.key not in answers]
    asked = 0
    with out.open("a", encoding="utf-8") as f, ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        pending: dict[Future[Completion], Prompt] = {}
        queue = iter(todo)
        try:
            while True:
                while len(pending) < max(1, concurrency) and (p := next(queue, None)) is not None:
                    pending[pool.submit(source.complete, plan.model, p.messages, max_tokens=plan.max_tokens)] = p
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    p = pending.pop(fut)
                    c = fut.result()
                    answer = {"text": c.text, "usage": c.usage.model_dump(), "line": p.line}
                    ledger.record("recorded_answer", answer, ref=_journal_ref(plan.model, p.key))
                    answers[p.key] = answer
                    f.write(line(p, answer))
                    f.flush()
                    asked += 1
                    if on_answer is not None:
                        on_answer(asked, len(todo))
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    with atomic_writer(out, "w") as f:  # the prompts' order, now that every answer is in
        f.writelines(line(p, answers[p.key]) for p in plan.prompts if p.key in answers)
    usage = [answers[p.key]["usage"] for p in plan.prompts if p.key in answers]
    prompt_tokens = sum(u["prompt_tokens"] for u in usage)
    completion_tokens = sum(u["completion_tokens"] for u in usage)
    usd = _fine_tuned_usd(cat, plan.model, prompt_tokens, completion_tokens)
    manifest = out.with_suffix(".manifest.json")
    result = RecordResult(
        model=plan.model,
        out=str(out),
        manifest=str(manifest),
        answered=asked,
        total=len(usage),
        prompt_tokens=prompt_tokens,
        completion_tokens=completion_tokens,
        usd=usd,
    )
    with atomic_writer(manifest, "w") as f:
        json.dump(
            {
                **result.model_dump(mode="json"),
                "prompts_file": plan.prompts_file,
                "prompts_sha256": plan.prompts_sha256,
                "prompts": len(plan.prompts),
                "recorded_on": dt.date.today().isoformat(),
            },
            f,
            indent=2,
        )
    ledger.record("recording", result, ref=plan.model)
    return result


# --- cut over: what changes in the team's client code ------------------------------------------------------------


def cut_over(target: str, new_model: str, job_id: str) -> list[str]:
    """The lines to change in an OpenAI SDK client so that it calls the replacement instead of the hosted
    fine-tune: base URL, key variable and model name, per road."""
    if target == "azure":
        return [
            "deploy it first: ftadvisor jobs deploy " + new_model + " --name NAME (billed per hour while deployed)",
            "client = AzureOpenAI(azure_endpoint=os.environ['AZURE_OPENAI_ENDPOINT'], "
            f"api_key=os.environ['AZURE_OPENAI_API_KEY'], api_version='{AZURE_API_VERSION}')",
            "model='NAME' (the deployment's name, not the fine-tune's id)",
        ]
    if target == "together":
        return [
            "client = OpenAI(base_url='https://api.together.xyz/v1', api_key=os.environ['TOGETHER_API_KEY'])",
            f"model='{new_model}' (served per token where Together lists the base for serverless LoRA, "
            "else start a dedicated endpoint for it and use its name)",
        ]
    if target == "local":
        return [
            f"export the adapter: ftadvisor export {job_id} --out ADAPTER (it prints the vLLM line: vllm serve "
            "BASE --enable-lora --lora-modules NAME=ADAPTER)",
            "client = OpenAI(base_url='http://127.0.0.1:8000/v1', api_key=os.environ['VLLM_API_KEY'])",
            "model='NAME' (the --lora-modules name)",
        ]
    return [f"model='{new_model}' on the {target} backend (see its documentation for the base URL and key)"]


# --- status: how far each hosted model's move got, from the ledger ----------------------------------------------


class MoveStatus(BaseModel):
    hosted_model: str
    inventoried: str | None = None  # when (the ledger's timestamps)
    days_left: int | None = None  # at the inventory
    recorded: int = 0  # answers kept by `migrate record`
    trained: str | None = None  # the replacement's model
    training_status: str | None = None
    judged: bool = False  # both answered the held-out examples (an evaluation run exists)
    next_step: str


def move_status(ledger: Any) -> list[MoveStatus]:
    """Per hosted model seen by the kit: inventoried, recorded, trained, judged; and what to do next. The
    cut-over itself happens in the team's code, so it is the next step once a replacement is judged."""
    rows: dict[str, MoveStatus] = {}

    def row(model: str) -> MoveStatus:
        return rows.setdefault(model, MoveStatus(hosted_model=model, next_step=""))

    for r in reversed(ledger.records("inventory_row", limit=10_000)):
        data = json.loads(r["data"])
        s = row(r["ref"])
        s.inventoried, s.days_left = r["created_at"], data.get("days_left")
    for r in reversed(ledger.records("recording", limit=10_000)):
        row(r["ref"]).recorded = json.loads(r["data"])["total"]
    for r in reversed(ledger.records("migration", limit=10_000)):
        data = json.loads(r["data"])
        s = row(data["plan"]["source"]["hosted_model"])
        s.trained, s.training_status = data.get("new_model"), data["job"]["status"]
        s.judged = bool(data.get("eval_id"))
    for s in rows.values():
        if s.judged:
            s.next_step = "cut over: change the client as `migrate run` printed"
        elif s.training_status is not None:
            s.next_step = "train it again: the last replacement did not succeed"
        elif s.recorded:
            s.next_step = f"ftadvisor migrate run {s.hosted_model} --to TARGET --dry-run"
        else:
            s.next_step = f"ftadvisor migrate record {s.hosted_model} --prompts PROMPTS --out KEPT"
    return sorted(rows.values(), key=lambda s: (s.days_left is None, s.days_left or 0, s.hosted_model))


# --- train on the best data there is: the job's own files, the recorded answers, or both -------------------------

TrainOn = Literal["original", "recorded", "both"]
HELD_OUT_SHARE = 0.2
HELD_OUT_MIN = 20


class RecordedSplit(BaseModel):
    """Which recorded answers are held out for judging (never trained on) and what the replacement trains on."""

    recorded_file: str
    train_on: TrainOn
    seed: int
    held_out_lines: list[int]  # line numbers of the recorded file
    test_file: str
    train_file: str
    n_train: int
    dropped_for_leakage: int  # training examples whose prompt is a held-out prompt


def split_recorded(recorded: Path, original: Path, workdir: Path, *, train_on: TrainOn, seed: int = 0) -> RecordedSplit:
    """Hold out a seeded share of the recorded answers (20 %, at least 20 when there are 40 or more) as the
    gold set, and write the training file: the job's own examples, the other recorded answers, or both,
    deduplicated; an example whose prompt is held out is dropped so the judgment stays clean."""
    import random

    from ftadvisor.data.jsonl import atomic_writer

    records: list[tuple[int, dict[str, Any]]] = []
    for n, item, messages in _chat_lines(recorded, "recorded answers file"):
        if messages[-1].get("role") != "assistant":
            raise InputError(f"{recorded}:{n}: messages: a recorded example ends with the hosted answer")
        records.append((n, item))
    if len(records) < 2:
        raise InputError(f"{recorded}: fewer than 2 recorded answers: nothing to hold out and train on")
    hold = max(round(HELD_OUT_SHARE * len(records)), min(HELD_OUT_MIN, len(records) // 2))
    order = list(range(len(records)))
    random.Random(seed).shuffle(order)
    held = sorted(order[:hold])
    held_keys = {_prompt_key(records[i][1]["messages"]) for i in held}
    pool: list[dict[str, Any]] = []
    if train_on in ("original", "both"):
        pool += [json.loads(x) for x in original.read_text(encoding="utf-8").splitlines() if x.strip()]
    if train_on in ("recorded", "both"):
        pool += [records[i][1] for i in sorted(order[hold:])]
    seen: set[str] = set()
    train, dropped = [], 0
    for item in pool:
        whole = json.dumps(item.get("messages"), sort_keys=True, ensure_ascii=False)
        if _prompt_key(item.get("messages") or []) in held_keys:
            dropped += 1
        elif whole not in seen:
            seen.add(whole)
            train.append(item)
    test_file, train_file = workdir / "recorded_held_out.jsonl", workdir / f"train_{train_on}.jsonl"
    with atomic_writer(test_file, "w") as f:
        f.writelines(json.dumps(records[i][1], ensure_ascii=False) + "\n" for i in held)
    with atomic_writer(train_file, "w") as f:
        f.writelines(json.dumps(x, ensure_ascii=False) + "\n" for x in train)
    split = RecordedSplit(
        recorded_file=str(recorded),
        train_on=train_on,
        seed=seed,
        held_out_lines=[records[i][0] for i in held],
        test_file=str(test_file),
        train_file=str(train_file),
        n_train=len(train),
        dropped_for_leakage=dropped,
    )
    with atomic_writer(workdir / "recorded_split.json", "w") as f:
        f.write(split.model_dump_json(indent=2))
    return split
