"""The ASGI app of ``ftadvisor serve``: OpenAI's files, fine-tuning, models and chat endpoints over the local
backend, in OpenAI's shapes and error envelope, behind bearer keys.

Handlers are plain functions (Starlette runs them in its thread pool); generation is serialised by one lock
because one base model with its adapters is loaded once and shared. Ids are opaque: the local backend accepts
only ids of its own shape, so nothing a client sends becomes a path.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import re
import tempfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ftadvisor.backends.base import RUN_KEY, JobSpec, Method
from ftadvisor.errors import FtAdvisorError
from ftadvisor.server import shapes

BUILTIN_MODEL = "smollm2-135m-instruct"
MAX_UPLOAD_BYTES = 512 * 1024 * 1024
MAX_BODY_BYTES = 4 * 1024 * 1024  # JSON requests (chat, job creation)
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,100}")
METHODS: dict[str, Method] = {"supervised": "sft", "dpo": "dpo"}


class HTTPError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        type_: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.status, self.param, self.code, self.type = status, param, code, type_


@dataclass
class ServerConfig:
    keys: list[str] = field(default_factory=list)
    models: dict[str, str] = field(default_factory=dict)  # name -> path or built-in alias
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    max_batch: int = 16  # chat requests generated together; 1 serves them one by one
    max_queued: int = 100  # jobs waiting beyond this are refused with 429
    schedule_every_s: float = 1.0


class Owners:
    """Which key made each file and job (a digest of it, never the key): each key sees only its own. One small
    file per object, written once, so concurrent requests never contend."""

    def __init__(self, root: Path, enabled: bool) -> None:
        self.dir, self.enabled = root / "server" / "owners", enabled

    def claim(self, object_id: str, owner: str) -> None:
        if self.enabled:
            self.dir.mkdir(parents=True, exist_ok=True)
            (self.dir / object_id).write_text(owner)

    def owns(self, object_id: str, owner: str) -> bool:
        if not self.enabled:
            return True
        if not _SAFE_ID.fullmatch(object_id):  # what a client sends is never a path
            return False
        path = self.dir / object_id
        return path.is_file() and hmac.compare_digest(path.read_text(), owner)


def _bearer_ok(request: Request, keys: list[str]) -> bool:
    if not keys:
        return True
    given = request.headers.get("authorization", "").removeprefix("Bearer ").strip().encode()
    ok = False
    for key in keys:  # every key is compared, in constant time, so timing tells nothing
        ok |= hmac.compare_digest(given, key.encode())
    return ok


def _owner(request: Request) -> str:
    key = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def create_app(config: ServerConfig, backend: Any) -> Starlette:
    """The app over ``backend`` (a LocalBackend with ``max_running`` set: jobs wait in its on-disk queue). At
    start-up, jobs whose worker died (a crash, a reboot) are queued again from their last checkpoint; a
    background thread starts queued jobs as the device frees up."""
    from ftadvisor.server.batching import Batcher

    models = {BUILTIN_MODEL: BUILTIN_MODEL, **config.models}
    owners = Owners(backend.root, enabled=bool(config.keys))
    asked = backend.root / "server" / "models"  # job id -> the model name the client asked for

    def view(job: Any) -> dict[str, Any]:
        """The job as OpenAI shows it, with the base model under the name the client used."""
        name = asked / job.id
        return shapes.job_object(job.model_copy(update={"model": name.read_text()}) if name.is_file() else job)

    batcher = Batcher(
        lambda model, convs, max_tokens, temperature, seed: backend.complete_many(
            model, convs, max_tokens=max_tokens, temperature=temperature, seed=seed
        ),
        max_batch=config.max_batch,
    )
    backend.recover()
    stop = threading.Event()

    def scheduler() -> None:
        while not stop.wait(config.schedule_every_s):
            try:
                backend.schedule()
            except FtAdvisorError:  # a damaged job folder must not stop the queue
                continue

    threading.Thread(target=scheduler, daemon=True, name="ftadvisor-scheduler").start()

    def guarded(handler: Callable[..., Any]) -> Callable[[Request], Any]:
        """Auth, then the handler; every failure becomes OpenAI's error envelope."""

        async def endpoint(request: Request) -> Response:
            from starlette.concurrency import run_in_threadpool

            if not _bearer_ok(request, config.keys):
                return JSONResponse(
                    shapes.error_body("Incorrect API key provided.", code="invalid_api_key"), status_code=401
                )
            try:
                body = await _body(request, handler)
                result = await run_in_threadpool(handler, request, body)
            except HTTPError as exc:
                return JSONResponse(
                    shapes.error_body(str(exc), type_=exc.type, param=exc.param, code=exc.code), status_code=exc.status
                )
            except FtAdvisorError as exc:
                return JSONResponse(shapes.error_body(str(exc)), status_code=400)
            return result if isinstance(result, Response) else JSONResponse(result)

        return endpoint

    async def _body(request: Request, handler: Callable[..., Any]) -> Any:
        if request.method != "POST":
            return None
        size = int(request.headers.get("content-length") or 0)
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            if size > config.max_upload_bytes:
                raise HTTPError(
                    413,
                    f"the file is larger than this server accepts ({config.max_upload_bytes:,} bytes)",
                    code="file_too_large",
                )
            form = await request.form(max_files=1, max_part_size=config.max_upload_bytes)
            upload = form.get("file")
            if upload is None or isinstance(upload, str):
                raise HTTPError(400, "no file in the request", param="file")
            with tempfile.NamedTemporaryFile(delete=False, suffix=".jsonl") as tmp:
                tmp.write(await upload.read())
            return {"path": tmp.name, "filename": upload.filename or "upload.jsonl", "purpose": form.get("purpose")}
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise HTTPError(413, "request body too large", code="request_too_large")
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError:
            raise HTTPError(400, "the request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise HTTPError(400, "the request body must be a JSON object")
        return data

    # --- files ----------------------------------------------------------------------------------------------

    def create_file(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        from ftadvisor.data.validate import validate_file

        path = Path(body["path"])
        try:
            if body.get("purpose") != "fine-tune":
                raise HTTPError(400, "this server stores files for purpose 'fine-tune' only", param="purpose")
            ref = backend.upload(path, filename=body["filename"])
            owners.claim(ref.id, _owner(request))
        finally:
            path.unlink(missing_ok=True)
        report = validate_file(backend.file_path(ref.id))
        errors = report.blocking_errors()
        if errors:
            details = "; ".join(p.format(ref.filename) for p in errors[:5])
            return shapes.file_object(backend.mark_file(ref.id, "error", details), details)
        return shapes.file_object(ref)

    def list_files(request: Request, body: None) -> dict[str, Any]:
        me = _owner(request)
        return shapes.page([shapes.file_object(r) for r in backend.list_files() if owners.owns(r.id, me)])

    def _file(file_id: str, request: Request) -> tuple[Any, str | None]:
        try:
            if not owners.owns(file_id.partition(":")[0], _owner(request)):
                raise FtAdvisorError("not yours")
            return backend.file_ref(file_id)
        except FtAdvisorError:
            raise HTTPError(404, f"No such File object: {file_id}", param="id", code="file_not_found") from None

    def get_file(request: Request, body: None) -> dict[str, Any]:
        ref, details = _file(request.path_params["file_id"], request)
        return shapes.file_object(ref, details)

    def file_content(request: Request, body: None) -> Response:
        file_id = request.path_params["file_id"]
        try:
            if not owners.owns(file_id.partition(":")[0], _owner(request)):  # a result file is its job's
                raise FtAdvisorError("not yours")
            data = backend.download(file_id) if ":" in file_id else backend.file_content(file_id)
        except FtAdvisorError:
            raise HTTPError(404, f"No such File object: {file_id}", param="id", code="file_not_found") from None
        return Response(data, media_type="application/octet-stream")

    def delete_file(request: Request, body: None) -> dict[str, Any]:
        file_id = request.path_params["file_id"]
        _file(file_id, request)
        backend.delete_file(file_id)
        return {"id": file_id, "object": "file", "deleted": True}

    # --- jobs -----------------------------------------------------------------------------------------------

    def create_job(request: Request, body: dict[str, Any]) -> dict[str, Any]:
        name = body.get("model")
        if not isinstance(name, str) or name not in models:
            raise HTTPError(
                404,
                f"The model {name!r} does not exist or you do not have access to it (this server "
                f"trains: {', '.join(models)})",
                param="model",
                code="model_not_found",
            )
        for param in ("training_file", "validation_file"):
            if body.get(param) is not None:
                _file_exists(str(body[param]), param, request)
        if body.get("training_file") is None:
            raise HTTPError(400, "training_file is required", param="training_file")
        method = body.get("method") or {"type": "supervised"}
        kind = method.get("type", "supervised")
        if kind not in METHODS:
            raise HTTPError(400, f"method {kind!r} is not supported here (supervised, dpo)", param="method.type")
        hyper = dict(body.get("hyperparameters") or {})
        hyper.update((method.get(kind) or {}).get("hyperparameters") or {})
        if backend.queued() >= config.max_queued:
            raise HTTPError(
                429,
                f"the queue is full ({config.max_queued} jobs waiting); retry later",
                code="queue_full",
                type_="rate_limit_error",
            )
        metadata = {str(k): str(v) for k, v in (body.get("metadata") or {}).items()}
        try:
            spec = JobSpec(
                model=models[name],
                training_file=body["training_file"],
                validation_file=body.get("validation_file"),
                method=METHODS[kind],
                hyperparameters={k: v for k, v in hyper.items() if v != "auto"},
                suffix=body.get("suffix"),
                seed=body.get("seed"),
                metadata={k: v for k, v in metadata.items() if k != RUN_KEY},
            )
        except ValueError as exc:
            raise HTTPError(400, f"invalid job: {exc}") from None
        job = backend.create_job(spec, run_id=metadata.get(RUN_KEY))
        owners.claim(job.id, _owner(request))
        asked.mkdir(parents=True, exist_ok=True)
        (asked / job.id).write_text(name)
        return view(job)

    def _file_exists(file_id: str, param: str, request: Request) -> None:
        try:
            if not owners.owns(file_id, _owner(request)):
                raise FtAdvisorError("not yours")
            ref, details = backend.file_ref(file_id)
        except FtAdvisorError:
            raise HTTPError(400, f"invalid {param}: {file_id}", param=param, code="invalid_file") from None
        if ref.status == "error":
            raise HTTPError(400, f"{param} {file_id} failed validation: {details}", param=param, code="invalid_file")

    def _job(job_id: str, request: Request) -> Any:
        try:
            if not owners.owns(job_id, _owner(request)):
                raise FtAdvisorError("not yours")
            return backend.get_job(job_id)
        except FtAdvisorError:
            raise HTTPError(
                404, f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id", code="fine_tune_not_found"
            ) from None

    def list_jobs(request: Request, body: None) -> dict[str, Any]:
        q = request.query_params
        limit = _limit(q.get("limit"), 20)
        wanted = {k[len("metadata[") : -1]: v for k, v in q.multi_items() if k.startswith("metadata[")}
        me = _owner(request)
        jobs = [
            j
            for j in backend.list_jobs(10_000)
            if all(j.metadata.get(k) == v for k, v in wanted.items()) and owners.owns(j.id, me)
        ]
        return _paged([view(j) for j in jobs], q.get("after"), limit)

    def get_job(request: Request, body: None) -> dict[str, Any]:
        return view(_job(request.path_params["job_id"], request))

    def change(action: Callable[[str], Any]) -> Callable[[Request, Any], dict[str, Any]]:
        def handler(request: Request, body: Any) -> dict[str, Any]:
            job_id = request.path_params["job_id"]
            _job(job_id, request)
            try:
                job = action(job_id)
            except FtAdvisorError as exc:
                raise HTTPError(409, str(exc), code="invalid_state") from None
            return view(job)

        return handler

    def events(request: Request, body: None) -> dict[str, Any]:
        job_id = request.path_params["job_id"]
        _job(job_id, request)
        q = request.query_params
        items = [shapes.event_object(e) for e in backend.list_events(job_id, limit=100_000)]
        return _paged(items, q.get("after"), _limit(q.get("limit"), 20))

    def checkpoints(request: Request, body: None) -> dict[str, Any]:
        job_id = request.path_params["job_id"]
        _job(job_id, request)
        q = request.query_params
        items = [shapes.checkpoint_object(c, job_id) for c in backend.list_checkpoints(job_id)]
        return _paged(items, q.get("after"), _limit(q.get("limit"), 10))

    # --- models and chat ------------------------------------------------------------------------------------

    def _fine_tunes(request: Request) -> list[Any]:
        me = _owner(request)
        return [
            j
            for j in backend.list_jobs(10_000)
            if j.status == "succeeded" and j.fine_tuned_model and owners.owns(j.id, me) and not backend.is_deleted(j.id)
        ]

    def list_models(request: Request, body: None) -> dict[str, Any]:
        bases = [shapes.model_object(n, 0, "ftadvisor") for n in models]
        tuned = [
            shapes.model_object(j.fine_tuned_model, j.finished_at or 0, shapes.ORGANIZATION)
            for j in _fine_tunes(request)
        ]
        return {"object": "list", "data": bases + tuned}

    def get_model(request: Request, body: None) -> dict[str, Any]:
        model = request.path_params["model"]
        if model in models:
            return shapes.model_object(model, 0, "ftadvisor")
        job = next((j for j in _fine_tunes(request) if j.fine_tuned_model == model), None)
        if job is None:
            raise HTTPError(404, f"The model {model!r} does not exist", param="model", code="model_not_found")
        return shapes.model_object(model, job.finished_at or 0, shapes.ORGANIZATION)

    def delete_model(request: Request, body: None) -> dict[str, Any]:
        model = request.path_params["model"]
        if not any(j.fine_tuned_model == model for j in _fine_tunes(request)):
            raise HTTPError(
                404,
                f"The model {model!r} does not exist or is not a fine-tune you own",
                param="model",
                code="model_not_found",
            )
        with batcher.lock:
            backend.delete_fine_tune(model)
        return {"id": model, "object": "model", "deleted": True}

    def chat(request: Request, body: dict[str, Any]) -> Response | dict[str, Any]:
        model = body.get("model")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
            raise HTTPError(400, "messages must be a non-empty list of messages", param="messages")
        if not isinstance(model, str):
            raise HTTPError(400, "model is required", param="model")
        target = models.get(model, model)
        if model not in models and not any(j.fine_tuned_model == model for j in _fine_tunes(request)):
            raise HTTPError(404, f"The model {model!r} does not exist", param="model", code="model_not_found")
        max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or 256
        if not isinstance(max_tokens, int) or max_tokens < 1:
            raise HTTPError(400, "max_tokens must be a positive integer", param="max_tokens")
        temperature = body.get("temperature")
        seed = body.get("seed")
        if seed is not None and not isinstance(seed, int):
            raise HTTPError(400, "seed must be an integer", param="seed")
        stops = [
            x
            for x in ([body.get("stop")] if isinstance(body.get("stop"), str) else body.get("stop") or [])
            if isinstance(x, str) and x
        ]
        prompt = [{"role": m.get("role"), "content": m.get("content") or ""} for m in messages]
        if body.get("stream"):
            usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                _stream(target, model, prompt, max_tokens, temperature, seed, stops, usage),
                media_type="text/event-stream",
            )
        try:
            c = batcher.submit(target, prompt, max_tokens, temperature, seed)
        except FtAdvisorError as exc:
            raise HTTPError(404, str(exc), param="model", code="model_not_found") from None
        finish = "length" if c.usage.completion_tokens >= max_tokens else "stop"
        for s in stops:
            if s in c.text:
                c = c.model_copy(update={"text": c.text[: c.text.index(s)]})
                finish = "stop"
        return shapes.chat_completion(c, model, finish)

    def _stream(
        target: str,
        model: str,
        prompt: list[dict[str, Any]],
        max_tokens: int,
        temperature: float | None,
        seed: int | None,
        stops: list[str],
        include_usage: bool,
    ) -> Iterator[bytes]:
        """Server-sent events as the tokens are generated (the shared model is held meanwhile). Whitespace at
        either end is held back, so the streamed text equals the non-streamed answer."""
        stream = shapes.ChunkStream(model)
        yield stream.sse(stream.first())
        sent, pending, started, stopped = "", "", False, False
        completion = None
        with batcher.lock:
            for item in backend.stream(target, prompt, max_tokens=max_tokens, temperature=temperature, seed=seed):
                if not isinstance(item, str):
                    completion = item
                    continue
                if stopped:
                    continue  # drain to the end for the usage, sending nothing more
                text = pending + item
                if not started:
                    text = text.lstrip()
                    started = bool(text)
                body = text.rstrip()
                pending = text[len(body) :]
                full = sent + body
                hits = [full.index(x) for x in stops if x in full]
                if hits:
                    body, stopped = full[len(sent) : min(hits)], True
                if body:
                    sent += body
                    yield stream.sse(stream.delta(body))
        assert completion is not None
        finish = "stop" if stopped or completion.usage.completion_tokens < max_tokens else "length"
        yield stream.sse(stream.finish(finish))
        if include_usage:
            yield stream.sse(stream.usage(completion))
        yield b"data: [DONE]\n\n"

    routes = [
        Route("/v1/files", guarded(create_file), methods=["POST"]),
        Route("/v1/files", guarded(list_files), methods=["GET"]),
        Route("/v1/files/{file_id}", guarded(get_file), methods=["GET"]),
        Route("/v1/files/{file_id}", guarded(delete_file), methods=["DELETE"]),
        Route("/v1/files/{file_id}/content", guarded(file_content), methods=["GET"]),
        Route("/v1/fine_tuning/jobs", guarded(create_job), methods=["POST"]),
        Route("/v1/fine_tuning/jobs", guarded(list_jobs), methods=["GET"]),
        Route("/v1/fine_tuning/jobs/{job_id}", guarded(get_job), methods=["GET"]),
        Route("/v1/fine_tuning/jobs/{job_id}/cancel", guarded(change(backend.cancel)), methods=["POST"]),
        Route("/v1/fine_tuning/jobs/{job_id}/pause", guarded(change(backend.pause)), methods=["POST"]),
        Route("/v1/fine_tuning/jobs/{job_id}/resume", guarded(change(backend.resume)), methods=["POST"]),
        Route("/v1/fine_tuning/jobs/{job_id}/events", guarded(events), methods=["GET"]),
        Route("/v1/fine_tuning/jobs/{job_id}/checkpoints", guarded(checkpoints), methods=["GET"]),
        Route("/v1/models", guarded(list_models), methods=["GET"]),
        Route("/v1/models/{model:path}", guarded(get_model), methods=["GET"]),
        Route("/v1/models/{model:path}", guarded(delete_model), methods=["DELETE"]),
        Route("/v1/chat/completions", guarded(chat), methods=["POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        stop.set()

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.batcher = batcher
    return app


def _limit(value: str | None, default: int) -> int:
    try:
        n = int(value) if value is not None else default
    except ValueError:
        raise HTTPError(400, "limit must be an integer", param="limit") from None
    if not 1 <= n <= 100:
        raise HTTPError(400, "limit must be between 1 and 100", param="limit")
    return n


def _paged(items: list[dict[str, Any]], after: str | None, limit: int) -> dict[str, Any]:
    """OpenAI's cursor pages: the items after the one whose id is ``after``, ``limit`` of them."""
    if after is not None:
        ids = [i["id"] for i in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return shapes.page(items[:limit], has_more=len(items) > limit)


def keys_from(flags: tuple[str, ...], keys_file: str | None) -> list[str]:
    """Bearer keys from ``--api-key`` flags, ``FTADVISOR_SERVER_KEYS`` (comma-separated) and a keys file (one
    per line)."""
    keys = [k for k in flags if k]
    keys += [k.strip() for k in os.environ.get("FTADVISOR_SERVER_KEYS", "").split(",") if k.strip()]
    if keys_file:
        keys += [line.strip() for line in Path(keys_file).read_text().splitlines() if line.strip()]
    return keys
