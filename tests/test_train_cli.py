"""`ftadvisor train` end to end against recorded OpenAI responses: plan, confirm, upload, create, watch,
record; and the refusals that must happen before anything is sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftadvisor.ledger import Ledger
from tests.conftest import FIXTURES
from tests.openai_fixtures import TEST_KEY, respond, url

SAMPLE = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "support_tickets.jsonl"
JOB = "ftjob-abc123DEF456ghi789"


@pytest.fixture(autouse=True)
def _env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    monkeypatch.setattr("time.sleep", lambda s: None)


def test_train_end_to_end_records_everything(httpx2_mock, run_cli, _isolated_home: Path) -> None:
    respond(httpx2_mock, "POST", "/files", "file_uploaded")
    respond(httpx2_mock, "GET", "/files/file-TrainAbc123", "file_processed")
    respond(httpx2_mock, "GET", "/models/gpt-4o-mini-2024-07-18", "model_gpt-4o-mini")
    respond(httpx2_mock, "POST", "/fine_tuning/jobs", "job_validating_files")
    for status in ("job_running", "job_succeeded"):
        respond(httpx2_mock, "GET", f"/fine_tuning/jobs/{JOB}", status)
    respond(httpx2_mock, "GET", f"/fine_tuning/jobs/{JOB}/events", "events_page", reusable=True)
    httpx2_mock.add_response(
        method="GET",
        url=url("/files/file-ResultCsv001/content"),
        content=(FIXTURES / "openai" / "result_metrics.csv").read_bytes(),
    )

    r = run_cli(
        "train",
        SAMPLE,
        "--model",
        "gpt-4o-mini",
        "--suffix",
        "tickets",
        "--epochs",
        "3",
        "--yes",
        "--json",
        "--poll",
        "1",
    )
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result == {
        "id": JOB,
        "status": "succeeded",
        "trained_tokens": 96903,
        "error": None,
        "evaluation": None,
        "export": None,
        "backend": "openai",
        "fine_tuned_model": "ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf",
    }
    creates = [q for q in httpx2_mock.get_requests(method="POST") if q.url.path == "/v1/fine_tuning/jobs"]
    assert len(creates) == 1
    sent = json.loads(creates[0].content)
    assert sent["suffix"] == "tickets" and sent["method"]["supervised"]["hyperparameters"] == {"n_epochs": 3}

    ledger = Ledger(_isolated_home / "ledger.db")
    job = ledger.job(JOB)
    assert job["statuses"] == ["validating_files", "running", "succeeded"]
    assert job["actual_cost_usd"] == pytest.approx(96903 * 3.0 / 1e6)
    assert job["estimated_cost_usd"] > 0 and job["run_id"] == sent["metadata"]["ftadvisor_run"]
    assert [m["step"] for m in job["metrics"]] == [1, 100, 200, 300] and job["metrics"][-1]["valid_loss"] == 0.21
    assert {rec["kind"] for rec in ledger.records()} == {
        "training_plan",
        "upload",
        "create_pending",
        "training_usage",
        "run_config",
    }
    usage = json.loads(ledger.records("training_usage")[0]["data"])
    assert usage["trained_tokens"] == 96903 and usage["cost_usd"] == pytest.approx(96903 * 3.0 / 1e6)
    dump = (_isolated_home / "ledger.db").read_bytes()
    assert TEST_KEY.encode() not in dump and b"sk-" not in dump


def test_dry_run_prints_plan_and_cost_and_calls_nothing(httpx2_mock, run_cli) -> None:
    r = run_cli("train", SAMPLE, "--model", "gpt-4o-mini", "--backend", "openai", "--dry-run")
    assert r.exit_code == 0, r.output
    assert "estimated cost: $0.10" in r.output and "no new jobs on openai from 2027-01-06" in r.output
    assert httpx2_mock.get_requests() == []


def test_no_confirmation_without_a_terminal(httpx2_mock, run_cli) -> None:
    r = run_cli("train", SAMPLE, "--model", "gpt-4o-mini")
    assert r.exit_code == 2 and "pass --yes" in r.output
    assert httpx2_mock.get_requests() == []


@pytest.mark.httpx2_mock(assert_all_responses_were_requested=False)
def test_retired_model_and_closed_platform_are_refused_before_any_request(httpx2_mock, run_cli) -> None:
    r = run_cli("train", SAMPLE, "--model", "gpt-3.5-turbo", "--yes")
    assert r.exit_code == 2 and "shut down on 2026-10-23" in r.output and "nothing was uploaded" in r.output
    r = run_cli("train", SAMPLE, "--model", "gpt-4o-mini", "--method", "dpo", "--yes")
    assert r.exit_code == 2 and "cannot be trained with dpo" in r.output
    assert httpx2_mock.get_requests() == []


@pytest.mark.httpx2_mock(assert_all_responses_were_requested=False)
@pytest.mark.parametrize("history", ["never", "inactive"])
def test_organisation_that_may_not_fine_tune_is_refused_before_upload(httpx2_mock, run_cli, history: str) -> None:
    r = run_cli("train", SAMPLE, "--model", "gpt-4o-mini", "--org-history", history, "--yes", "--as-of", "2026-11-23")
    assert r.exit_code == 2 and "can no longer create" in r.output and "nothing was uploaded" in r.output
    assert httpx2_mock.get_requests() == []
    dry = run_cli("train", SAMPLE, "--model", "gpt-4o-mini", "--dry-run", "--as-of", "2026-11-23")
    assert dry.exit_code == 0 and "--org-history active" in dry.output  # unknown history: a warning, not a refusal


LEGAL = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "legal"
AUTO = [
    "train",
    LEGAL / "train.jsonl",
    "--backend",
    "auto",
    "--model",
    "smollm2-135m-instruct",
    "--base-model",
    "gpt-4.1",
    "--system-prompt",
    LEGAL / "system_prompt.txt",
    "--requests-per-day",
    "2000",
    "--cost-per-example",
    "3",
    "--as-of",
    "2026-11-23",
]


@pytest.mark.httpx2_mock(assert_all_responses_were_requested=False)
def test_backend_auto_dispatches_where_the_advice_says(httpx2_mock, run_cli, tmp_path: Path) -> None:
    local = run_cli(*AUTO, "--prompt-compliance", "0.8", "--dry-run")
    assert local.exit_code == 0, local.output
    assert "recommendation: fine-tune-local" in local.output and "dispatch: local smollm2-135m-instruct" in local.output
    assert "plan: sft on local smollm2-135m-instruct" in local.output
    case = tmp_path / "case.yaml"  # serving an 8B model on a rented GPU never pays back at 2,000 requests/day
    case.write_text("local_model: local/llama-3.1-8b-instruct\ncost_per_example: 0\nprompt_compliance: 0.8\n")
    auto = [*AUTO[:-4], "--as-of", "2026-11-23", "--answers", case, "--org-history", "active", "--dry-run"]
    serverless = run_cli(*auto)  # the per-token open road pays back soonest on this dataset
    assert serverless.exit_code == 0, serverless.output
    assert "dispatch: together meta-llama/Meta-Llama-3.1-8B-Instruct-Reference" in serverless.output
    case.write_text(case.read_text() + "serverless_model: null\n")
    hosted = run_cli(*auto)
    assert hosted.exit_code == 0, hosted.output
    assert "dispatch: openai gpt-4.1-mini-2025-04-14" in hosted.output
    stop = run_cli(*AUTO, "--prompt-compliance", "0.99", "--yes")
    assert stop.exit_code == 1 and "the advice is prompt, not a fine-tune, so nothing was sent" in stop.output
    forced = run_cli(*AUTO, "--prompt-compliance", "0.99", "--force", "--dry-run")
    assert forced.exit_code == 0 and "(forced)" in forced.output
    assert httpx2_mock.get_requests() == []


def test_invalid_dataset_is_listed_and_nothing_is_sent(httpx2_mock, run_cli) -> None:
    r = run_cli("train", FIXTURES / "bad" / "weight_two.jsonl", "--model", "gpt-4o-mini", "--yes")
    assert r.exit_code == 1 and "weight_two.jsonl:5:2: invalid_weight" in r.output
    assert httpx2_mock.get_requests() == []


def test_platform_cut_off_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    import datetime as dt

    from ftadvisor.errors import InputError
    from ftadvisor.train import plan_training

    with pytest.raises(InputError, match="no new fine-tuning jobs since 2027-01-06"):
        plan_training(SAMPLE, model="gpt-4o-mini", today=dt.date(2027, 1, 6))
    assert plan_training(SAMPLE, model="gpt-4o-mini", today=dt.date(2027, 1, 5)).warnings


def test_jobs_commands_json(httpx2_mock, run_cli) -> None:
    respond(httpx2_mock, "GET", "/fine_tuning/jobs", "jobs_list_run")
    respond(httpx2_mock, "GET", f"/fine_tuning/jobs/{JOB}/events", "events_page")
    respond(httpx2_mock, "GET", f"/fine_tuning/jobs/{JOB}", "job_failed")
    listed = json.loads(run_cli("jobs", "list", "--json").stdout)
    assert listed[0]["id"] == JOB
    events = json.loads(run_cli("jobs", "events", JOB, "--json").stdout)
    assert len(events) == 6
    r = run_cli("jobs", "get", JOB)
    assert "failed" in r.output and "invalid_training_file" in r.output and "training_file" in r.output


def test_chat_prints_text_and_usage(httpx2_mock, run_cli) -> None:
    respond(httpx2_mock, "POST", "/chat/completions", "chat_completion")
    r = run_cli("chat", "--model", "ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf", "My invoice is wrong")
    assert r.exit_code == 0
    assert r.stdout.strip() == '{"category": "billing", "priority": "high"}'
    assert "61 prompt (0 cached) + 14 completion tokens" in r.stderr


def test_missing_key_exits_2_without_traceback(run_cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    r = run_cli("jobs", "list")
    assert r.exit_code == 2 and "OPENAI_API_KEY" in r.output and "Traceback" not in r.output


def test_ctrl_c_while_watching_leaves_the_job_and_says_how_to_reattach(
    httpx2_mock, run_cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    respond(httpx2_mock, "GET", f"/fine_tuning/jobs/{JOB}", "job_running")
    respond(httpx2_mock, "GET", f"/fine_tuning/jobs/{JOB}/events", "events_page")

    def interrupt(seconds: float) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("time.sleep", interrupt)
    r = run_cli("jobs", "wait", JOB, "--poll", "5")
    assert r.exit_code == 130
    assert f"Re-attach with: ftadvisor jobs wait {JOB}" in r.stderr
    assert not [q for q in httpx2_mock.get_requests() if q.method == "POST"]  # nothing was cancelled


def test_rejected_key_never_reaches_the_output(httpx2_mock, run_cli) -> None:
    respond(httpx2_mock, "GET", "/fine_tuning/jobs", "error_401", status=401)
    r = run_cli("jobs", "list")
    assert r.exit_code == 2 and "invalid_api_key" in r.output
    assert TEST_KEY not in r.output and "sk-test" not in r.output


def test_ledger_commands_show_the_recorded_job(run_cli, _isolated_home: Path) -> None:
    from ftadvisor.backends import Job

    db = Ledger(_isolated_home / "ledger.db")
    db.record("estimate", {"usd": 1.5})
    db.save_job(Job(id=JOB, status="running", model="gpt-4o-mini-2024-07-18", backend="openai"), estimated_cost_usd=0.1)
    db.save_job(
        Job(id=JOB, status="succeeded", model="gpt-4o-mini-2024-07-18", backend="openai", trained_tokens=1000),
        actual_cost_usd=0.003,
    )
    listed = json.loads(run_cli("ledger", "list", "--json").stdout)
    assert listed["jobs"][0]["estimated_cost_usd"] == 0.1 and listed["jobs"][0]["actual_cost_usd"] == 0.003
    assert listed["records"][0]["data"] == {"usd": 1.5}
    shown = json.loads(run_cli("ledger", "show", JOB, "--json").stdout)
    assert shown["statuses"] == ["running", "succeeded"] and shown["trained_tokens"] == 1000
    assert run_cli("ledger", "show", "nope").exit_code == 2
