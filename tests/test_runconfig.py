"""Runs described in YAML: ftadvisor's own keys (flags override them), and seed 004's Axolotl config trained
through `ftadvisor train --config` on a local model, then repeated exactly by `jobs rerun`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftadvisor.ledger import Ledger
from tests.test_local_backend import dataset

# Seed 004's Axolotl config, verbatim but for the base model and the data path.
AXOLOTL = """base_model: {model}
model_type: AutoModelForCausalLM

load_in_4bit: true           # QLoRA
adapter: lora
lora_r: 16
lora_alpha: 32
lora_target_modules:
  - q_proj
  - v_proj
  - k_proj
  - o_proj

datasets:
  - path: training.jsonl
    type: chat_template

num_epochs: 3
micro_batch_size: 2
gradient_accumulation_steps: 8
learning_rate: 0.0002
lr_scheduler: cosine
warmup_steps: 10

output_dir: ./output
save_safetensors: true
"""


def test_seed_004_axolotl_config_trains_and_reruns_exactly(
    tiny: Path, run_cli, tmp_path: Path, _isolated_home: Path
) -> None:
    pytest.importorskip("bitsandbytes")
    dataset(tmp_path / "training.jsonl", 12)
    config = tmp_path / "config.yaml"
    config.write_text(AXOLOTL.format(model=tiny))
    r = run_cli("train", "--config", config, "--poll", "1", "--json")
    assert r.exit_code == 0, r.output
    job = json.loads(r.stdout)
    assert job["status"] == "succeeded" and job["backend"] == "local"
    from local_backend import LocalBackend

    b = LocalBackend()
    started = next(e.message for e in b.list_events(job["id"], limit=1000) if "Fine-tuning started" in e.message)
    assert "batch size 2 x 8 accumulated" in started and "cosine schedule" in started and "LoRA r=16" in started
    assert any("4-bit NF4" in e.message for e in b.list_events(job["id"], limit=1000))
    exported = json.loads((tmp_path / "output" / "adapter_config.json").read_text())  # Axolotl's output_dir
    assert exported["r"] == 16 and exported["lora_alpha"] == 32
    assert set(exported["target_modules"]) == {"q_proj", "k_proj", "v_proj", "o_proj"}
    assert job["export"]["out"] == str(tmp_path / "output") and "--enable-lora" in job["export"]["vllm"]

    again = run_cli("jobs", "rerun", job["id"], "--yes", "--json")
    assert again.exit_code == 0, again.output
    second = json.loads(again.stdout)
    assert second["status"] == "succeeded" and second["id"] != job["id"]
    db = Ledger(_isolated_home / "ledger.db")
    configs = [json.loads(x["data"]) for x in db.records(kind="run_config")]
    assert len(configs) == 2 and configs[0]["options"] == configs[1]["options"]
    assert configs[0]["options"]["qlora"] is True and configs[0]["options"]["gradient_accumulation_steps"] == 8
    from safetensors.torch import load_file

    first = load_file(str(b.root / "jobs" / job["id"] / "adapter" / "adapter_model.safetensors"))
    rerun = load_file(str(b.root / "jobs" / second["id"] / "adapter" / "adapter_model.safetensors"))
    assert first.keys() == rerun.keys() and all(bool((first[k] == rerun[k]).all()) for k in first)


def test_own_keys_flags_override_and_refusals(run_cli, tmp_path: Path) -> None:
    data = dataset(tmp_path / "train.jsonl", 12)
    own = tmp_path / "run.yaml"
    own.write_text(f"file: {data.name}\nmodel: gpt-4o-mini-2024-07-18\nepochs: 2\nbatch-size: 4\nseed: 7\n")
    plan = json.loads(run_cli("train", "--config", own, "--epochs", "1", "--dry-run", "--json").stdout)
    assert plan["n_epochs"] == 1 and plan["seed"] == 7 and plan["hyperparameters"]["batch_size"] == 4
    assert plan["training_file"] == str(data)  # relative to the config's folder

    def refused(text: str) -> str:
        path = tmp_path / "bad.yaml"
        path.write_text(text)
        r = run_cli("train", "--config", path, "--dry-run")
        assert r.exit_code == 2 and "Traceback" not in r.output
        return r.output

    assert "unknown key(s) epoch" in refused("file: x.jsonl\nepoch: 3\n")
    assert "deepspeed: DeepSpeed is not supported" in refused(
        "base_model: m\ndatasets:\n  - path: t.jsonl\n    type: chat_template\ndeepspeed: zero3.json\n"
    )
    assert "train_on_inputs: training on the prompts is not supported" in refused(
        "base_model: m\ndatasets:\n  - path: t.jsonl\ntrain_on_inputs: true\n"
    )
    assert "offloading parameters to the CPU is not supported" in refused(
        "base_model: m\ndatasets:\n  - path: t.jsonl\nfsdp_config:\n  fsdp_offload_params: true\n"
    )
    assert "datasets[0].type: 'alpaca' is not supported" in refused(
        "base_model: m\ndatasets:\n  - path: t.jsonl\n    type: alpaca\n"
    )
    assert "bad.yaml:2: not valid YAML" in refused("model: m\n  - oops: [\n")
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "x").write_text("x")
    assert "output_dir" in refused(f"file: {data.name}\nmodel: gpt-4o-mini-2024-07-18\noutput_dir: taken\n")


def test_axolotl_keys_map_and_unknown_ones_are_named(tmp_path: Path) -> None:
    import random

    from ftadvisor.runconfig import load_config, split_validation

    rng = random.Random(0)
    words = "invoice crash parcel email refund login password screen order delivery account card".split()
    data = tmp_path / "train.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": " ".join(rng.sample(words, 6)) + f" {i}"},
                        {"role": "assistant", "content": " ".join(rng.sample(words, 5))},
                    ]
                }
            )
            + "\n"
            for i in range(20)
        )
    )
    path = tmp_path / "ax.yml"
    path.write_text(
        "base_model: m\ndatasets:\n  - path: train.jsonl\n    type: chat_template\nadapter: qlora\n"
        "lora_target_linear: true\nsequence_len: 512\noptimizer: paged_adamw_8bit\nbf16: true\n"
        "max_steps: 30\neval_steps: 5\nsave_steps: 10\nwarmup_ratio: 0.1\nval_set_size: 0.2\n"
        "wandb_project: x\nmystery_key: 1\nseed: 3\nsample_packing: true\ngroup_by_length: true\n"
        "fsdp:\n  - full_shard\n  - auto_wrap\nfsdp_config:\n  fsdp_version: 2\n"
    )
    c = load_config(path)
    assert c.model == "m" and c.backend == "local" and c.file == str(data) and c.seed == 3
    assert c.options == {
        "qlora": True,
        "target_modules": "all-linear",
        "max_length": 512,
        "optimizer": "paged-adamw-8bit",
        "precision": "bf16",
        "max_steps": 30,
        "eval_every": 5,
        "checkpoint_every": 10,
        "warmup_ratio": 0.1,
        "packing": True,
        "group_by_length": True,
        "parallel": "fsdp",
        "report_to": "wandb",
        "tracking_project": "x",
    }
    assert any("mystery_key" in w for w in c.warnings)
    split = split_validation(c, tmp_path / "split")
    lines = {k: len(Path(getattr(split, k)).read_text().splitlines()) for k in ("file", "validation")}
    assert lines["file"] + lines["validation"] == 20 and 2 <= lines["validation"] <= 6 and split.val_set_size is None
