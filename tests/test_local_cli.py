"""`ftadvisor train --backend local`, `chat`, `jobs` and `export` on a tiny model, through the CLI."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("peft")

from ftadvisor.ledger import Ledger
from tests.test_local_backend import dataset


def test_train_chat_export_on_the_local_backend(tiny: Path, run_cli, tmp_path: Path, _isolated_home: Path) -> None:
    data = dataset(tmp_path / "train.jsonl", 12)
    r = run_cli(
        "train",
        data,
        "--backend",
        "local",
        "--model",
        tiny,
        "--epochs",
        "2",
        "--batch-size",
        "2",
        "-o",
        "lora_rank=4",
        "-o",
        "gpu_per_hour=1.5",
        "--suffix",
        "tickets",
        "--poll",
        "1",
        "--json",
    )
    assert r.exit_code == 0, r.output
    job = json.loads(r.stdout)
    assert job["status"] == "succeeded" and job["fine_tuned_model"].startswith("ft:model:tickets:")
    db = Ledger(_isolated_home / "ledger.db")
    row = db.job(job["id"])
    usage = next(json.loads(x["data"]) for x in db.records(kind="training_usage"))
    assert row["backend"] == "local" and [m["step"] for m in row["metrics"]] == list(range(1, 13))
    assert usage["wall_s"] > 0 and usage["peak_memory_mb"] > 0 and usage["trained_tokens"] == job["trained_tokens"]
    assert row["actual_cost_usd"] == pytest.approx(usage["wall_s"] / 3600 * 1.5)

    chat = run_cli(
        "chat",
        "--backend",
        "local",
        "--model",
        job["fine_tuned_model"],
        "--max-tokens",
        "5",
        "--json",
        "My invoice is wrong",
    )
    assert chat.exit_code == 0, chat.output
    assert json.loads(chat.stdout)["usage"]["completion_tokens"] <= 5

    listed = json.loads(run_cli("jobs", "list", "--backend", "local", "--json").stdout)
    assert listed[0]["id"] == job["id"]
    ckpts = json.loads(run_cli("jobs", "checkpoints", job["id"], "--backend", "local", "--json").stdout)
    assert ckpts[0]["step_number"] == 12 and ckpts[0]["fine_tuned_model_checkpoint"].endswith(":ckpt-step-12")

    out = tmp_path / "adapter"
    e = run_cli("export", job["id"], "--out", out, "--json")
    assert e.exit_code == 0, e.output
    info = json.loads(e.stdout)
    assert info["rank"] == 4 and "--enable-lora --lora-modules tickets=" in info["vllm"]
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["r"] == 4 and not config.get("modules_to_save") and not config.get("use_dora")
    merged = tmp_path / "merged"
    m = run_cli("export", job["id"], "--out", merged, "--merge", "--json")
    assert m.exit_code == 0, m.output
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(merged)
    assert not any("lora" in n for n, _ in model.named_parameters())
    assert json.loads(m.stdout)["dtype"] == "float32"  # the tiny base is stored in fp32: no rounding to bf16
    import torch
    from peft import PeftModel

    ids = torch.tensor([[5, 17, 42, 99, 7, 3]])
    with torch.no_grad():
        adapted = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(tiny), str(out))(ids).logits
        assert (model(ids).logits - adapted).abs().max().item() < 1e-3  # merged == base + adapter

    events = json.loads(run_cli("jobs", "events", job["id"], "--limit", "3", "--json").stdout)
    every = json.loads(run_cli("jobs", "events", job["id"], "--all", "--json").stdout)
    assert len(events) == 3 and len(every) > 12 and [e["id"] for e in every[:3]] == [e["id"] for e in events]
    page = json.loads(run_cli("jobs", "events", job["id"], "--after", every[2]["id"], "--limit", "2", "--json").stdout)
    assert [e["id"] for e in page] == [e["id"] for e in every[3:5]]

    wide = tmp_path / "rank-1024"  # over vLLM's largest rank: refused before anything is written
    shutil.copytree(out, wide)
    cfg = json.loads((wide / "adapter_config.json").read_text())
    (wide / "adapter_config.json").write_text(json.dumps({**cfg, "r": 1024}))
    refused = run_cli("export", wide, "--out", tmp_path / "vllm")
    assert refused.exit_code == 2 and "rank 1024 exceeds" in refused.output and "--merge" in refused.output
    assert not (tmp_path / "vllm").exists() and not (tmp_path / "vllm.tmp").exists()
    assert run_cli("export", job["id"], "--out", merged).exit_code == 2  # never overwrites


def test_qlora_trains_on_a_4bit_base(tiny: Path, tmp_path: Path) -> None:
    pytest.importorskip("bitsandbytes")
    from ftadvisor.backends import JobSpec, wait
    from local_backend import LocalBackend

    b = LocalBackend(tmp_path / "store")
    f = b.upload(dataset(tmp_path / "train.jsonl", 12))
    job = b.create_job(
        JobSpec(
            model=str(tiny),
            training_file=f.id,
            hyperparameters={"n_epochs": 2, "batch_size": 4},
            options={"qlora": True},
        )
    )
    done = wait(b, job.id, poll_interval=0.3, sleep=time.sleep)
    assert done.status == "succeeded", done.error
    events = [e.message for e in b.list_events(job.id, limit=1000)]
    assert any("4-bit NF4" in m for m in events)
    losses = [e.data["train_loss"] for e in reversed(b.list_events(job.id, limit=1000)) if e.data]
    assert losses[-1] < losses[0]


def test_local_options_are_refused_for_openai(run_cli, tmp_path: Path) -> None:
    r = run_cli("train", dataset(tmp_path / "t.jsonl"), "--model", "gpt-4o-mini", "-o", "lora_rank=8", "--dry-run")
    assert r.exit_code == 2 and "-o lora_rank: Extra inputs are not permitted" in r.output
    assert "options of --backend openai: report_to, tracking_project" in r.output and "Traceback" not in r.output


def test_a_mistyped_local_option_is_named_before_anything_runs(run_cli, tmp_path: Path) -> None:
    r = run_cli(
        "train",
        dataset(tmp_path / "t.jsonl"),
        "--backend",
        "local",
        "--model",
        "smollm2-135m-instruct",
        "-o",
        "lora_rank=zero",
        "--dry-run",
    )
    assert r.exit_code == 2 and "-o lora_rank: Input should be a valid integer" in r.output
    ok = run_cli(
        "train",
        dataset(tmp_path / "t.jsonl"),
        "--backend",
        "local",
        "--model",
        "smollm2-135m-instruct",
        "-o",
        "lora_rank=8",
        "-o",
        "target_modules=q_proj,v_proj",
        "--dry-run",
        "--json",
    )
    assert ok.exit_code == 0, ok.output
    assert json.loads(ok.stdout)["options"] == {"lora_rank": 8, "target_modules": ["q_proj", "v_proj"]}


def test_eval_runs_a_local_model(tiny: Path, run_cli, tmp_path: Path) -> None:
    data = dataset(tmp_path / "test.jsonl", 3)
    r = run_cli(
        "eval",
        "run",
        "-m",
        f"local:{tiny}",
        "--data",
        data,
        "--max-tokens",
        "4",
        "--require-json",
        "--json",
        "--no-log",
    )
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)["models"][0]
    assert summary["backend"] == "local" and summary["n"] == 3 and summary["n_errors"] == 0
    assert summary["completion_tokens_mean"] <= 4 and summary["cost_per_request_usd"] is None
    assert summary["format_compliance"] == 0.0  # a random model does not write JSON


def test_train_with_a_test_split_evaluates_and_records(
    tiny: Path, run_cli, tmp_path: Path, _isolated_home: Path
) -> None:
    r = run_cli(
        "train",
        dataset(tmp_path / "train.jsonl", 12),
        "--backend",
        "local",
        "--model",
        tiny,
        "--epochs",
        "1",
        "--test",
        dataset(tmp_path / "test.jsonl", 3),
        "--poll",
        "1",
        "--json",
    )
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    stored = Ledger(_isolated_home / "ledger.db").eval_run(result["evaluation"])
    assert [m["model"] for m in stored["models"]] == [str(tiny), result["fine_tuned_model"]]
    assert all(m["n"] == 3 for m in stored["models"])


def test_ledger_lists_and_shows_evaluation_runs(tiny: Path, run_cli, tmp_path: Path, _isolated_home: Path) -> None:
    data = dataset(tmp_path / "test.jsonl", 3)
    r = run_cli("eval", "run", "-m", f"local:{tiny}", "--data", data, "--max-tokens", "2", "--json")
    assert r.exit_code == 0, r.output
    run_id = json.loads(r.stdout)["id"]
    listed = json.loads(run_cli("ledger", "list", "--json").stdout)
    assert [x["id"] for x in listed["eval_runs"]] == [run_id] and listed["eval_runs"][0]["models"][0]["n"] == 3
    shown = run_cli("ledger", "show", run_id, "--json")  # crashed with a JSONDecodeError before
    assert shown.exit_code == 0, shown.output
    assert len(json.loads(shown.stdout)["examples"]) == 3
    assert run_id in run_cli("ledger", "list").stdout
    assert json.loads(run_cli("ledger", "list", "--kind", "nothing-of-this-kind", "--json").stdout)["records"] == []
    assert run_cli("ledger", "path").stdout.strip() == str(_isolated_home / "ledger.db")
    exported = run_cli("ledger", "export", "--out", tmp_path / "export")
    assert exported.exit_code == 0, exported.output
    import pandas as pd

    results = pd.read_parquet(tmp_path / "export" / "eval_results.parquet")
    assert len(results) == 3 and set(results["run_id"]) == {run_id}
    assert len(pd.read_csv(tmp_path / "export" / "eval_runs.csv")) == 1


def test_data_preview_shows_what_the_loss_sees(tiny: Path, run_cli, tmp_path: Path) -> None:
    path = tmp_path / "chat.jsonl"
    path.write_text(
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "My invoice is wrong."},
                    {"role": "assistant", "content": "Hello", "weight": 0},
                    {"role": "user", "content": "Well?"},
                    {"role": "assistant", "content": '{"category": "billing"}'},
                ]
            }
        )
        + "\n"
    )
    r = run_cli("data", "preview", path, "--model", tiny, "--json")
    assert r.exit_code == 0, r.output
    (example,) = json.loads(r.stdout)
    trained = "".join(t["text"] for t in example["tokens"] if t["trained"])
    untrained = "".join(t["text"] for t in example["tokens"] if not t["trained"])
    assert example["line"] == 1 and trained == '{"category": "billing"}<|im_end|>\n'
    assert "Hello" in untrained and "My invoice is wrong." in untrained  # weight 0 and the prompt: not trained
    shown = run_cli("data", "preview", path, "--model", tiny)
    assert shown.exit_code == 0 and "trained (highlighted)" in shown.output
    hosted = run_cli("data", "preview", path, "--model", "gpt-4o-mini")
    assert hosted.exit_code == 2 and "HF_HUB_OFFLINE" in hosted.output and "Traceback" not in hosted.output
