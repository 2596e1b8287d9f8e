"""Convert alpaca, ShareGPT and CSV prompt/response datasets to OpenAI chat JSONL."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from ftadvisor.data.jsonl import (
    NotJSON,
    atomic_writer,
    dumps_line,
    iter_raw_lines,
    loads,
    open_input,
    output_target,
    parse_line,
)
from ftadvisor.errors import InputError

Format = Literal["alpaca", "sharegpt", "csv"]
FORMATS: tuple[Format, ...] = ("alpaca", "sharegpt", "csv")
SHAREGPT_ROLES = {
    "system": "system",
    "human": "user",
    "user": "user",
    "gpt": "assistant",
    "assistant": "assistant",
    "chatgpt": "assistant",
    "bing": "assistant",
    "bard": "assistant",
    "tool": "tool",
    "function_call": "assistant",
    "observation": "tool",
}
PROMPT_COLUMNS = ("prompt", "input", "question", "instruction", "user")
RESPONSE_COLUMNS = ("response", "completion", "output", "answer", "assistant")


def _records(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, object) from a JSONL file, or from a JSON array file (alpaca's usual shape)."""
    with open_input(path) as f:
        head = f.read(64).lstrip(b"\xef\xbb\xbf").lstrip()
    if head.startswith(b"["):
        try:
            items = loads(path.read_text(encoding="utf-8-sig"))
        except (NotJSON, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not valid JSON: {exc}") from exc
        if not isinstance(items, list):
            raise InputError(f"{path}: a JSON file must hold an array of records")
        yield from ((i, item) for i, item in enumerate(items, 1))
        return
    for line_no, raw in enumerate(iter_raw_lines(path), 1):
        obj, problems = parse_line(raw, line_no, first=line_no == 1)
        if problems and obj is None:
            if problems[0].category == "blank_line":
                continue
            raise InputError(f"{path}:{line_no}: {problems[0].category}: {problems[0].explanation}")
        yield line_no, obj


def _need_str(obj: dict[str, Any], key: str, where: str, optional: bool = False) -> str:
    value = obj.get(key, "" if optional else None)
    if not isinstance(value, str):
        raise InputError(f"{where}: field {key!r} must be a string" + ("" if key in obj else " (missing)"))
    return value


def _alpaca(obj: Any, where: str) -> list[dict[str, str]]:
    if not isinstance(obj, dict):
        raise InputError(f"{where}: expected an object with instruction/input/output")
    instruction = _need_str(obj, "instruction", where)
    extra = _need_str(obj, "input", where, optional=True)
    user = f"{instruction}\n\n{extra}" if extra.strip() else instruction
    return [{"role": "user", "content": user}, {"role": "assistant", "content": _need_str(obj, "output", where)}]


def _sharegpt(obj: Any, where: str) -> list[dict[str, str]]:
    turns = obj.get("conversations", obj.get("conversation")) if isinstance(obj, dict) else None
    if not isinstance(turns, list) or not turns:
        raise InputError(f"{where}: expected an object with a non-empty 'conversations' array")
    messages = []
    for i, turn in enumerate(turns):
        at = f"{where}: conversations[{i}]"
        if not isinstance(turn, dict):
            raise InputError(f"{at}: expected an object with 'from' and 'value'")
        role = SHAREGPT_ROLES.get(str(turn.get("from", turn.get("role", ""))).lower())
        if role is None:
            raise InputError(f"{at}: unknown speaker {turn.get('from')!r} (known: {', '.join(SHAREGPT_ROLES)})")
        text = turn.get("value", turn.get("content"))
        if not isinstance(text, str):
            raise InputError(f"{at}: field 'value' must be a string")
        messages.append({"role": role, "content": text})
    return messages


def _csv_rows(path: Path, prompt_col: str | None, response_col: str | None) -> Iterator[tuple[int, list]]:
    with open_input(path):
        pass
    with path.open(newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        try:
            cols = [c.strip() for c in reader.fieldnames or []]
        except UnicodeDecodeError as exc:
            raise InputError(
                f"{path}: not valid UTF-8 (byte {exc.start + 1} of its first block); save it as UTF-8"
            ) from exc
        except csv.Error as exc:
            raise InputError(f"{path}:1: the header is not valid CSV: {exc}") from exc
        twice = sorted({c for c in cols if cols.count(c) > 1})
        if twice:
            raise InputError(
                f"{path}:1: column(s) {', '.join(map(repr, twice))} appear more than once; rename them "
                "so no value is dropped"
            )
        lower = {c.lower(): c for c in cols}

        def pick(given: str | None, candidates: tuple[str, ...], what: str) -> str:
            if given:
                if given not in cols:
                    raise InputError(f"{path}: no column {given!r} (columns: {', '.join(cols)})")
                return given
            for c in candidates:
                if c in lower:
                    return lower[c]
            raise InputError(
                f"{path}: cannot find the {what} column among {', '.join(cols) or 'none'}; pass --{what}-column"
            )

        p, r = pick(prompt_col, PROMPT_COLUMNS, "prompt"), pick(response_col, RESPONSE_COLUMNS, "response")
        reader.fieldnames = cols
        try:
            for row in reader:
                line = reader.line_num
                if row.get(p) is None or row.get(r) is None:
                    raise InputError(f"{path}:{line}: the row has fewer columns than the header")
                yield line, [{"role": "user", "content": row[p]}, {"role": "assistant", "content": row[r]}]
        except csv.Error as exc:
            raise InputError(f"{path}:{reader.line_num}: not valid CSV: {exc}") from exc
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not valid UTF-8: {exc}") from exc


def detect_format(path: Path) -> Format:
    if path.suffix.lower() in (".csv", ".tsv"):
        return "csv"
    for _, obj in _records(path):
        if isinstance(obj, dict) and ("conversations" in obj or "conversation" in obj):
            return "sharegpt"
        if isinstance(obj, dict) and "instruction" in obj:
            return "alpaca"
        break
    raise InputError(f"{path}: cannot tell the format; pass --from alpaca|sharegpt|csv")


def convert_file(
    path: str | Path,
    out: str | Path,
    *,
    fmt: Format | None = None,
    system: str | None = None,
    prompt_column: str | None = None,
    response_column: str | None = None,
) -> int:
    """Convert ``path`` to chat JSONL at ``out`` (written atomically); returns the number of examples."""
    src = Path(path)
    open_input(src).close()
    output_target(out, [src])  # refused before any work: never over the input, a link's target is written
    fmt = fmt or detect_format(src)
    if fmt == "csv":
        rows: Iterator[tuple[int, list]] = _csv_rows(src, prompt_column, response_column)
    else:
        make = _alpaca if fmt == "alpaca" else _sharegpt
        rows = ((line, make(obj, f"{src}:{line}")) for line, obj in _records(src))
    n = 0
    with atomic_writer(out, inputs=[src]) as f:
        for line, messages in rows:
            if system and not (messages and messages[0]["role"] == "system"):
                messages = [{"role": "system", "content": system}, *messages]
            try:
                f.write(dumps_line({"messages": messages}))
            except UnicodeEncodeError as exc:  # a lone surrogate (JSON's "\ud800"): no UTF-8 can carry it
                raise InputError(
                    f"{src}:{line}: text holds an invalid character ({exc.reason}); nothing was written"
                ) from None
            n += 1
    return n
