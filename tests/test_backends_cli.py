"""The backend boundary as users meet it: the registry (entry points, plugins), `ftadvisor backends`, the
backend inferred from a job id or model, `-o` options, and the Azure and Together roads through the CLI."""

from __future__ import annotations

import json
import sys
import textwrap
from pathlib import Path

import pytest

from ftadvisor.backends import JobSpec, backend_class, get_backend, infer_backend, names, registry
from ftadvisor.errors import InputError
from ftadvisor.ledger import Ledger
from tests.openai_standin import StandIn
from tests.test_local_backend import dataset
from tests.together_standin import TogetherStandIn, TogetherState

pytest.importorskip("together")
TOGETHER_KEY = "tgp_standin_0123456789abcdef"
LLAMA = "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"


def test_the_four_backends_are_registered_through_entry_points() -> None:
    assert names()[:4] == ["openai", "azure", "together", "local"]
    assert backend_class("together").__module__ == "ftadvisor.backends.together_api"
    with pytest.raises(InputError, match="unknown backend 'nope': available: openai, azure, together, local"):
        get_backend("nope")


def test_a_separate_package_adds_a_backend_by_declaring_an_entry_point(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What a plugin does: a distribution whose entry_points.txt names a class in the group."""
    (tmp_path / "echo_backend.py").write_text(
        textwrap.dedent("""
        from ftadvisor.backends.openai_api import OpenAIBackend

        class EchoBackend(OpenAIBackend):
            name = "echo"
            provider = "echo"

            @classmethod
            def owns(cls, ref):
                return 1 if ref.startswith("echo-") else 0
    """)
    )
    dist = tmp_path / "echo_backend-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: echo-backend\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[ftadvisor.backends]\necho = echo_backend:EchoBackend\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry._registered.cache_clear()
    registry.backend_class.cache_clear()
    try:
        assert "echo" in names()
        assert get_backend("echo").name == "echo"
        assert infer_backend("echo-123") == "echo"
    finally:
        monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(tmp_path)])
        registry._registered.cache_clear()
        registry.backend_class.cache_clear()


def test_job_ids_and_models_pick_their_backend() -> None:
    assert infer_backend("ft-3b883474-f39c-40d9-9d5a-7f97ba9eeb9f") == "together"
    assert infer_backend("ftjob-0e208cf33a6a466994aff31a08aba678") == "azure"
    assert infer_backend("gpt-4.1-mini-2025-04-14.ft-0e208cf33a6a466994aff31a08aba678") == "azure"
    assert infer_backend("ftjob-abc123DEF456ghi789") == "openai"
    assert infer_backend("ft:gpt-4o-mini-2024-07-18:acme::x1") == "openai"
    assert infer_backend("ftjob-abc123DEF456ghi789", ledger_backend="local") == "local"  # the ledger knows
    with pytest.raises(InputError, match="pass --backend"):
        infer_backend("my-model")


def test_backends_lists_methods_capabilities_and_options(run_cli) -> None:
    r = run_cli("backends", "--json")
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.stdout)}
    assert rows["together"]["methods"] == ["dpo", "sft"] and "price estimate" in rows["together"]["capabilities"]
    assert "deploy" in rows["azure"]["capabilities"] and rows["azure"]["options"] == {}
    assert rows["openai"]["options"]["report_to"]["enum"] == ["none", "wandb"]
    assert rows["local"]["options"]["lora_rank"]["default"] == 16
    text = run_cli("backends").stdout
    assert "-o lora_rank=16: LoRA rank" in text and "together: trains dpo, sft" in text


def test_jobs_get_needs_no_backend_for_a_together_id(run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with TogetherStandIn() as s:
        monkeypatch.setenv("TOGETHER_API_KEY", TOGETHER_KEY)
        monkeypatch.setenv("TOGETHER_BASE_URL", s.url)
        b = get_backend("together")
        job = b.create_job(JobSpec(model=LLAMA, training_file=b.upload(dataset(tmp_path / "t.jsonl")).id))
        r = run_cli("jobs", "get", job.id, "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["backend"] == "together"
        paused = run_cli("jobs", "pause", job.id)
        assert (
            paused.exit_code == 2
            and "the together backend cannot pause jobs (openai, azure, local can)" in paused.output
        )


def test_train_on_together_shows_its_quote_and_records_the_job(
    run_cli, monkeypatch: pytest.MonkeyPatch, _isolated_home: Path, tmp_path: Path
) -> None:
    with TogetherStandIn() as s:
        monkeypatch.setenv("TOGETHER_API_KEY", TOGETHER_KEY)
        monkeypatch.setenv("TOGETHER_BASE_URL", s.url)
        monkeypatch.setattr("time.sleep", lambda seconds: None)
        r = run_cli(
            "train",
            dataset(tmp_path / "t.jsonl"),
            "--backend",
            "together",
            "--model",
            "together/llama-3.1-8b-instruct",
            "-o",
            "lora_rank=8",
            "--epochs",
            "2",
            "--yes",
            "--poll",
            "1",
        )
        assert r.exit_code == 0, r.output
        assert "together quotes $0.14 for this job (290,709 training tokens); your limit is $50.00" in r.stderr
        sent = next(iter(s.state.jobs.values()))["params"]
        assert sent["model"] == LLAMA and sent["n_epochs"] == 2 and sent["training_type"]["lora_r"] == 8
        db = Ledger(_isolated_home / "ledger.db")
        job = db.jobs()[0]
        assert job["backend"] == "together" and job["status"] == "succeeded" and job["actual_cost_usd"] > 0
        assert json.loads(db.records("price_estimate")[0]["data"])["total_usd"] == 0.14
        assert TOGETHER_KEY.encode() not in (_isolated_home / "ledger.db").read_bytes()


def test_together_refuses_a_job_over_the_account_limit_before_creating_it(run_cli, monkeypatch, tmp_path) -> None:
    with TogetherStandIn(TogetherState(over_limit=True)) as s:
        monkeypatch.setenv("TOGETHER_API_KEY", TOGETHER_KEY)
        monkeypatch.setenv("TOGETHER_BASE_URL", s.url)
        r = run_cli("train", dataset(tmp_path / "t.jsonl"), "--backend", "together", "--model", LLAMA, "--yes")
        assert r.exit_code == 1 and "exceeds what the account may spend; nothing was created" in r.output
        assert s.state.creates_received == 0


def test_together_create_whose_answer_is_lost_is_found_not_repeated(tmp_path: Path) -> None:
    with TogetherStandIn(TogetherState(create_fault="drop")) as s:
        b = get_backend(
            "together", api_key=TOGETHER_KEY, base_url=s.url, sleep=lambda x: None, reconcile_delays=(0.0, 0.0)
        )
        job = b.create_job(JobSpec(model=LLAMA, training_file=b.upload(dataset(tmp_path / "t.jsonl")).id))
        assert s.state.creates_received == 1 and job.id in s.state.jobs


def test_azure_training_follows_azures_own_retirement_dates(run_cli, tmp_path: Path) -> None:
    data = dataset(tmp_path / "t.jsonl")
    args = ["train", data, "--backend", "azure", "--model", "gpt-4.1-mini", "--dry-run", "--as-of", "2026-11-23"]
    unknown = run_cli(*args)  # after the base model's retirement only existing customers train: say which
    assert unknown.exit_code == 2 and "gpt-4.1-mini-2025-04-14 on azure" in unknown.output
    assert "--azure-customer existing" in unknown.output
    new = run_cli(*args, "--azure-customer", "new")
    assert new.exit_code == 2 and "--backend together or --backend local" in new.output
    assert run_cli(*args, "--azure-customer", "existing").exit_code == 0
    before = run_cli(
        "train", data, "--backend", "azure", "--model", "gpt-4.1-mini", "--dry-run", "--json", "--as-of", "2026-09-01"
    )
    assert before.exit_code == 0, before.output
    plan = json.loads(before.stdout)
    assert plan["backend"] == "azure" and plan["shutdown"] == "2027-10-14" and plan["price_per_1m"] == 5.0


def test_azure_deploy_without_management_credentials_prints_the_az_command(run_cli, monkeypatch) -> None:
    for k in ("AZURE_SUBSCRIPTION_ID", "AZURE_MANAGEMENT_TOKEN"):
        monkeypatch.delenv(k, raising=False)
    r = run_cli("jobs", "deploy", "gpt-4.1-mini-2025-04-14.ft-0e208cf33a6a466994aff31a08aba678", "--name", "tickets")
    assert r.exit_code == 2 and "az cognitiveservices account deployment create" in r.output
    assert "--deployment-name tickets --model-name gpt-4.1-mini-2025-04-14.ft-" in r.output


def test_azure_chat_goes_to_the_deployment_made_for_the_fine_tune(run_cli, monkeypatch, tmp_path) -> None:
    ft = "gpt-4.1-mini-2025-04-14.ft-0e208cf33a6a466994aff31a08aba678-tickets"
    with StandIn(flavor="azure") as s:
        for k, v in {
            "AZURE_OPENAI_ENDPOINT": s.root,
            "AZURE_OPENAI_API_KEY": "azkey-0123456789abcdef",
            "AZURE_SUBSCRIPTION_ID": "sub",
            "AZURE_RESOURCE_GROUP": "rg",
            "AZURE_OPENAI_RESOURCE": "acme",
            "AZURE_MANAGEMENT_TOKEN": "tok-0123456789",
            "AZURE_MANAGEMENT_URL": s.root,
        }.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setattr("time.sleep", lambda seconds: None)
        before = run_cli("chat", "--model", ft, "hi")
        assert before.exit_code == 2 and f"run `ftadvisor jobs deploy {ft}`" in before.output
        d = run_cli("jobs", "deploy", ft, "--name", "tickets-ft", "--json")
        assert d.exit_code == 0, d.output
        assert json.loads(d.stdout)["name"] == "tickets-ft" and json.loads(d.stdout)["hourly_usd"] == 1.7
        r = run_cli("chat", "--model", ft, "--json", "hi")
        assert r.exit_code == 0, r.output
        assert "tickets-ft" in s.state.deployments and json.loads(r.stdout)["usage"]["completion_tokens"] == 14


def test_azure_hosting_is_a_monthly_cost_in_the_break_even(run_cli) -> None:
    common = [
        "cost",
        "breakeven",
        "--base-model",
        "gpt-4.1",
        "--prompt-tokens",
        "2300",
        "--input-tokens",
        "200",
        "--output-tokens",
        "150",
        "--train-cost",
        "20",
        "--requests-per-day",
        "1000",
        "--as-of",
        "2026-09-01",
        "--json",
    ]
    azure = json.loads(run_cli(*common, "--ft-model", "azure/gpt-4.1-mini").stdout)
    openai = json.loads(run_cli(*common, "--ft-model", "gpt-4.1-mini").stdout)
    assert azure["inputs"]["hosting_per_month"] == pytest.approx(1.7 * 24 * 365.25 / 12)
    assert openai["inputs"]["hosting_per_month"] == 0
    assert azure["break_even_days"] is None and "never pays back" in azure["verdict"]
    assert openai["break_even_days"] < 30


def test_prices_list_by_provider(run_cli) -> None:
    rows = json.loads(run_cli("prices", "list", "--provider", "together", "--json").stdout)["models"]
    assert rows and {r["provider"] for r in rows} == {"together"}
    bad = run_cli("prices", "list", "--provider", "nope")
    assert bad.exit_code == 2 and "azure, openai, self-hosted, together" in bad.output


def test_dry_run_needs_no_key_on_any_hosted_backend(run_cli, monkeypatch, tmp_path) -> None:
    for k in ("OPENAI_API_KEY", "TOGETHER_API_KEY", "AZURE_OPENAI_API_KEY"):
        monkeypatch.delenv(k, raising=False)
    data = dataset(tmp_path / "t.jsonl")
    for backend, model in (("openai", "gpt-4o-mini"), ("together", LLAMA)):
        r = run_cli("train", data, "--backend", backend, "--model", model, "--dry-run", "--json")
        assert r.exit_code == 0, r.output
        assert json.loads(r.stdout)["backend"] == backend


def test_together_dpo_sends_the_method_and_beta(tmp_path: Path) -> None:
    rows = [
        {
            "input": {"messages": [{"role": "user", "content": f"q{i}"}]},
            "preferred_output": [{"role": "assistant", "content": "good"}],
            "non_preferred_output": [{"role": "assistant", "content": "bad"}],
        }
        for i in range(10)
    ]
    data = tmp_path / "prefs.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with TogetherStandIn() as s:
        b = get_backend("together", api_key=TOGETHER_KEY, base_url=s.url, sleep=lambda x: None)
        b.create_job(
            JobSpec(
                model=LLAMA, training_file=b.upload(data).id, method="dpo", hyperparameters={"beta": 0.2, "n_epochs": 1}
            )
        )
        sent = next(iter(s.state.jobs.values()))["params"]
        assert sent["training_method"]["method"] == "dpo" and sent["training_method"]["dpo_beta"] == 0.2
        assert sent["n_epochs"] == 1 and "train_on_inputs" not in sent["training_method"]
