"""Fine-tuning backends behind one interface that mirrors OpenAI's objects."""

from __future__ import annotations

from ftadvisor.backends.base import (
    TERMINAL,
    Backend,
    Checkpoint,
    Completion,
    FileRef,
    Job,
    JobEvent,
    JobSpec,
    Usage,
    wait,
)

__all__ = ["TERMINAL", "Backend", "Checkpoint", "Completion", "FileRef", "Job", "JobEvent", "JobSpec", "Usage",
           "get_backend", "wait"]


def get_backend(name: str, **options: object) -> Backend:
    """The backend registered under ``name`` ("openai"; "local" arrives with the local_backend package)."""
    from ftadvisor.errors import InputError

    if name == "openai":
        from ftadvisor.backends.openai_api import OpenAIBackend

        return OpenAIBackend(**options)  # type: ignore[arg-type]
    if name == "local":
        try:
            from local_backend import LocalBackend
        except ImportError as exc:
            raise InputError(f"the local backend needs the `local` extra (torch, transformers, peft): {exc}") from exc
        return LocalBackend(**options)  # type: ignore[arg-type]
    raise InputError(f"unknown backend {name!r}: available: openai, local")
