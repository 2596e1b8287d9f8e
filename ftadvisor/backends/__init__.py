"""Fine-tuning backends behind one provider-neutral interface (see ``base``), found through entry points
(see ``registry``)."""

from __future__ import annotations

from ftadvisor.backends.base import (
    ACTIVE,
    RUN_KEY,
    TERMINAL,
    Backend,
    BackendOptions,
    Checkpoint,
    Completion,
    FileRef,
    Job,
    JobEvent,
    JobSpec,
    Usage,
    capabilities,
    new_run_id,
    wait,
)
from ftadvisor.backends.registry import backend_class, get_backend, infer_backend, names

__all__ = [
    "ACTIVE",
    "RUN_KEY",
    "TERMINAL",
    "Backend",
    "BackendOptions",
    "Checkpoint",
    "Completion",
    "FileRef",
    "Job",
    "JobEvent",
    "JobSpec",
    "Usage",
    "backend_class",
    "capabilities",
    "get_backend",
    "infer_backend",
    "names",
    "new_run_id",
    "wait",
]
