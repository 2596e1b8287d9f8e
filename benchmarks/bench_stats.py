"""`data stats` throughput against the cookbook's loop and the tiktoken ceiling, and its peak memory.

Usage: python benchmarks/bench_stats.py [FILE ...]   (default: generates benchmarks/.data/{unique,shared}.jsonl)
Each figure is the best of 2 runs (the cookbook loop: 1 run). Prints, per file: the cookbook loop, bare
single-core encoding, bare encoding over 2 processes, and `dataset_stats`, with the two ratios the issue
asks for, and the peak RSS of a `data stats` run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import tiktoken

HERE = Path(__file__).parent
ENCODING = "o200k_base"
LIMIT = 65536


def cookbook_loop(path: Path) -> int:
    """The cookbook notebook's per-example loop (load, count every value, assistant tokens, billing)."""
    enc = tiktoken.get_encoding(ENCODING)
    with path.open() as f:
        dataset = [json.loads(line) for line in f]
    lens, assistant = [], []
    for ex in dataset:
        n = 0
        for m in ex["messages"]:
            n += 3
            for key, value in m.items():
                n += len(enc.encode(value))
                if key == "name":
                    n += 1
        lens.append(n + 3)
        assistant.append(sum(len(enc.encode(m["content"])) for m in ex["messages"] if m["role"] == "assistant"))
    return sum(min(LIMIT, x) for x in lens)


def texts_of(path: Path) -> list[str]:
    with path.open() as f:
        return [v for line in f for m in json.loads(line)["messages"] for v in m.values()]


def _encode_all(texts: list[str]) -> int:
    enc = tiktoken.get_encoding(ENCODING)
    return sum(len(enc.encode_ordinary(t)) for t in texts)


def timed(fn, *args, repeat: int = 2):
    """Best wall time of ``repeat`` runs, and the last result."""
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        result = fn(*args)
        best = min(best, time.perf_counter() - t)
    return best, result


def peak_rss_mb(args: list[str]) -> float:
    """Peak RSS of the largest process of a fresh ``python -m ftadvisor ...`` run (workers included)."""
    probe = (
        "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL);"
        " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe, sys.executable, "-m", "ftadvisor", *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ},
    ).stdout
    return int(out) / 1024


def bench(path: Path) -> None:
    from ftadvisor.data.stats import dataset_stats

    size_mb = path.stat().st_size / 1e6
    print(f"\n{path.name}: {size_mb:.0f} MB", flush=True)
    t_ours, s = timed(lambda: dataset_stats(path, model="gpt-4o-mini", max_example_tokens=LIMIT))
    texts = texts_of(path)
    t_one, n_tokens = timed(_encode_all, texts)
    half = len(texts) // 2
    with ProcessPoolExecutor(2) as pool:
        pool.submit(len, []).result()  # start the workers before timing
        t_two, n_two = timed(lambda: sum(pool.map(_encode_all, [texts[:half], texts[half:]])))
    assert n_two == n_tokens
    texts.clear()
    t_cook, _ = timed(cookbook_loop, path, repeat=1)
    print(f"  tokens in values:               {n_tokens:,}")
    print(f"  cookbook loop (1 core):         {t_cook:6.2f} s")
    print(f"  bare encoding, 1 process:       {t_one:6.2f} s ({n_tokens / t_one / 1e6:.2f} M tokens/s)")
    print(f"  bare encoding, 2 processes:     {t_two:6.2f} s  <- ceiling")
    print(f"  ftadvisor data stats:           {t_ours:6.2f} s ({s.n_examples:,} examples)")
    print(f"  share of the 2-process ceiling: {t_two / t_ours:.0%}  (target >= 80%)")
    print(f"  speed-up over the cookbook:     {t_cook / t_ours:.2f}x")
    peak = peak_rss_mb(["data", "stats", str(path), "--json"])
    print(f"  peak RSS of `data stats` (largest process): {peak:.0f} MB  (target < 1024 MB)")


def main() -> None:
    files = [Path(p) for p in sys.argv[1:]]
    if not files:
        data = HERE / ".data"
        data.mkdir(exist_ok=True)
        for name, flag in (("unique", []), ("shared", ["--shared-system"])):
            f = data / f"{name}.jsonl"
            if not f.exists():
                subprocess.run([sys.executable, str(HERE / "make_data.py"), str(f), *flag], check=True)
            files.append(f)
    for f in files:
        bench(f)


if __name__ == "__main__":
    main()
