"""Near-duplicate detection: time on 100,000 examples, recall against brute-force Jaccard, and time on
templated short lines (the hostile pass's `million.jsonl`: {"q<i>"} questions, one answer "a").

Usage: python benchmarks/bench_dedup.py [--examples 100000] [--sample 5000] [--templated 100000,1000000]
Generates a file with ~10% near-duplicates (one word changed), times `find_duplicates` on it, then
compares the pairs found on a 5,000-example file (and on a 5,000-line templated file) with every pair at
or above the threshold by exact Jaccard, then times the templated files (targets: 100k under 60 s, 1M
under 10 minutes). Each run is one process; peak memory is the process's.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).parent
THRESHOLD = 0.8


def make(path: Path, n: int) -> None:
    if not path.exists():
        subprocess.run(
            [
                sys.executable,
                str(HERE / "make_data.py"),
                str(path),
                "--examples",
                str(n),
                "--shared-system",
                "--near-dup-rate",
                "0.1",
            ],
            check=True,
        )


def brute_force_pairs(shingles: list, lines: list[int]) -> set[tuple[int, int]]:
    """Every pair with exact Jaccard >= THRESHOLD: intersections of all pairs by a sparse matrix product."""
    import numpy as np
    from scipy import sparse

    sizes = np.array([len(s) for s in shingles])
    values, cols = np.unique(np.concatenate(shingles), return_inverse=True)
    rows = np.repeat(np.arange(len(shingles)), sizes)
    x = sparse.csr_matrix((np.ones(len(cols), dtype=np.int32), (rows, cols)), shape=(len(shingles), len(values)))
    pairs = set()
    for start in range(0, len(shingles), 500):  # row blocks bound the memory of the product
        inter = (x[start : start + 500] @ x.T).tocoo()
        i, j, n = inter.row + start, inter.col, inter.data
        keep = i < j
        i, j, n = i[keep], j[keep], n[keep]
        sim = n / (sizes[i] + sizes[j] - n)
        pairs.update((lines[a], lines[b]) for a, b in zip(i[sim >= THRESHOLD], j[sim >= THRESHOLD], strict=True))
    return pairs


def make_templated(path: Path, n: int) -> None:
    if not path.exists():
        with path.open("w") as f:
            for i in range(n):
                f.write(
                    json.dumps(
                        {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]}
                    )
                    + "\n"
                )


def recall(path: Path) -> tuple[int, int, float]:
    from ftadvisor.data.dedup import MinHasher, find_duplicates
    from ftadvisor.data.jsonl import iter_objects
    from ftadvisor.data.text import example_text

    h = MinHasher()
    lines, shingles = [], []
    for line, obj in iter_objects(path):
        lines.append(line)
        shingles.append(h.shingles(example_text(obj, "sft", system=False)))
    truth = brute_force_pairs(shingles, lines)
    groups = find_duplicates(path, threshold=THRESHOLD).groups
    group_of = {line: k for k, g in enumerate(groups) for line in g.lines}
    found = sum(1 for a, b in truth if a in group_of and group_of[a] == group_of.get(b))
    return len(truth), found, found / len(truth) if truth else 1.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=100_000)
    ap.add_argument("--sample", type=int, default=5_000)
    ap.add_argument("--templated", default="100000,1000000")
    args = ap.parse_args()
    from ftadvisor.data.dedup import find_duplicates

    data = HERE / ".data"
    data.mkdir(exist_ok=True)
    big, small = data / f"neardup-{args.examples}.jsonl", data / f"neardup-{args.sample}.jsonl"
    make(big, args.examples)
    make(small, args.sample)
    t = time.perf_counter()
    report = find_duplicates(big, threshold=THRESHOLD)
    elapsed = time.perf_counter() - t
    print(
        f"find_duplicates on {report.n_examples:,} examples ({big.stat().st_size / 1e6:.0f} MB): "
        f"{elapsed:.1f} s, {len(report.groups):,} groups  (target < 120 s)"
    )
    t = time.perf_counter()
    n_truth, n_found, r = recall(small)
    print(
        f"recall on {args.sample:,} examples: {n_found}/{n_truth} pairs with Jaccard >= {THRESHOLD} = {r:.3f}  "
        f"(target >= 0.95; brute force took {time.perf_counter() - t:.0f} s)"
    )
    sample = data / f"templated-{args.sample}.jsonl"
    make_templated(sample, args.sample)
    n_truth, n_found, r = recall(sample)
    print(f"recall on {args.sample:,} templated lines: {n_found}/{n_truth} pairs = {r:.3f}")
    for n in (int(x) for x in args.templated.split(",") if x):
        path = data / f"templated-{n}.jsonl"
        make_templated(path, n)
        # Peak memory from VmHWM: ru_maxrss would carry this (parent) process's peak across fork and exec.
        code = (
            f"import re, time; from ftadvisor.data.dedup import find_duplicates; t = time.perf_counter(); "
            f"r = find_duplicates({str(path)!r}); print(time.perf_counter() - t, len(r.groups), "
            f"re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
        )
        secs, groups, rss = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        ).stdout.split()
        print(
            f"templated short lines: {n:,} in {float(secs):.1f} s, {int(groups):,} groups, peak "
            f"{int(rss) / 1024:,.0f} MB  (target {'60 s' if n <= 100_000 else '600 s'})"
        )


if __name__ == "__main__":
    main()
