"""Shared CLI pieces: consoles, ``--json`` output, progress bars, and turning user errors into one line."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from rich.console import Console

from ftadvisor.errors import FtAdvisorError

F = TypeVar("F", bound=Callable[..., Any])

# Piped output gets a wide fixed width rather than Rich's 80 columns, so tables are not squeezed.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print machine-readable JSON instead of tables. Example: --json | jq ."
)


def print_json(data: Any) -> None:
    """Print a pydantic model, dataclass-friendly dict or plain value as JSON on stdout."""
    if hasattr(data, "model_dump"):
        data = data.model_dump(mode="json")
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def shorten(text: str, limit: int = 60) -> str:
    """A value from the user's data, cut for a terminal line (a 50 MB answer is not a label to print)."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} characters)"


def fail(message: str, code: int = 2) -> None:
    """Print one ``error:`` line and exit."""
    err.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    sys.exit(code)


def user_errors(fn: F) -> F:
    """Turn FtAdvisorError (and Ctrl-C) into one line and an exit code instead of a traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except FtAdvisorError as exc:
            fail(str(exc), exc.exit_code)
        except OSError as exc:  # the disk, not the program: full, read-only, an unreadable special file
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or exc}", 2)
        except KeyboardInterrupt:
            err.print("interrupted")
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@contextmanager
def byte_progress(label: str, enabled: bool = True) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar over bytes on stderr (hidden when not a terminal or ``enabled`` is False)."""
    if not enabled or not err.is_terminal:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


no_log_option = click.option(
    "--no-log", is_flag=True, help="Do not record this estimate in the ledger. Example: --no-log"
)


def open_ledger() -> Any:
    """The ledger, or None with one warning line when it is unusable: pure work never depends on it."""
    from ftadvisor.ledger import Ledger, LedgerUnavailable

    try:
        return Ledger()
    except LedgerUnavailable as exc:
        err.print(f"[yellow]warning:[/] {exc}; this run is not recorded")
        return None


def log_estimate(kind: str, data: Any, no_log: bool) -> None:
    """Record an estimate in the ledger (every estimate is kept unless --no-log); a broken ledger costs a
    warning, never the estimate."""
    from ftadvisor.ledger import LedgerUnavailable

    if no_log or (db := open_ledger()) is None:
        return
    try:
        db.record(kind, data)
    except LedgerUnavailable as exc:
        err.print(f"[yellow]warning:[/] {exc}; this estimate is not recorded")
    db.close()
