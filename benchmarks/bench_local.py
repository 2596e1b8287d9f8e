"""Local LoRA training speed: ftadvisor's trainer against TRL's SFTTrainer and HF Trainer + PEFT.

Usage:
  python benchmarks/bench_local.py                 # ftadvisor alone, through the job system (end to end)
  python benchmarks/bench_local.py --compare       # the three trainers side by side (needs: pip install --no-deps trl)
      [--steps 12] [--batch-size 4] [--rounds 3] [--precision fp32|bf16]
      [--variant packing=true --variant compile=true ...]  # ftadvisor with these options, as extra contenders

--compare trains SmolLM2-135M-Instruct (the built-in model) with LoRA r=16 on all linear layers, the same
examples in the same order (sequential batches of the legal sample), AdamW at 2e-4, the same precision and
number of steps, each run in its own process and the contenders alternated for ``--rounds`` rounds. Every
trainer gets the same labels (the assistant turns); their first-step losses must agree. Printed per trainer:
median tokens/s over the steps after the first (real tokens, padding excluded), s/step, peak RSS, first loss;
then the machine's measured fp32 matmul ceiling as tokens/s at 4 FLOPs per parameter per token (forward +
backward through a frozen base), and as the last line a JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

LORA = {"r": 16, "alpha": 32, "dropout": 0.05}
LR = 2e-4
CONTENDERS = ("ftadvisor", "trl", "hf_trainer")


def _examples(n: int) -> list[dict[str, Any]]:
    from ftadvisor.samples import sample_path

    lines = (sample_path("legal") / "train.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(x) for x in lines[:n]]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _report(name: str, times: list[float], tokens: list[int], losses: list[float]) -> dict[str, Any]:
    rates = [t / s for t, s in zip(tokens[1:], times[1:], strict=True)]  # the first step warms up kernels
    return {
        "name": name,
        "tokens_per_s": statistics.median(rates),
        "s_per_step": statistics.median(times[1:]),
        "peak_rss_mb": _peak_rss_mb(),
        "first_loss": losses[0],
        "losses": losses,
        "tokens": sum(tokens),
    }


def run_ftadvisor(steps: int, bs: int, precision: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    from local_backend.modelio import BUILTIN
    from local_backend.store import JobDir
    from local_backend.trainer import Dist, LocalSpec, Run

    examples = _examples(steps * bs)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train.jsonl"
        data.write_text("".join(json.dumps(e) + "\n" for e in examples))
        job = JobDir("ftjob-bench", Path(tmp))
        job.path.mkdir(parents=True)
        spec = LocalSpec(
            **{
                "model": BUILTIN,
                "training_file": str(data),
                "n_epochs": 1,
                "batch_size": bs,
                "lora_rank": LORA["r"],
                "lora_alpha": LORA["alpha"],
                "lora_dropout": LORA["dropout"],
                "precision": precision,
                "warmup_steps": 1,
                "max_length": 1024,
                **(options or {}),
            }
        )
        run = Run(job, spec, Dist(), lambda *a, **k: None)
        run.peft.train()
        times, losses = [], []
        for s in range(steps):
            t = time.perf_counter()
            losses.append(run.step([run.train_set[s * bs : (s + 1) * bs]]))
            times.append(time.perf_counter() - t)
        return _report("ftadvisor", times, _batch_tokens(run.train_set[: steps * bs], bs), losses)


class _Timer:
    """A TrainerCallback recording each step's duration and logged loss."""

    def __init__(self) -> None:
        self.times: list[float] = []
        self.losses: list[float] = []
        self._t = 0.0

    def callback(self) -> Any:
        from transformers import TrainerCallback

        timer = self

        class Callback(TrainerCallback):
            def on_step_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                timer._t = time.perf_counter()

            def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
                timer.times.append(time.perf_counter() - timer._t)

            def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
                if logs and "loss" in logs:
                    timer.losses.append(float(logs["loss"]))

        return Callback()


def _sequential(cls: Any) -> Any:
    """The trainer class with batches in dataset order (as the other contenders take them)."""
    from torch.utils.data import SequentialSampler

    class Sequential(cls):  # type: ignore[misc, valid-type]
        def _get_train_sampler(self, *args: Any, **kwargs: Any) -> Any:
            return SequentialSampler(self.train_dataset)

    return Sequential


def _common_args(steps: int, bs: int, precision: str, out: str) -> dict[str, Any]:
    return {
        "output_dir": out,
        "per_device_train_batch_size": bs,
        "max_steps": steps,
        "learning_rate": LR,
        "lr_scheduler_type": "linear",
        "warmup_steps": 1,
        "logging_steps": 1,
        "report_to": [],
        "save_strategy": "no",
        "use_cpu": True,
        "bf16": precision == "bf16",
        "dataloader_num_workers": 0,
        "seed": 0,
        "max_grad_norm": 1.0,
        "weight_decay": 0.0,
        "disable_tqdm": True,
    }


def _lora_config() -> Any:
    from peft import LoraConfig

    return LoraConfig(
        r=LORA["r"],
        lora_alpha=LORA["alpha"],
        lora_dropout=LORA["dropout"],
        target_modules="all-linear",
        task_type="CAUSAL_LM",
    )


def run_hf_trainer(steps: int, bs: int, precision: str) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer, Trainer, TrainingArguments

    from local_backend.chatdata import IGNORE, encode_chat
    from local_backend.modelio import BUILTIN, quiet, resolve

    quiet()
    path = resolve(BUILTIN)
    tok = AutoTokenizer.from_pretrained(path)
    enc = [encode_chat(tok, e["messages"], 1024) for e in _examples(steps * bs)]
    data = Dataset.from_list([{"input_ids": e.input_ids, "labels": e.labels} for e in enc])
    pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id

    def collate(rows: list[dict[str, Any]]) -> dict[str, Any]:
        width = max(len(r["input_ids"]) for r in rows)
        ids = torch.full((len(rows), width), pad)
        labels = torch.full((len(rows), width), IGNORE)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, r in enumerate(rows):
            n = len(r["input_ids"])
            ids[i, :n], labels[i, :n], mask[i, :n] = torch.tensor(r["input_ids"]), torch.tensor(r["labels"]), 1
        return {"input_ids": ids, "labels": labels, "attention_mask": mask}

    torch.manual_seed(0)
    model = get_peft_model(AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32), _lora_config())
    timer = _Timer()
    with tempfile.TemporaryDirectory() as tmp:
        args = TrainingArguments(**_common_args(steps, bs, precision, tmp), remove_unused_columns=False)
        trainer = _sequential(Trainer)(
            model=model, args=args, train_dataset=data, data_collator=collate, callbacks=[timer.callback()]
        )
        trainer.train()
    return _report("hf_trainer", timer.times, _batch_tokens(enc, bs), timer.losses)


def _batch_tokens(enc: list[Any], bs: int) -> list[int]:
    """Real (unpadded) tokens of each batch of ``bs`` encoded examples, in order."""
    return [sum(len(e.input_ids) for e in enc[i : i + bs]) for i in range(0, len(enc), bs)]


def run_trl(steps: int, bs: int, precision: str) -> dict[str, Any]:
    import torch
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from local_backend.chatdata import encode_chat
    from local_backend.modelio import BUILTIN, quiet, resolve

    quiet()
    path = resolve(BUILTIN)
    tok = AutoTokenizer.from_pretrained(path)
    examples = _examples(steps * bs)
    rows = [{"prompt": e["messages"][:-1], "completion": e["messages"][-1:]} for e in examples]
    enc = [encode_chat(tok, e["messages"], 1024) for e in examples]  # for the token counts only
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    timer = _Timer()
    with tempfile.TemporaryDirectory() as tmp:
        args = SFTConfig(
            **_common_args(steps, bs, precision, tmp), max_length=1024, packing=False, completion_only_loss=True
        )
        trainer = _sequential(SFTTrainer)(
            model=model,
            args=args,
            train_dataset=Dataset.from_list(rows),
            processing_class=tok,
            peft_config=_lora_config(),
            callbacks=[timer.callback()],
        )
        trainer.train()
    return _report("trl", timer.times, _batch_tokens(enc, bs), timer.losses)


def ceiling_gflops(sizes: tuple[int, ...] = (2048, 4096), reps: int = 5) -> float:
    """This machine's fp32 matmul rate, GFLOP/s: the best of ``reps`` square matmuls at each size."""
    import torch

    rates = []
    for size in sizes:
        a, b = torch.randn(size, size), torch.randn(size, size)
        a @ b
        best = float("inf")
        for _ in range(reps):
            t = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t)
        rates.append(2 * size**3 / best / 1e9)
    return max(rates)


def _matmul_params() -> int:
    """Parameters every token multiplies through: the decoder's linear layers and the LM head."""
    from ftadvisor.advisor.lora import read_config
    from local_backend.modelio import BUILTIN, resolve

    shape = read_config(resolve(BUILTIN))
    return shape.linear_params() + shape.vocab * shape.hidden


def _variant(name: str) -> dict[str, Any]:
    """The options of an ftadvisor variant named ``ftadvisor key=value,key=value``."""
    _, _, spec = name.partition(" ")
    return {k: json.loads(v) for k, v in (kv.split("=", 1) for kv in spec.split(",") if kv)}


def _child(name: str, steps: int, bs: int, precision: str) -> dict[str, Any]:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false"}
    r = subprocess.run(
        [
            sys.executable,
            __file__,
            "--one",
            name,
            "--steps",
            str(steps),
            "--batch-size",
            str(bs),
            "--precision",
            precision,
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=3600,
    )
    if r.returncode != 0:
        raise SystemExit(f"{name} failed:\n{r.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(r.stdout.strip().splitlines()[-1])
    return result


def compare(steps: int, bs: int, rounds: int, precision: str, variants: list[str]) -> None:
    contenders = (*CONTENDERS, *(f"ftadvisor {v}" for v in variants))
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in contenders}
    for r in range(rounds):
        k = r % len(contenders)
        for name in contenders[k:] + contenders[:k]:  # alternate who goes first
            runs[name].append(_child(name, steps, bs, precision))
            print(f"round {r + 1} {name}: {runs[name][-1]['tokens_per_s']:.0f} tokens/s", flush=True)
    gflops = ceiling_gflops()
    ceiling = gflops * 1e9 / (4 * _matmul_params())
    rate = {c: statistics.median(x["tokens_per_s"] for x in runs[c]) for c in contenders}
    print(
        f"\nSmolLM2-135M-Instruct, LoRA r={LORA['r']} all-linear, {precision}, batch {bs}, {steps} steps, "
        f"{runs['ftadvisor'][0]['tokens']:,} tokens, medians of {rounds} alternated rounds:"
    )
    for c in contenders:
        x = runs[c]
        print(
            f"  {c:<11} {rate[c]:7.0f} tokens/s  {statistics.median(v['s_per_step'] for v in x):6.2f} s/step  "
            f"peak RSS {statistics.median(v['peak_rss_mb'] for v in x):6.0f} MB  first loss {x[0]['first_loss']:.4f}"
        )
    first = [runs[c][0]["first_loss"] for c in contenders]
    agree = max(first) - min(first) <= 0.02 * max(first)
    print(f"  first-step losses agree within 2%: {agree}")
    for c in (c for c in contenders if c.startswith("ftadvisor")):
        print(
            f"  {c} / TRL {rate[c] / rate['trl']:.2f}x, / HF Trainer {rate[c] / rate['hf_trainer']:.2f}x, "
            f"{rate[c] / ceiling:.0%} of the ceiling"
        )
    print(
        f"  fp32 matmul ceiling {gflops:,.0f} GFLOP/s = {ceiling:,.0f} tokens/s at 4 FLOPs x "
        f"{_matmul_params() / 1e6:.0f}M parameters"
    )
    curves = {}
    if precision != "fp32":  # the reduced-precision loss curve against fp32's, same data and order
        curves = {"fp32": _child("ftadvisor", steps, bs, "fp32")["losses"], precision: runs["ftadvisor"][0]["losses"]}
        worst = max(abs(a - b) / a for a, b in zip(curves["fp32"], curves[precision], strict=True))
        print(
            f"  ftadvisor loss curve, fp32 vs {precision} (step: fp32 / {precision}); largest relative gap "
            f"{worst:.2%}:\n    "
            + ", ".join(
                f"{i + 1}: {a:.4f} / {b:.4f}"
                for i, (a, b) in enumerate(zip(curves["fp32"], curves[precision], strict=True))
            )
        )
    print(
        json.dumps(
            {
                "tokens_per_s": {c: round(rate[c], 1) for c in contenders},
                "ceiling_tokens_per_s": round(ceiling, 1),
                "precision": precision,
                "first_losses": {c: round(runs[c][0]["first_loss"], 4) for c in contenders},
                **({"loss_curves": curves} if curves else {}),
            }
        )
    )


def end_to_end(examples: int, bs: int, qlora: bool) -> None:
    """ftadvisor through the job system: worker start, model load, evaluation and checkpoints included."""
    from ftadvisor.backends import JobSpec, wait
    from local_backend import LocalBackend

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "train.jsonl"
        data.write_text("".join(json.dumps(e) + "\n" for e in _examples(examples)))
        b = LocalBackend(Path(tmp) / "store")
        b.complete("smollm2-135m-instruct", [{"role": "user", "content": "hi"}], max_tokens=1)  # convert once
        job = b.create_job(
            JobSpec(
                model="smollm2-135m-instruct",
                training_file=b.upload(data).id,
                hyperparameters={"n_epochs": 1, "batch_size": bs},
                options={"qlora": qlora},
            )
        )
        done = wait(b, job.id, poll_interval=1, sleep=time.sleep)
        used = b.training_usage(done)
        assert used is not None and used.trained_tokens and used.wall_s
        steps = [e.data for e in b.list_events(job.id, limit=10_000) if e.data]
        started = next(e.message for e in b.list_events(job.id, limit=10_000) if "Fine-tuning started" in e.message)
        print(
            f"training ({'QLoRA 4-bit' if qlora else 'LoRA'}, {examples} examples, batch {bs}): "
            f"{used.trained_tokens / used.wall_s:.0f} tokens/s over {used.wall_s:.1f} s "
            f"({used.wall_s / len(steps):.2f} s/step incl. evaluation and checkpoints), peak memory "
            f"{used.peak_memory_mb or 0:,.0f} MB, status {done.status}\n  {started.split('; ', 1)[-1]}"
        )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--compare", action="store_true")
    ap.add_argument("--one")
    ap.add_argument(
        "--variant",
        action="append",
        default=[],
        help="ftadvisor options as an extra contender, e.g. packing=true or compile=true,packing=true",
    )
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--precision", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--examples", type=int, default=48)
    ap.add_argument("--qlora", action="store_true")
    args = ap.parse_args()
    if args.one and args.one.startswith("ftadvisor"):
        print(json.dumps(run_ftadvisor(args.steps, args.batch_size, args.precision, _variant(args.one))))
    elif args.one:
        fn = {"trl": run_trl, "hf_trainer": run_hf_trainer}[args.one]
        print(json.dumps(fn(args.steps, args.batch_size, args.precision)))
    elif args.compare:
        compare(args.steps, args.batch_size, args.rounds, args.precision, args.variant)
    else:
        end_to_end(args.examples, args.batch_size, args.qlora)


if __name__ == "__main__":
    main()
