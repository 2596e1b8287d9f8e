"""One streaming pass over a dataset: parse, validate and count tokens, in parallel on large files.

Both ``data validate`` and ``data stats`` are views of a :class:`Scan`. Large files are cut into
line-aligned byte ranges scanned by worker processes; line numbers are re-based when the parts are merged.
Memory stays bounded: only three small integers per example and the first problems are kept.
"""

from __future__ import annotations

import os
from array import array
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ftadvisor.data.formats import Method, example_messages, example_tools, shape_of
from ftadvisor.data.jsonl import byte_ranges, iter_raw_lines, open_input, parse_line
from ftadvisor.data.problems import COUNTED_ONLY, WARNINGS, Problem
from ftadvisor.data.rules import MIN_EXAMPLES, check_example, role_presence
from ftadvisor.tokens import TokenCounter, get_encoding

PARALLEL_MIN_BYTES = 8 << 20
MAX_KEPT_PROBLEMS = 10_000


@dataclass
class Scan:
    """What one pass over a file found. Per-example arrays hold only examples whose messages parse."""

    path: str
    method: Method
    detected_from: int | None = None
    encoding: str | None = None
    max_example_tokens: int | None = None
    n_lines: int = 0
    n_examples: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    problems: list[Problem] = field(default_factory=list)
    n_messages: array = field(default_factory=lambda: array("q"))
    n_tokens: array = field(default_factory=lambda: array("q"))
    n_assistant_tokens: array = field(default_factory=lambda: array("q"))

    def add(self, problem: Problem) -> None:
        self.counts[problem.category] += 1
        if problem.category not in COUNTED_ONLY and len(self.problems) < MAX_KEPT_PROBLEMS:
            self.problems.append(problem)

    @property
    def n_errors(self) -> int:
        return sum(n for cat, n in self.counts.items() if cat not in WARNINGS)

    @property
    def n_warnings(self) -> int:
        return sum(self.counts.values()) - self.n_errors

    @property
    def valid(self) -> bool:
        return self.n_errors == 0

    def merge(self, other: Scan) -> None:
        """Append the scan of the next byte range, re-basing its line numbers."""
        offset = self.n_lines
        self.n_lines += other.n_lines
        self.n_examples += other.n_examples
        self.counts.update(other.counts)
        room = MAX_KEPT_PROBLEMS - len(self.problems)
        self.problems.extend(p.shifted(offset) for p in other.problems[: max(room, 0)])
        self.n_messages.extend(other.n_messages)
        self.n_tokens.extend(other.n_tokens)
        self.n_assistant_tokens.extend(other.n_assistant_tokens)


def detect_method(path: str | Path, max_lines: int = 1000) -> tuple[Method, int | None]:
    """The method of a file from its first recognisable line: (method, line number), or ("sft", None)."""
    for line_no, raw in enumerate(iter_raw_lines(path), 1):
        obj, _ = parse_line(raw, line_no, first=line_no == 1)
        shape = shape_of(obj)
        if shape in ("sft", "dpo", "rft"):
            return shape, line_no
        if line_no >= max_lines:
            break
    return "sft", None


def _scan_range(
    path: str,
    start: int,
    end: int,
    method: Method,
    detected_from: int | None,
    encoding: str | None,
    limit: int | None,
    first_line: int,
) -> Scan:
    scan = Scan(path, method, detected_from, encoding, limit)
    counter = TokenCounter(encoding) if encoding else None
    for line_no, raw in enumerate(iter_raw_lines(path, start, end), first_line):
        scan.n_lines += 1
        obj, problems = parse_line(raw, line_no, first=start == 0 and line_no == 1)
        for p in problems:
            scan.add(p)
        if obj is None:
            continue
        scan.n_examples += 1
        for p in check_example(obj, line_no, method, detected_from):
            scan.add(p)
        has_system, has_user = role_presence(obj, method)
        if not has_system:
            scan.add(Problem(line_no, "missing_system", "no system message"))
        if not has_user:
            scan.add(Problem(line_no, "missing_user", "no user message"))
        messages = example_messages(obj, method)
        if messages is None:
            continue
        scan.n_messages.append(len(messages))
        if counter is not None:
            tokens, assistant = counter.chat(messages)
            tools = example_tools(obj, method)
            if tools is not None:
                tokens += counter.value(tools)
            scan.n_tokens.append(tokens)
            scan.n_assistant_tokens.append(assistant)
            if limit is not None and tokens > limit:
                scan.add(
                    Problem(
                        line_no,
                        "too_long",
                        f"{tokens:,} tokens, over the {limit:,}-token limit; "
                        f"OpenAI silently drops the last {tokens - limit:,}",
                    )
                )
    return scan


def _scan_part(args: tuple) -> Scan:
    return _scan_range(*args)


def _workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def scan_file(
    path: str | Path,
    method: Method | None = None,
    *,
    encoding: str | None = None,
    max_example_tokens: int | None = None,
    workers: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Scan:
    """Scan a dataset. Counts tokens only when ``encoding`` is given; flags examples over the limit."""
    path = str(path)
    open_input(path).close()  # one clear error for a missing or unreadable file
    detected_from = None
    if method is None:
        method, detected_from = detect_method(path)
    size = os.path.getsize(path)
    workers = workers or _workers()
    if encoding:
        get_encoding(encoding)  # load once here so forked workers share it
    parts = byte_ranges(path, workers * 4) if workers > 1 and size >= PARALLEL_MIN_BYTES else [(0, size)]
    total = Scan(path, method, detected_from, encoding, max_example_tokens)
    if len(parts) == 1:
        total.merge(_scan_range(path, 0, size, method, detected_from, encoding, max_example_tokens, 1))
    else:
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        jobs = [(path, a, b, method, detected_from, encoding, max_example_tokens, 1) for a, b in parts]
        with ProcessPoolExecutor(workers, mp_context=ctx) as pool:
            for (_, _start, end, *_rest), part in zip(jobs, pool.map(_scan_part, jobs), strict=True):
                total.merge(part)
                if progress:
                    progress(end, size)
    if progress:
        progress(size, size)
    if total.n_examples == 0:
        total.add(Problem(0, "empty_file", "the file holds no examples"))
    elif total.n_examples < MIN_EXAMPLES:
        total.add(
            Problem(
                0,
                "too_few_examples",
                f"{total.n_examples} examples; OpenAI requires at least "
                f"{MIN_EXAMPLES} (50-100 well-chosen ones usually show gains)",
            )
        )
    return total
