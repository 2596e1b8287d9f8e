"""ftadvisor's objects in OpenAI's exact JSON shapes (what the ``openai`` SDK's types parse), and OpenAI's
error envelope."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from ftadvisor.backends.base import METHOD_TYPES, Checkpoint, Completion, FileRef, Job, JobEvent

ORGANIZATION = "org-ftadvisor-local"


def file_object(ref: FileRef, details: str | None = None) -> dict[str, Any]:
    return {
        "id": ref.id,
        "object": "file",
        "bytes": ref.bytes,
        "created_at": ref.created_at or 0,
        "filename": ref.filename,
        "purpose": ref.purpose,
        "status": ref.status or "processed",
        "status_details": details,
        "expires_at": None,
    }


def job_object(job: Job) -> dict[str, Any]:
    kind = METHOD_TYPES[job.method]
    hyper = {k: job.hyperparameters.get(k, "auto") for k in ("n_epochs", "batch_size", "learning_rate_multiplier")}
    if job.method == "dpo":
        hyper["beta"] = job.hyperparameters.get("beta", "auto")
    error = {"code": job.error.code, "message": job.error.message, "param": job.error.param} if job.error else None
    return {
        "object": "fine_tuning.job",
        "id": job.id,
        "model": job.model,
        "created_at": job.created_at or 0,
        "finished_at": job.finished_at,
        "fine_tuned_model": job.fine_tuned_model,
        "organization_id": ORGANIZATION,
        "result_files": job.result_files,
        "status": job.status,
        "validation_file": job.validation_file,
        "training_file": job.training_file,
        "hyperparameters": hyper,
        "trained_tokens": job.trained_tokens,
        "error": error,
        "seed": job.seed if job.seed is not None else 0,
        "estimated_finish": job.estimated_finish,
        "integrations": [],
        "metadata": job.metadata or None,
        "method": {"type": kind, kind: {"hyperparameters": hyper}},
    }


def event_object(e: JobEvent) -> dict[str, Any]:
    return {
        "object": "fine_tuning.job.event",
        "id": e.id,
        "created_at": e.created_at,
        "level": e.level,
        "message": e.message,
        "data": e.data or {},
        "type": e.type or "message",
    }


def checkpoint_object(c: Checkpoint, job_id: str) -> dict[str, Any]:
    return {
        "object": "fine_tuning.job.checkpoint",
        "id": c.id,
        "created_at": c.created_at,
        "fine_tuned_model_checkpoint": c.fine_tuned_model_checkpoint,
        "step_number": c.step_number,
        "metrics": {k: v for k, v in c.metrics.items() if v is not None},
        "fine_tuning_job_id": job_id,
    }


def model_object(model_id: str, created: int, owned_by: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def page(data: list[dict[str, Any]], has_more: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"object": "list", "data": data, "has_more": has_more}
    if data and "id" in data[0]:
        out.update(first_id=data[0]["id"], last_id=data[-1]["id"])
    return out


def _usage(c: Completion) -> dict[str, Any]:
    return {
        "prompt_tokens": c.usage.prompt_tokens,
        "completion_tokens": c.usage.completion_tokens,
        "total_tokens": c.usage.prompt_tokens + c.usage.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": c.usage.cached_tokens},
        "completion_tokens_details": {"reasoning_tokens": 0},
    }


def chat_completion(c: Completion, model: str, finish_reason: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-" + uuid.uuid4().hex[:24],
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "finish_reason": finish_reason,
                "logprobs": None,
                "message": {"role": "assistant", "content": c.text, "refusal": None},
            }
        ],
        "usage": _usage(c),
    }


class ChunkStream:
    """One streamed answer as OpenAI's ``chat.completion.chunk`` objects: the role first, then text deltas, the
    finish reason, and (with ``stream_options.include_usage``) a last chunk with the usage and no choices."""

    def __init__(self, model: str) -> None:
        self.id, self.created, self.model = "chatcmpl-" + uuid.uuid4().hex[:24], int(time.time()), model

    def _chunk(self, choices: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": choices,
            **extra,
        }

    def first(self) -> dict[str, Any]:
        return self._chunk(
            [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None, "logprobs": None}]
        )

    def delta(self, text: str) -> dict[str, Any]:
        return self._chunk([{"index": 0, "delta": {"content": text}, "finish_reason": None, "logprobs": None}])

    def finish(self, reason: str) -> dict[str, Any]:
        return self._chunk([{"index": 0, "delta": {}, "finish_reason": reason, "logprobs": None}])

    def usage(self, c: Completion) -> dict[str, Any]:
        return self._chunk([], usage=_usage(c))

    @staticmethod
    def sse(chunk: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(chunk)}\n\n".encode()


def error_body(
    message: str, *, type_: str = "invalid_request_error", param: str | None = None, code: str | None = None
) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_, "param": param, "code": code}}
