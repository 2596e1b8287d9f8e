"""Which backends exist and which one a job or model belongs to.

Backends register in the ``ftadvisor.backends`` entry-point group (``name = "module:Class"``), the way llm
plugins do: ftadvisor's own four (openai, azure, together, local) are declared in its ``pyproject.toml``, and a
separate package adds a provider by declaring one more. Nothing here imports a backend by name; a backend's
module is imported only when it is used.

A job id or model name picks its backend without ``--backend`` when that is unambiguous: first the ledger
(every job ftadvisor created is recorded with its backend), then each backend's ``owns()`` claim (2: it knows
the id, e.g. a local job on disk; 1: the id has its shape, e.g. Together's ``ft-<uuid>``).
"""

from __future__ import annotations

import functools
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from ftadvisor.backends.base import Backend
from ftadvisor.errors import InputError

GROUP = "ftadvisor.backends"


@functools.cache
def _registered() -> dict[str, EntryPoint]:
    found = {ep.name: ep for ep in entry_points(group=GROUP)}
    if not found:
        raise InputError(
            f"no backend is registered in the {GROUP!r} entry-point group: install ftadvisor "
            "(pip install -e .) so that its entry points exist"
        )
    return found


def names() -> list[str]:
    """Registered backend names, ftadvisor's own first."""
    order = ["openai", "azure", "together", "local"]
    reg = _registered()
    return [n for n in order if n in reg] + sorted(n for n in reg if n not in order)


@functools.cache
def backend_class(name: str) -> type[Any]:
    """The class registered as ``name`` (its module imported now)."""
    reg = _registered()
    if name not in reg:
        raise InputError(f"unknown backend {name!r}: available: {', '.join(names())}")
    try:
        return reg[name].load()
    except ImportError as exc:
        extra = {"local": "local", "together": "together"}.get(name, name)
        raise InputError(
            f"the {name} backend cannot be loaded ({exc}): install its extra, e.g. pip install 'ftadvisor[{extra}]'"
        ) from exc


def get_backend(name: str, **kwargs: Any) -> Backend:
    """A ready backend; credentials are read when it first calls its provider, not here."""
    backend: Backend = backend_class(name)(**kwargs)
    return backend


def infer_backend(ref: str, *, ledger_backend: str | None = None) -> str:
    """The backend a job id or model name belongs to. ``ledger_backend`` is what the ledger recorded for it,
    if anything; otherwise every backend's ``owns()`` claim is asked and a single best claim wins."""
    if ledger_backend:
        return ledger_backend
    claims: dict[int, list[str]] = {}
    for name in names():
        try:
            cls = backend_class(name)
        except InputError:  # an optional extra that is not installed cannot own anything here
            continue
        strength = int(cls.owns(ref))
        if strength:
            claims.setdefault(strength, []).append(name)
    for strength in (2, 1):
        matched = claims.get(strength, [])
        if len(matched) == 1:
            return matched[0]
        if len(matched) > 1:
            raise InputError(f"{ref!r} could belong to {' or '.join(matched)}: pass --backend")
    raise InputError(
        f"cannot tell which backend {ref!r} belongs to (it is not in the ledger and has no known "
        f"shape): pass --backend ({', '.join(names())})"
    )
