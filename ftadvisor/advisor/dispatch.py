"""Decide, then dispatch: which backend and model a training job goes to, from the advice.

``train --backend auto`` prices the dataset's own fine-tune with :func:`economics.decide` and sends the job
where the recommendation says. When the advice is not a fine-tune it stops with the reasons, unless forced.
"""

from __future__ import annotations

from pydantic import BaseModel

from ftadvisor.advisor.economics import Decision
from ftadvisor.errors import FtAdvisorError


class NotAFineTune(FtAdvisorError):
    """The advice says prompt, few-shot or RAG: nothing was sent."""

    exit_code = 1


class Dispatch(BaseModel):
    backend: str  # "openai", "together" or "local"
    model: str
    choice: str
    forced: bool
    note: str | None = None


def dispatch(d: Decision, *, local_model: str | None, force: bool = False) -> Dispatch:
    """The backend and model of the recommended fine-tune; ``local_model`` is the open model trained locally."""
    rec = d.recommendation
    hosted, serverless = d.economics.option("hosted"), d.economics.option("serverless")
    forced = "fine-tune" not in rec.choice
    if forced and not force:
        raise NotAFineTune(
            f"the advice is {rec.choice}, not a fine-tune, so nothing was sent: "
            + "; ".join(rec.reasons[-2:])
            + ". Pass --force to train anyway"
        )
    if forced:
        open_hosted = hosted is not None and hosted.availability is not None and hosted.availability.can_create_job
        kind = "hosted" if open_hosted else "local"
    elif serverless is not None and rec.model == serverless.model:
        kind = "serverless"
    elif rec.choice == "fine-tune-hosted" or (hosted is not None and rec.model == hosted.model):
        kind = "hosted"
    else:
        kind = "local"
    note = (
        "set up retrieval (RAG) for the facts; this job trains the behaviour" if rec.choice == "rag+fine-tune" else None
    )
    if kind == "serverless":
        assert serverless is not None
        return Dispatch(
            backend=serverless.provider, model=serverless.model, choice=rec.choice, forced=forced, note=note
        )
    if kind == "hosted":
        assert hosted is not None
        return Dispatch(backend="openai", model=hosted.model, choice=rec.choice, forced=forced, note=note)
    if not local_model:
        raise FtAdvisorError(
            "the advice is a local fine-tune: give --model, the open model to train here (a folder, "
            "a .gguf file or the built-in smollm2-135m-instruct)"
        )
    return Dispatch(backend="local", model=local_model, choice=rec.choice, forced=forced, note=note)
