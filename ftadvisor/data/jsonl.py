"""Streaming JSONL reading with line numbers, byte ranges for parallel work, and atomic writing."""

from __future__ import annotations

import itertools
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ftadvisor.data.problems import Problem
from ftadvisor.errors import InputError
from ftadvisor.userfiles import require_regular_file

BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20


def open_input(path: str | Path) -> IO[bytes]:
    """Open a dataset for reading, with a one-line error when it cannot be."""
    p = require_regular_file(path, "JSONL file")
    try:
        return p.open("rb")
    except FileNotFoundError as exc:
        raise InputError(f"{p}: no such file") from exc
    except OSError as exc:
        raise InputError(f"{p}: cannot read: {exc.strerror}") from exc


def byte_ranges(path: str | Path, parts: int) -> list[tuple[int, int]]:
    """Split a file into ``parts`` byte ranges that start and end on line boundaries."""
    size = os.path.getsize(path)
    if parts <= 1 or size == 0:
        return [(0, size)]
    cuts = [0]
    with open_input(path) as f:
        for i in range(1, parts):
            f.seek(max(size * i // parts, cuts[-1]))
            if f.tell() > 0:
                f.seek(f.tell() - 1)
                f.readline()  # finish the line the cut fell into
            cuts.append(min(f.tell(), size))
    cuts.append(size)
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a] or [(0, size)]


def iter_raw_lines(path: str | Path, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The raw lines (without their line ending) of ``path`` between two line-aligned byte offsets."""
    with open_input(path) as f:
        f.seek(start)
        remaining = (os.path.getsize(path) if end is None else end) - start
        while remaining > 0:
            line = f.readline(min(remaining, 1 << 62))
            if not line:
                break
            remaining -= len(line)
            if line.endswith(b"\n"):
                line = line[:-1]
            if line.endswith(b"\r"):
                line = line[:-1]
            yield line


def parse_line(raw: bytes, line_no: int, *, first: bool = False) -> tuple[Any, list[Problem]]:
    """Decode and parse one JSONL line (``first``: the file's first line, where a BOM may sit).

    Returns the object (None when the line cannot be parsed) and the problems found.
    """
    problems: list[Problem] = []
    if first and raw.startswith(BOM):
        problems.append(
            Problem(line_no, "bom", "the file starts with a UTF-8 byte-order mark; save it as UTF-8 without BOM")
        )
        raw = raw[len(BOM) :]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        problems.append(
            Problem(
                line_no,
                "invalid_utf8",
                f"byte {exc.start + 1} is not valid UTF-8 ({raw[exc.start : exc.start + 1]!r}); save the file as UTF-8",
            )
        )
        return None, problems
    if not text.strip():
        problems.append(Problem(line_no, "blank_line", "blank line; every line must hold one JSON object"))
        return None, problems
    try:
        obj = loads(text)
    except NotJSON as exc:
        problems.append(Problem(line_no, "invalid_json", str(exc)))
        return None, problems
    if obj is None:
        problems.append(Problem(line_no, "data_type", "the line is null, not a JSON object"))
        return None, problems
    if "\\u" in text and _SURROGATE.search(text) and not _encodable(obj):
        problems.append(
            Problem(
                line_no,
                "invalid_utf8",
                "a lone UTF-16 surrogate escape (such as \\ud800) cannot be written as UTF-8; fix or remove it",
            )
        )
        return None, problems
    return obj, problems


_SURROGATE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _encodable(obj: Any) -> bool:
    """Whether every string in ``obj`` (keys included) can be encoded as UTF-8."""
    try:
        json.dumps(obj, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return False
    return True


class NotJSON(ValueError):
    """Text that is not JSON we can hold: malformed, nested too deeply, or a number of over 4,300 digits."""


def loads(text: str | bytes) -> Any:
    """``json.loads`` that fails only with ``NotJSON`` (one readable reason), whatever the text holds: the
    one parser for dataset lines and for the JSON users put inside them (labels, schemas, tool arguments)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        where = f"column {exc.colno}" if exc.lineno == 1 else f"line {exc.lineno} column {exc.colno}"
        raise NotJSON(f"{where}: {exc.msg}") from None
    except RecursionError:
        raise NotJSON("JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raise NotJSON(str(exc)) from None
    except ValueError as exc:  # Python refuses integers of more than 4,300 digits
        raise NotJSON(f"a number cannot be read ({exc})") from None


def iter_objects(path: str | Path) -> Iterator[tuple[int, Any]]:
    """``(line number, object)`` for every line that parses; unparseable lines are skipped."""
    for line_no, raw in enumerate(iter_raw_lines(path), 1):
        obj, _ = parse_line(raw, line_no, first=line_no == 1)
        if obj is not None:
            yield line_no, obj


def _umask() -> int:
    """The process umask, read without changing it where Linux allows."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def output_target(path: str | Path, inputs: Iterable[str | Path] = ()) -> Path:
    """Where writing ``path`` really goes (a symlink's target), refused when it is not a regular file or is
    one of the command's ``inputs``: an output never replaces its own input, a link, a device or a FIFO."""
    given = Path(path)
    try:
        target = given.resolve() if given.is_symlink() else given
        if target.exists() and not target.is_file():
            kind = "a folder" if target.is_dir() else "not a regular file (a device, FIFO or socket)"
            raise InputError(f"{given}: is {kind}; give the path of a file to write")
        for inp in inputs:
            if target.exists() and Path(inp).exists() and os.path.samefile(target, inp):
                raise InputError(
                    f"{given}: is also an input of this command ({inp}); write the output elsewhere "
                    "so the input is never replaced"
                )
    except OSError as exc:
        raise InputError(f"{given}: cannot write here: {exc.strerror}") from exc
    return target


@contextmanager
def atomic_writer(path: str | Path, mode: str = "w", *, inputs: Iterable[str | Path] = ()) -> Iterator[IO[Any]]:
    """Write to a temporary file beside the target and rename it into place only on success. The target
    is the symlink's target (the link stays), an existing file keeps its permissions and a new one gets the
    umask's; see ``output_target`` for what is refused."""
    target = output_target(path, inputs)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise InputError(f"{path}: cannot write here: {exc.strerror}") from exc
    try:
        perms = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~_umask()
        os.chmod(tmp, perms)
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8", newline=None if "b" in mode else "\n") as f:
            yield f
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise InputError(f"{path}: could not be written: {exc.strerror or exc}; nothing was changed") from exc
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def dumps_line(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False) + "\n"


def write_jsonl(path: str | Path, objects: Iterable[Any]) -> int:
    """Write objects as JSONL atomically; returns how many were written."""
    n = 0
    with atomic_writer(path) as f:
        for obj in objects:
            f.write(dumps_line(obj))
            n += 1
    return n
