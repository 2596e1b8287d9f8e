"""One contract, every backend: the same scenarios run against openai, azure and together (their official SDKs
over real HTTP to local stand-ins serving recorded responses in each provider's shapes), local (real training
of a tiny model), and ftadvisor's OpenAI backend driving `ftadvisor serve` (the OpenAI API over real local
training). A new provider proves itself by passing this file.

Scenarios: upload, create, events, succeed, chat with the fine-tune, usage and cost recorded in the ledger; a
failed job; a cancelled job; and, for backends that declare it, downloading the adapter and serving it locally.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import tarfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ftadvisor.backends import JobSpec, capabilities, get_backend, wait
from ftadvisor.backends.base import Backend, Deploys, DownloadsAdapter, JobEvent, ReportsUsage
from ftadvisor.ledger import Ledger
from ftadvisor.train import plan_training, run_training
from tests.conftest import STANDIN_KEY
from tests.openai_standin import Faults, StandIn
from tests.test_local_backend import SYSTEM, dataset
from tests.together_standin import TogetherStandIn, TogetherState

pytest.importorskip("together")

BACKENDS = ["openai", "azure", "together", "local", "openai-on-serve"]
PLAN_DAY = dt.date(2026, 9, 1)  # before Azure's training retirement of gpt-4.1 (2026-10-14 in the catalogue)
TOGETHER_KEY = "tgp_standin_0123456789abcdef"
AZURE_KEY = "azkey-standin-0123456789abcdef"


@dataclass
class Harness:
    name: str
    backend: Backend
    model: str
    options: dict[str, Any]
    key: str
    fail_next: Any  # () -> None: the next job fails
    bad_data: Path  # what the backend is given when a job must fail
    poll: float = 0.0  # seconds between status polls (real training takes real time)

    def spec(self, file_id: str) -> JobSpec:
        return JobSpec(
            model=self.model,
            training_file=file_id,
            suffix="contract",
            hyperparameters={"n_epochs": 2},
            options=self.options,
        )


def _tar_zst(folder: Path) -> bytes:
    """A folder as Together ships adapters: a zstd-compressed tar."""
    import zstandard

    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        t.add(folder, arcname="adapter")
    return zstandard.ZstdCompressor().compress(raw.getvalue())


@pytest.fixture(scope="module")
def tiny_adapter(tiny: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real PEFT LoRA adapter for the tiny model (what a Together job on that model would hand back)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    out = tmp_path_factory.mktemp("adapter") / "lora"
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(tiny),
        LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", task_type="CAUSAL_LM"),
    )
    model.save_pretrained(out)
    config = json.loads((out / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(tiny)
    (out / "adapter_config.json").write_text(json.dumps(config))
    return out


@pytest.fixture(params=BACKENDS)
def harness(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    name = request.param
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{not json\n" * 12)
    quick = {"sleep": lambda s: None}
    if name in ("openai", "azure"):
        faults = Faults()
        with StandIn(faults, flavor=name) as s:
            if name == "openai":
                monkeypatch.setenv("OPENAI_API_KEY", STANDIN_KEY)
                monkeypatch.setenv("OPENAI_BASE_URL", s.url)
                model, key = "gpt-4o-mini-2024-07-18", STANDIN_KEY
            else:
                for k, v in {
                    "AZURE_OPENAI_ENDPOINT": s.root,
                    "AZURE_OPENAI_API_KEY": AZURE_KEY,
                    "AZURE_SUBSCRIPTION_ID": "00000000-0000-0000-0000-000000000000",
                    "AZURE_RESOURCE_GROUP": "rg-ft",
                    "AZURE_OPENAI_RESOURCE": "acme-openai",
                    "AZURE_MANAGEMENT_TOKEN": "eyJ0eXAiOiJKV1QiLCJhbGciOi.standin.token",
                    "AZURE_MANAGEMENT_URL": s.root,
                }.items():
                    monkeypatch.setenv(k, v)
                model, key = "gpt-4.1-mini-2025-04-14", AZURE_KEY
            backend = get_backend(name, **quick, reconcile_delays=(0.0,))
            yield Harness(name, backend, model, {}, key, lambda: setattr(faults, "outcome", "failed"), bad)
    elif name == "together":
        state = TogetherState()
        with TogetherStandIn(state) as s:
            monkeypatch.setenv("TOGETHER_API_KEY", TOGETHER_KEY)
            monkeypatch.setenv("TOGETHER_BASE_URL", s.url)
            tiny_adapter = request.getfixturevalue("tiny_adapter")
            state.adapter = _tar_zst(tiny_adapter)
            backend = get_backend(name, **quick, reconcile_delays=(0.0,))
            yield Harness(
                name,
                backend,
                "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference",
                {"lora_rank": 8},
                TOGETHER_KEY,
                lambda: setattr(state, "outcome", "error"),
                bad,
            )
    elif name == "local":
        tiny = request.getfixturevalue("tiny")
        monkeypatch.setenv("FTADVISOR_LOCAL_DIR", str(tmp_path / "store"))
        backend = get_backend("local", poll_interval=0.2, sleep=time.sleep)
        yield Harness(
            name,
            backend,
            str(tiny),
            {"lora_rank": 4, "gpu_per_hour": 1.5, "max_length": 64},
            "",
            lambda: None,
            bad,
            poll=0.2,
        )
    else:
        yield from _served(request.getfixturevalue("tiny"), tmp_path, request.getfixturevalue("_isolated_home"))


def _served(tiny: Path, tmp_path: Path, home: Path) -> Iterator[Harness]:
    """ftadvisor's OpenAI backend against `ftadvisor serve` over a tiny model. The served model is priced by a
    prices.json row, as a user would price their own hardware; a job fails in the worker when a preference
    file (valid on upload) is trained as SFT."""
    import socket
    import threading

    import uvicorn

    from ftadvisor.server.app import ServerConfig, create_app
    from local_backend import LocalBackend

    (home / "prices.json").write_text(
        json.dumps(
            {
                "models": [
                    {
                        "id": "tiny",
                        "provider": "openai",
                        "encoding": "o200k_base",
                        "methods": ["supervised", "dpo"],
                        "training_per_1m": 1.0,
                        "ft_input": 0.1,
                        "ft_output": 0.2,
                    }
                ]
            }
        )
    )
    key = "sk-served-contract-0123456789"
    app = create_app(
        ServerConfig(keys=[key], models={"tiny": str(tiny)}),
        LocalBackend(tmp_path / "served", poll_interval=0.2, max_running=1),
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    preference = tmp_path / "prefs.jsonl"
    preference.write_text(
        "".join(
            json.dumps(
                {
                    "input": {"messages": [{"role": "user", "content": f"q{i}"}]},
                    "preferred_output": [{"role": "assistant", "content": "good"}],
                    "non_preferred_output": [{"role": "assistant", "content": "bad"}],
                }
            )
            + "\n"
            for i in range(12)
        )
    )
    backend = get_backend(
        "openai",
        api_key=key,
        base_url=f"http://127.0.0.1:{port}/v1",
        sleep=lambda s: time.sleep(min(s, 0.2)),
        reconcile_delays=(0.0,),
    )
    yield Harness("openai", backend, "tiny", {}, key, lambda: None, preference, poll=0.2)
    srv.should_exit = True


def test_train_to_success_then_chat_and_record_usage_and_cost(
    harness: Harness, tmp_path: Path, _isolated_home: Path
) -> None:
    b = harness.backend
    data = dataset(tmp_path / "train.jsonl", 12)
    plan = plan_training(
        data, model=harness.model, backend=b, epochs=2, suffix="contract", options=harness.options, today=PLAN_DAY
    )
    assert plan.backend == harness.name and plan.n_examples == 12
    ledger = Ledger(_isolated_home / "ledger.db")
    events: list[JobEvent] = []
    statuses: list[str] = []
    job = run_training(
        plan,
        b,
        ledger=ledger,
        poll_interval=harness.poll,
        on_event=events.append,
        on_status=lambda j: statuses.append(j.status),
    )
    assert job.status == "succeeded", job.error
    assert job.backend == harness.name and job.fine_tuned_model and job.trained_tokens
    assert statuses[-1] == "succeeded" and events and len({e.id for e in events}) == len(events)

    recorded = ledger.job(job.id)
    assert recorded is not None and recorded["backend"] == harness.name and recorded["status"] == "succeeded"
    assert recorded["actual_cost_usd"] is not None and recorded["actual_cost_usd"] > 0
    assert isinstance(b, ReportsUsage)
    usage = json.loads(ledger.records("training_usage")[0]["data"])
    assert usage["trained_tokens"] == job.trained_tokens and usage["cost_usd"] == recorded["actual_cost_usd"]
    assert ledger.backend_of(job.id) == harness.name and ledger.backend_of(job.fine_tuned_model) == harness.name

    if isinstance(b, Deploys):  # Azure answers through a deployment, made the documented way
        deployment = b.deploy(job.fine_tuned_model)
        assert deployment.status == "succeeded" and deployment.hourly_usd
    answer = b.complete(job.fine_tuned_model, [SYSTEM, {"role": "user", "content": "Ticket 1"}], max_tokens=8)
    assert 0 < answer.usage.completion_tokens <= 15 and answer.usage.prompt_tokens > 0
    if harness.key:
        assert harness.key.encode() not in (_isolated_home / "ledger.db").read_bytes()


def test_a_failed_job_ends_failed_with_its_reason(harness: Harness) -> None:
    b = harness.backend
    harness.fail_next()
    job = b.create_job(harness.spec(b.upload(harness.bad_data).id))
    done = wait(b, job.id, poll_interval=harness.poll, sleep=time.sleep)
    assert done.status == "failed" and done.error is not None and done.error.message
    assert done.fine_tuned_model is None


def test_a_cancelled_job_stays_cancelled(harness: Harness, tmp_path: Path) -> None:
    b = harness.backend
    job = b.create_job(harness.spec(b.upload(dataset(tmp_path / "train.jsonl", 24)).id))
    assert b.cancel(job.id).status in ("cancelled", "cancel_requested")
    assert b.get_job(job.id).status == "cancelled"
    assert job.id in {j.id for j in b.list_jobs()}


def test_every_backend_declares_what_it_can_do(harness: Harness) -> None:
    declared = capabilities(harness.backend)
    assert declared == capabilities(type(harness.backend))
    assert ("download adapter" in declared) == (harness.name in ("together", "local"))
    assert ("deploy" in declared) == (harness.name == "azure")
    assert ("price estimate" in declared) == (harness.name == "together")


def test_a_downloaded_adapter_is_served_by_the_local_backend(harness: Harness, tmp_path: Path) -> None:
    b = harness.backend
    if not isinstance(b, DownloadsAdapter):
        pytest.skip(f"{harness.name} does not hand its adapters out")
    if harness.name == "local":
        pytest.skip("local adapters are on this machine already (export covers them)")
    job = b.create_job(harness.spec(b.upload(dataset(tmp_path / "train.jsonl")).id))
    assert wait(b, job.id, poll_interval=harness.poll, sleep=time.sleep).status == "succeeded"
    out = tmp_path / "downloaded"
    files = b.download_adapter(job.id, out)
    assert {"adapter_config.json", "adapter_model.safetensors"} <= set(files.files)
    assert not (tmp_path / "downloaded.tmp").exists()
    local = get_backend("local")
    answer = local.complete(str(out), [SYSTEM, {"role": "user", "content": "Ticket 1"}], max_tokens=4)
    assert 0 < answer.usage.completion_tokens <= 4
    exported = local.export(str(out), tmp_path / "for-vllm")  # `ftadvisor export` takes the folder too
    assert exported.rank == 4 and "--lora-modules downloaded=" in exported.vllm
