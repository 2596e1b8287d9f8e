"""Local LoRA throughput on this machine: SmolLM2-135M-Instruct, LoRA r=16 on all linear layers.

Usage: python benchmarks/bench_local.py [--examples 48] [--batch-size 4] [--qlora]
Prints training tokens/s, seconds per step, peak memory, and generation tokens/s with the adapter.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from ftadvisor.backends import JobSpec, wait
from ftadvisor.samples import sample_path
from local_backend import LocalBackend


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--examples", type=int, default=48)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--qlora", action="store_true")
    args = ap.parse_args()
    legal = sample_path("legal")
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train.jsonl"
        data.write_text("".join((legal / "train.jsonl").read_text().splitlines(True)[:args.examples]))
        b = LocalBackend(Path(tmp) / "store")
        b.complete("smollm2-135m-instruct", [{"role": "user", "content": "hi"}], max_tokens=1)  # convert once
        job = b.create_job(JobSpec(model="smollm2-135m-instruct", training_file=b.upload(data).id,
                                   hyperparameters={"n_epochs": 1, "batch_size": args.batch_size},
                                   options={"qlora": args.qlora}))
        done = wait(b, job.id, poll_interval=1, sleep=time.sleep)
        used = b.training_usage(done)
        assert used is not None and used.trained_tokens and used.wall_s and used.peak_memory_mb
        usage = used.model_dump()
        steps = [e.data for e in b.list_events(job.id, limit=10_000) if e.data]
        print(f"training ({'QLoRA 4-bit' if args.qlora else 'LoRA fp32'}, {args.examples} examples, batch "
              f"{args.batch_size}): {usage['trained_tokens'] / usage['wall_s']:.0f} tokens/s over "
              f"{usage['wall_s']:.1f} s ({usage['wall_s'] / len(steps):.2f} s/step incl. evaluation and "
              f"checkpoints), peak memory {usage['peak_memory_mb']:,.0f} MB, status {done.status}")
        prompt = json.loads((legal / "test.jsonl").read_text().splitlines()[0])["messages"][:2]
        t = time.perf_counter()
        c = b.complete(done.fine_tuned_model, prompt, max_tokens=128)
        print(f"generation with the adapter: {c.usage.completion_tokens / (time.perf_counter() - t):.1f} tokens/s "
              f"({c.usage.completion_tokens} tokens)")


if __name__ == "__main__":
    main()
