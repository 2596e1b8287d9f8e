"""Choosing a backend on the command line: ``--backend`` (or inferred from the job id / model), ``-o KEY=VALUE``
for the backend's own options, and ``ftadvisor backends`` to list what is installed and what each can do."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import click

from ftadvisor.backends.base import BackendOptions
from ftadvisor.cli.common import json_option, open_ledger, out, print_json, user_errors

F = TypeVar("F", bound=Callable[..., Any])


def backend_option(default: str | None = None, help_text: str | None = None) -> Callable[[F], F]:
    """``--backend NAME``; without a default, the backend is inferred from the job id or model."""
    return click.option(
        "--backend",
        default=default,
        show_default=default is not None,
        metavar="NAME",
        help=help_text
        or (
            "Where the job runs: openai, azure, together, local or any installed "
            "plugin (see `ftadvisor backends`); inferred from the job id or model "
            "when unambiguous. Example: --backend together"
        ),
    )


option_option = click.option(
    "--option",
    "-o",
    "options",
    multiple=True,
    metavar="KEY=VALUE",
    help="A setting of the chosen backend, repeatable; `ftadvisor backends` lists each backend's. "
    "Example: -o lora_rank=8 -o qlora=true",
)


def parse_options(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs; a value that reads as JSON (8, 0.1, true, ["q_proj"]) is taken as such."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise click.UsageError(f"-o {pair!r}: write KEY=VALUE, e.g. -o lora_rank=8")
        try:
            parsed[key.strip()] = json.loads(value)
        except ValueError:
            parsed[key.strip()] = value
    return parsed


def resolve(name: str | None, ref: str | None = None, *, fallback: str | None = None) -> Any:
    """The backend object for ``--backend`` or, without it, the one ``ref`` (a job id or model) belongs to:
    first as the ledger recorded it, then by each backend's claim; ``fallback`` when nobody claims ``ref``."""
    from ftadvisor.backends import get_backend, infer_backend
    from ftadvisor.errors import InputError
    from ftadvisor.ledger import LedgerUnavailable

    if name:
        return get_backend(name)
    if ref is None:
        return get_backend(fallback or "openai")
    recorded = None
    if (db := open_ledger()) is not None:
        try:
            recorded = db.backend_of(ref)
        except LedgerUnavailable:
            recorded = None
        db.close()
    try:
        return get_backend(infer_backend(ref, ledger_backend=recorded))
    except InputError:
        if fallback:
            return get_backend(fallback)
        raise


def require(backend: Any, capability: type, what: str) -> Any:
    """``backend`` if it declares ``capability``; else a one-line refusal naming the backends that do."""
    from ftadvisor.backends import backend_class, names
    from ftadvisor.errors import InputError

    if isinstance(backend, capability):
        return backend
    able = []
    for n in names():
        try:
            if issubclass(backend_class(n), capability):
                able.append(n)
        except InputError:
            continue
    raise InputError(f"the {backend.name} backend cannot {what}" + (f" ({', '.join(able)} can)" if able else ""))


def options_help(model: type[BackendOptions]) -> list[str]:
    """One line per field of a backend's Options model."""
    lines = []
    for key, field in model.model_fields.items():
        default = field.get_default(call_default_factory=True)
        lines.append(f"{key}={default!r}: {field.description or ''}".rstrip(": "))
    return lines


@click.command("backends")
@json_option
@user_errors
def backends(as_json: bool) -> None:
    """The installed backends: their methods, optional capabilities and `-o` options.

    \b
    Example:
      ftadvisor backends --json
    """
    from ftadvisor.backends import backend_class, capabilities, names
    from ftadvisor.errors import InputError

    rows: list[dict[str, Any]] = []
    for n in names():
        try:
            cls = backend_class(n)
        except InputError as exc:
            rows.append({"name": n, "installed": False, "error": str(exc)})
            continue
        rows.append(
            {
                "name": n,
                "installed": True,
                "methods": sorted(cls.methods),
                "capabilities": capabilities(cls),
                "options": cls.Options.model_json_schema().get("properties", {}),
                "_help": options_help(cls.Options),
            }
        )
    if as_json:
        print_json([{k: v for k, v in r.items() if not k.startswith("_")} for r in rows])
        return
    for r in rows:
        if not r["installed"]:
            out.print(f"[bold]{r['name']}[/]: not installed ({r['error']})")
            continue
        out.print(
            f"[bold]{r['name']}[/]: trains {', '.join(r['methods'])}; can also: "
            f"{', '.join(r['capabilities']) or 'nothing more'}"
        )
        for line in r["_help"]:
            out.print(f"  -o {line}")
