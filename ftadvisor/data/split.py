"""Deterministic train/validation/test splits that keep near-duplicates together, stratified on request."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from contextlib import ExitStack
from pathlib import Path

from pydantic import BaseModel

from ftadvisor.data.formats import Method
from ftadvisor.data.jsonl import atomic_writer, iter_objects, iter_raw_lines, output_target
from ftadvisor.data.quality import answer_label, label_balance
from ftadvisor.data.text import split_example
from ftadvisor.errors import InputError

SPLIT_NAMES = ("train", "validation", "test")


class SplitReport(BaseModel):
    files: dict[str, str]
    counts: dict[str, int]
    stratified_by: str | None
    label_counts: dict[str, dict[str, int]]
    n_duplicate_groups: int
    seed: int
    left_out: list[int]  # lines that are not JSON objects (invalid JSON, null, arrays...): never in any split


def parse_ratios(text: str) -> tuple[float, ...]:
    try:
        ratios = tuple(float(x) for x in text.split(","))
    except ValueError as exc:
        raise InputError(f"--ratios {text!r}: give numbers separated by commas, e.g. 0.8,0.1,0.1") from exc
    if not 2 <= len(ratios) <= 3 or any(not math.isfinite(r) or r < 0 for r in ratios) or abs(sum(ratios) - 1) > 1e-6:
        raise InputError(f"--ratios {text!r}: give 2 or 3 non-negative numbers that add up to 1")
    return ratios


def split_file(
    path: str | Path,
    out_dir: str | Path,
    *,
    ratios: tuple[float, ...] = (0.8, 0.1, 0.1),
    stratify: bool = False,
    label_field: str | None = None,
    seed: int = 0,
    threshold: float = 0.8,
    method: Method | None = None,
) -> SplitReport:
    """Write ``train/validation[/test].jsonl`` into ``out_dir``.

    Duplicate groups (exact and near, see :mod:`ftadvisor.data.dedup`) are placed whole. Groups are
    shuffled with ``seed`` and each goes to the split furthest below its target share, per label when
    stratified, so the result is deterministic and close to the ratios.
    """
    from ftadvisor.data.dedup import find_duplicates
    from ftadvisor.data.scan import detect_method

    method = method or detect_method(path)[0]
    dups = find_duplicates(path, threshold=threshold, method=method)
    labels: dict[int, str | None] = {}
    for line, obj in iter_objects(path):
        labels[line] = answer_label(split_example(obj, method)[1], label_field)
    if not labels:
        raise InputError(f"{path}: no examples to split")
    stratified_by = None
    if stratify:
        source = f"field:{label_field}" if label_field else "answer"
        if label_balance(list(labels.values()), source, force=label_field is not None) is None:
            raise InputError(
                f"{path}: --stratify needs classification-style answers (a small set of distinct "
                "answers), or --label-field naming a JSON field of the answer"
            )
        stratified_by = source
    group_of = {line: line for line in labels}
    for g in dups.groups:
        for line in g.lines:
            group_of[line] = g.lines[0]
    groups: dict[int, list[int]] = defaultdict(list)
    for line in sorted(labels):
        groups[group_of[line]].append(line)
    strata: dict[str, list[list[int]]] = defaultdict(list)
    for first, members in groups.items():
        strata[str(labels[first]) if stratify else ""].append(members)

    names = SPLIT_NAMES[: len(ratios)]
    assign: dict[int, str] = {}
    rng = random.Random(seed)
    for key in sorted(strata):
        members_list = strata[key]
        rng.shuffle(members_list)
        members_list.sort(key=len, reverse=True)  # big groups first: stable sort keeps shuffled order
        total = sum(len(m) for m in members_list)
        got = dict.fromkeys(names, 0)
        for members in members_list:
            name = max(names, key=lambda n: (ratios[names.index(n)] * total - got[n], -names.index(n)))
            got[name] += len(members)
            for line in members:
                assign[line] = name
    out = Path(out_dir)
    files = {name: str(out / f"{name}.jsonl") for name in names}
    for f in files.values():
        output_target(f, [path])  # before any work: an output never replaces the input
    counts = dict.fromkeys(names, 0)
    label_counts: dict[str, dict[str, int]] = {name: defaultdict(int) for name in names}  # type: ignore[misc]
    with ExitStack() as stack:  # every file is renamed into place only if all were written
        handles = {name: stack.enter_context(atomic_writer(files[name], "wb", inputs=[path])) for name in names}
        left_out: list[int] = []
        for line, raw in enumerate(iter_raw_lines(path), 1):
            target = assign.get(line)
            if target is None:
                if raw.strip():
                    left_out.append(line)  # not a JSON object: reported, in no split
                continue
            handles[target].write(raw + b"\n")
            counts[target] += 1
            if stratify:
                label_counts[target][str(labels[line])] += 1
    return SplitReport(
        files=files,
        counts=counts,
        stratified_by=stratified_by,
        label_counts={k: dict(v) for k, v in label_counts.items()} if stratify else {},
        n_duplicate_groups=len(dups.groups),
        seed=seed,
        left_out=left_out,
    )
