"""Estimated vs measured peak training memory for the built-in model on this machine.

Usage: python benchmarks/bench_memory.py [--seq-len 512] [--batch-size 4] [--repeats 2]

Each run is a fresh process that loads SmolLM2-135M-Instruct the way our trainer does (fp32 on the CPU),
adds LoRA r=16 on all linear layers, and runs 3 AdamW steps on full-length sequences with the trainer's
own loss (``losses.labelled_ce_sum``; every position labelled here). On a GPU "measured" is
``torch.cuda.max_memory_allocated``. On the CPU a thread samples the resident set every 2 ms, and "measured"
is the peak during training minus the resident set just before the model was loaded (the interpreter and
libraries are not tensors). glibc keeps freed blocks below its dynamic mmap threshold (up to 32 MB) in its
heap, so the resident set would count dead activations; the children run with MALLOC_MMAP_THRESHOLD_=65536
so that every tensor above 64 KB is its own mapping, returned on free, and the resident set follows live
tensors. It is compared with ``ftadvisor lora params`` at the same settings (fp32, fp32 loss), with gradient
checkpointing off (the trainer's CPU default) and on. The settings alternate; medians are printed, then
a JSON line with estimate/measured (the target: within 20 %).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

GIB = 1024**3
CHILD = r"""
import json, os, sys, threading, time
import torch
from peft import LoraConfig, get_peft_model
from local_backend.losses import labelled_ce_sum
from local_backend.modelio import load

seq, batch, ckpt = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
page = os.sysconf("SC_PAGE_SIZE")

def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * page

torch.manual_seed(0)
before = rss()
model, tok = load("smollm2-135m-instruct")
cuda = torch.cuda.is_available()
if cuda:
    model.to("cuda")
model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                                         task_type="CAUSAL_LM"))
if ckpt:
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.enable_input_require_grads()
model.train()
optim = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
ids = torch.randint(0, len(tok), (batch, seq))
dev = "cuda" if cuda else "cpu"
data = {"input_ids": ids.to(dev), "labels": ids.clone().to(dev), "attention_mask": torch.ones_like(ids).to(dev)}
peak = [rss()]
stop = False

def sample():
    while not stop:
        peak[0] = max(peak[0], rss())
        time.sleep(0.002)

t = threading.Thread(target=sample, daemon=True)
t.start()
for _ in range(3):
    loss, _ = labelled_ce_sum(model.get_base_model(), data)
    loss.backward()
    optim.step()
    optim.zero_grad(set_to_none=True)
stop = True
t.join()
print(json.dumps({"measured": torch.cuda.max_memory_allocated() if cuda else peak[0] - before}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seq-len", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    from ftadvisor.advisor.lora import ALL_LINEAR, MemorySettings, lora_size, read_config
    from local_backend.modelio import resolve

    shape = read_config(resolve("smollm2-135m-instruct"))  # converts the GGUF once if needed
    measured: dict[bool, list[float]] = {False: [], True: []}
    with tempfile.TemporaryDirectory() as tmp:
        script = Path(tmp) / "child.py"
        script.write_text(CHILD)
        for _ in range(args.repeats):
            for ckpt in (False, True):  # alternate the settings
                r = subprocess.run(
                    [sys.executable, str(script), str(args.seq_len), str(args.batch_size), "1" if ckpt else "0"],
                    capture_output=True,
                    text=True,
                    check=True,
                    env={**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"},
                )
                measured[ckpt].append(json.loads(r.stdout.strip().splitlines()[-1])["measured"] / GIB)
    print(
        f"SmolLM2-135M-Instruct, LoRA r=16 all-linear, fp32, batch {args.batch_size} x seq {args.seq_len}, "
        f"AdamW, fp32 loss ({args.repeats} runs each, medians)"
    )
    ratios = {}
    for ckpt in (False, True):
        est = lora_size(
            shape,
            16,
            list(ALL_LINEAR),
            MemorySettings(
                seq_len=args.seq_len, batch_size=args.batch_size, gradient_checkpointing=ckpt, dtype_bytes=4
            ),
        )
        b = est.breakdown["lora"]
        m = statistics.median(measured[ckpt])
        ratios["checkpointing" if ckpt else "no_checkpointing"] = round(b.total / m, 3)
        print(
            f"checkpointing {'on ' if ckpt else 'off'}: estimated {b.total:.3f} GiB (weights {b.weights:.3f}, "
            f"adapter+optimizer {b.adapter_and_optimizer:.3f}, activations {b.activations:.3f}, logits "
            f"{b.logits:.3f}) | measured {m:.3f} GiB (runs: {', '.join(f'{x:.3f}' for x in measured[ckpt])}) | "
            f"estimate/measured {b.total / m:.2f}" + ("" if 0.8 <= b.total / m <= 1.2 else "  OUTSIDE 20 %")
        )
    print(json.dumps({"estimate_over_measured": ratios}))


if __name__ == "__main__":
    main()
