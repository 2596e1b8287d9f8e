"""The OpenAI backend driving the real openai SDK against recorded responses, mocked at its transport
(httpx2-pytest). Each scenario asserts the requests that were sent."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import httpx2
import pytest

from ftadvisor.backends import JobSpec, wait
from ftadvisor.backends.openai_api import RECONCILE_DELAYS_S, RUN_KEY, BackendError, CreateOutcomeUnknown, OpenAIBackend
from ftadvisor.errors import InputError
from tests.openai_fixtures import API, TEST_KEY, load, respond, url

SAMPLE = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "support_tickets.jsonl"


@pytest.fixture(autouse=True)
def _key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    for name in ("OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def backend(sleeps: list[float]) -> OpenAIBackend:
    return OpenAIBackend(sleep=sleeps.append, poll_interval=1)


def posts(mock, path: str) -> list[httpx2.Request]:
    return [r for r in mock.get_requests(method="POST") if r.url.path == "/v1" + path]


def body(request: httpx2.Request) -> dict:
    return json.loads(request.content)


# --- happy paths -----------------------------------------------------------------------------------------------


def test_sft_upload_create_wait(httpx2_mock, backend: OpenAIBackend) -> None:
    respond(httpx2_mock, "POST", "/files", "file_uploaded")
    respond(httpx2_mock, "GET", "/files/file-TrainAbc123", "file_processed")
    respond(httpx2_mock, "POST", "/fine_tuning/jobs", "job_validating_files")
    for status in ("job_queued", "job_running", "job_succeeded"):
        respond(httpx2_mock, "GET", "/fine_tuning/jobs/ftjob-abc123DEF456ghi789", status)
    respond(httpx2_mock, "GET", "/fine_tuning/jobs/ftjob-abc123DEF456ghi789/events", "events_page", reusable=True)

    f = backend.upload(SAMPLE)
    assert f.id == "file-TrainAbc123" and f.status == "processed"
    upload = posts(httpx2_mock, "/files")[0]
    assert b'name="purpose"' in upload.content and b"fine-tune" in upload.content
    assert upload.headers["authorization"] == f"Bearer {TEST_KEY}"

    spec = JobSpec(
        model="gpt-4o-mini-2024-07-18", training_file=f.id, hyperparameters={"n_epochs": 3}, suffix="tickets", seed=7
    )
    job = backend.create_job(spec, run_id="run-0123456789abcdef")
    sent = body(posts(httpx2_mock, "/fine_tuning/jobs")[0])
    assert sent["method"] == {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}}
    assert sent["metadata"] == {RUN_KEY: "run-0123456789abcdef"}
    assert sent["suffix"] == "tickets" and sent["seed"] == 7 and "hyperparameters" not in sent
    assert posts(httpx2_mock, "/fine_tuning/jobs")[0].headers["x-stainless-retry-count"] == "0"
    assert job.status == "validating_files"

    events, statuses = [], []
    done = wait(
        backend,
        job.id,
        poll_interval=2,
        on_event=events.append,
        on_status=lambda j: statuses.append(j.status),
        sleep=backend.sleep,
    )
    assert [s for s in statuses] == ["queued", "running", "succeeded"]
    assert done.fine_tuned_model == "ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf" and done.trained_tokens == 96903
    assert done.error is None  # `error: {}` on the queued/running jobs is not an error
    assert [e.message for e in events][:2] == ["Validating training file: file-TrainAbc123", "Fine-tuning job started"]
    assert len(events) == 6  # deduplicated although the page was read three times
    assert done.hyperparameters == {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8}


def test_dpo_create_reads_back_method_hyperparameters(httpx2_mock, backend: OpenAIBackend) -> None:
    respond(httpx2_mock, "POST", "/fine_tuning/jobs", "job_dpo_succeeded")
    spec = JobSpec(
        model="gpt-4.1-mini-2025-04-14",
        training_file="file-TrainAbc123",
        method="dpo",
        hyperparameters={"beta": 0.1, "n_epochs": 2},
    )
    job = backend.create_job(spec)
    sent = body(posts(httpx2_mock, "/fine_tuning/jobs")[0])
    assert sent["method"] == {"type": "dpo", "dpo": {"hyperparameters": {"beta": 0.1, "n_epochs": 2}}}
    assert job.method == "dpo" and job.hyperparameters["beta"] == 0.1 and job.hyperparameters["batch_size"] == 4


def test_wandb_integration_passes_through_to_the_create_request(httpx2_mock, backend: OpenAIBackend) -> None:
    from openai.types.fine_tuning.job_create_params import Integration

    respond(httpx2_mock, "POST", "/fine_tuning/jobs", "job_validating_files")
    spec = JobSpec(
        model="gpt-4o-mini-2024-07-18",
        training_file="file-TrainAbc123",
        options={"report_to": "wandb", "tracking_project": "tickets", "wandb_tags": ["v2"]},
    )
    backend.create_job(spec)
    sent = body(posts(httpx2_mock, "/fine_tuning/jobs")[0])
    assert sent["integrations"] == [{"type": "wandb", "wandb": {"project": "tickets", "tags": ["v2"]}}]
    assert set(sent["integrations"][0]) <= set(Integration.__annotations__)  # the SDK's own request shape
    with pytest.raises(InputError, match="tracking_project"):
        backend.create_job(
            JobSpec(model="gpt-4o-mini-2024-07-18", training_file="file-TrainAbc123", options={"report_to": "wandb"})
        )
    assert len(posts(httpx2_mock, "/fine_tuning/jobs")) == 1  # the refusal sent nothing


def test_hyperparameter_ranges_are_checked_before_sending(httpx2_mock, backend: OpenAIBackend) -> None:
    for bad in (
        {"n_epochs": 0},
        {"n_epochs": 51},
        {"batch_size": 300},
        {"learning_rate_multiplier": 0},
        {"beta": 2.5},
        {"n_epochs": 2.5},
    ):
        with pytest.raises(InputError, match="out of range"):
            backend.create_job(
                JobSpec(model="gpt-4.1-mini-2025-04-14", training_file="f", method="dpo", hyperparameters=bad)
            )
    with pytest.raises(InputError, match="not a sft hyperparameter"):
        backend.create_job(JobSpec(model="m", training_file="f", hyperparameters={"beta": 0.1}))
    assert httpx2_mock.get_requests() == []


# --- at most one job ------------------------------------------------------------------------------------------


def test_timed_out_create_that_did_create_the_job_is_found_not_repeated(httpx2_mock, backend: OpenAIBackend) -> None:
    httpx2_mock.add_exception(httpx2.ReadTimeout("timed out"), method="POST", url=url("/fine_tuning/jobs"))
    respond(httpx2_mock, "GET", "/fine_tuning/jobs", "jobs_list_run")
    job = backend.create_job(
        JobSpec(model="gpt-4o-mini-2024-07-18", training_file="file-TrainAbc123"), run_id="run-0123456789abcdef"
    )
    assert job.id == "ftjob-abc123DEF456ghi789"
    assert len(posts(httpx2_mock, "/fine_tuning/jobs")) == 1  # exactly one create was sent
    lookup = httpx2_mock.get_requests(method="GET")[0]
    assert lookup.url.params["metadata[ftadvisor_run]"] == "run-0123456789abcdef"


def test_429_with_retry_after_waits_then_creates_once(httpx2_mock, backend: OpenAIBackend, sleeps) -> None:
    # A 429 is a refusal (the create was not processed): no lookup is needed before trying again.
    respond(httpx2_mock, "POST", "/fine_tuning/jobs", "error_429", status=429, headers={"retry-after": "7"})
    respond(httpx2_mock, "POST", "/fine_tuning/jobs", "job_validating_files")
    job = backend.create_job(JobSpec(model="gpt-4o-mini-2024-07-18", training_file="file-TrainAbc123"))
    assert job.status == "validating_files"
    assert len(posts(httpx2_mock, "/fine_tuning/jobs")) == 2
    assert sleeps == [7.0]
    first, second = (body(r)["metadata"][RUN_KEY] for r in posts(httpx2_mock, "/fine_tuning/jobs"))
    assert first == second  # the same run id, so a late success would still be found


def test_a_500_is_looked_up_over_the_window_and_never_sent_again(httpx2_mock, backend: OpenAIBackend, sleeps) -> None:
    """A 500 may have been processed: the run is looked up over the whole reconciliation window and, with the
    list still empty, the run stops unknown; the create is never re-sent (a lagging list is not proof)."""
    respond(httpx2_mock, "POST", "/fine_tuning/jobs", "error_500", status=500)
    respond(httpx2_mock, "GET", "/fine_tuning/jobs", "jobs_list_empty", reusable=True)
    with pytest.raises(CreateOutcomeUnknown, match="is unknown"):
        backend.create_job(JobSpec(model="gpt-4o-mini-2024-07-18", training_file="f"))
    assert len(posts(httpx2_mock, "/fine_tuning/jobs")) == 1
    assert sleeps == list(RECONCILE_DELAYS_S)
    gets = [r for r in httpx2_mock.get_requests() if r.method == "GET"]
    assert len(gets) == len(RECONCILE_DELAYS_S)


def test_daily_limit_is_not_retried(httpx2_mock, backend: OpenAIBackend) -> None:
    respond(httpx2_mock, "POST", "/fine_tuning/jobs", "error_429_daily", status=429)
    with pytest.raises(BackendError, match="daily limit"):
        backend.create_job(JobSpec(model="gpt-4.1-2025-04-14", training_file="f"))
    assert len(httpx2_mock.get_requests()) == 1


def test_persistent_500_ends_unknown_within_the_stated_window(httpx2_mock, sleeps) -> None:
    b = OpenAIBackend(sleep=sleeps.append, create_attempts=3)
    respond(httpx2_mock, "POST", "/fine_tuning/jobs", "error_500", status=500, reusable=True)
    respond(httpx2_mock, "GET", "/fine_tuning/jobs", "jobs_list_empty", reusable=True)
    with pytest.raises(CreateOutcomeUnknown) as info:
        b.create_job(JobSpec(model="gpt-4o-mini-2024-07-18", training_file="f"))
    assert "none was created" not in str(info.value)
    assert len(posts(httpx2_mock, "/fine_tuning/jobs")) == 1 and sum(sleeps) == sum(RECONCILE_DELAYS_S) <= 120


# --- statuses, failures, controls ----------------------------------------------------------------------------


def test_validation_failure_reports_code_message_param(httpx2_mock, backend: OpenAIBackend) -> None:
    respond(httpx2_mock, "GET", "/fine_tuning/jobs/ftjob-abc123DEF456ghi789", "job_failed")
    respond(httpx2_mock, "GET", "/fine_tuning/jobs/ftjob-abc123DEF456ghi789/events", "jobs_list_empty")
    job = wait(backend, "ftjob-abc123DEF456ghi789", sleep=backend.sleep)
    assert job.status == "failed"
    assert job.error.code == "invalid_training_file" and job.error.param == "training_file"
    assert "Example 3, message 2" in job.error.message


def test_unknown_status_keeps_waiting(httpx2_mock, backend: OpenAIBackend, sleeps) -> None:
    for name in ("job_running", "job_paused", "job_paused", "job_succeeded"):
        respond(httpx2_mock, "GET", "/fine_tuning/jobs/ftjob-abc123DEF456ghi789", name)
    respond(httpx2_mock, "GET", "/fine_tuning/jobs/ftjob-abc123DEF456ghi789/events", "jobs_list_empty", reusable=True)
    seen = []
    job = wait(
        backend,
        "ftjob-abc123DEF456ghi789",
        poll_interval=5,
        sleep=sleeps.append,
        on_status=lambda j: seen.append(j.status),
    )
    assert job.status == "succeeded" and seen == ["running", "paused", "succeeded"] and sleeps == [5, 5, 5]


def test_cancel_pause_resume_and_checkpoints(httpx2_mock, backend: OpenAIBackend) -> None:
    respond(httpx2_mock, "POST", "/fine_tuning/jobs/ftjob-abc123DEF456ghi789/cancel", "job_cancelled")
    respond(httpx2_mock, "POST", "/fine_tuning/jobs/ftjob-abc123DEF456ghi789/pause", "job_paused")
    respond(httpx2_mock, "POST", "/fine_tuning/jobs/ftjob-abc123DEF456ghi789/resume", "job_running")
    respond(httpx2_mock, "GET", "/fine_tuning/jobs/ftjob-abc123DEF456ghi789/checkpoints", "checkpoints_page")
    assert backend.cancel("ftjob-abc123DEF456ghi789").status == "cancelled"
    assert backend.pause("ftjob-abc123DEF456ghi789").status == "paused"
    assert backend.resume("ftjob-abc123DEF456ghi789").status == "running"
    cks = backend.list_checkpoints("ftjob-abc123DEF456ghi789")
    assert [c.step_number for c in cks] == [300, 200] and cks[0].metrics["full_valid_loss"] == 0.19


def test_404_job_is_one_clear_error(httpx2_mock, backend: OpenAIBackend) -> None:
    respond(
        httpx2_mock,
        "GET",
        "/fine_tuning/jobs/ftjob-doesnotexist",
        "error_404",
        status=404,
        headers={"x-request-id": "req_123"},
    )
    with pytest.raises(InputError, match=r"OpenAI answered 404: No such fine-tuning job.*req_123"):
        backend.get_job("ftjob-doesnotexist")


# --- files ----------------------------------------------------------------------------------------------------


def test_large_file_goes_up_in_parts(httpx2_mock, backend: OpenAIBackend, tmp_path: Path) -> None:
    big = tmp_path / "big.jsonl"
    big.write_bytes(SAMPLE.read_bytes())
    backend.parts_threshold, backend.part_size = 1000, 4096
    respond(httpx2_mock, "POST", "/uploads", "upload_pending")
    respond(httpx2_mock, "POST", "/uploads/upload_abc123/parts", "upload_part", reusable=True)
    respond(httpx2_mock, "POST", "/uploads/upload_abc123/complete", "upload_completed")
    progress = []
    f = backend.upload(big, lambda done, total: progress.append((done, total)))
    assert f.id == "file-BigParts789"
    size = big.stat().st_size
    n_parts = -(-size // 4096)
    assert len(posts(httpx2_mock, "/uploads/upload_abc123/parts")) == n_parts
    created = body(posts(httpx2_mock, "/uploads")[0])
    assert created == {"bytes": size, "filename": "big.jsonl", "mime_type": "application/jsonl", "purpose": "fine-tune"}
    import hashlib

    done = body(posts(httpx2_mock, "/uploads/upload_abc123/complete")[0])
    assert done["part_ids"] == ["part_def456"] * n_parts and done["md5"] == hashlib.md5(big.read_bytes()).hexdigest()
    assert progress[-1] == (size, size) and len(progress) == n_parts
    assert posts(httpx2_mock, "/files") == []


def test_file_processing_error_stops(httpx2_mock, backend: OpenAIBackend) -> None:
    respond(httpx2_mock, "POST", "/files", "file_uploaded")
    respond(httpx2_mock, "GET", "/files/file-TrainAbc123", "file_error")
    with pytest.raises(BackendError, match=r"could not process train\.jsonl.*line 3 is not valid JSON"):
        backend.upload(SAMPLE)


# --- use ------------------------------------------------------------------------------------------------------


def test_new_model_not_found_is_retried_then_answers(httpx2_mock, backend: OpenAIBackend, sleeps) -> None:
    respond(httpx2_mock, "POST", "/chat/completions", "error_404_model", status=404)
    respond(httpx2_mock, "POST", "/chat/completions", "error_404_model", status=404)
    respond(httpx2_mock, "POST", "/chat/completions", "chat_completion")
    c = backend.complete(
        "ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf", [{"role": "user", "content": "hi"}], max_tokens=20
    )
    assert c.text == '{"category": "billing", "priority": "high"}'
    assert (c.usage.prompt_tokens, c.usage.cached_tokens, c.usage.completion_tokens) == (61, 0, 14)
    assert sleeps == [15.0, 15.0]
    assert body(posts(httpx2_mock, "/chat/completions")[-1])["max_tokens"] == 20


def test_model_still_missing_after_the_wait_is_an_error(httpx2_mock, sleeps) -> None:
    b = OpenAIBackend(sleep=sleeps.append, model_wait_s=30)
    respond(httpx2_mock, "POST", "/chat/completions", "error_404_model", status=404, reusable=True)
    with pytest.raises(InputError, match="model_not_found"):
        b.complete("ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf", [{"role": "user", "content": "hi"}])
    assert len(sleeps) == 2


# --- secrets --------------------------------------------------------------------------------------------------


def test_key_never_appears_in_errors_or_logs(httpx2_mock, backend: OpenAIBackend, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    respond(httpx2_mock, "GET", "/fine_tuning/jobs", "error_401", status=401)
    with pytest.raises(InputError) as info:
        backend.list_jobs()
    text = str(info.value)
    assert "401" in text and "invalid_api_key" in text
    assert TEST_KEY not in text and "sk-test" not in text and "Key1" not in text
    assert TEST_KEY not in caplog.text


def test_missing_key_is_a_clear_error_at_the_first_call(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY")
    backend = OpenAIBackend()  # planning and --dry-run need no key: it is read at the first call
    with pytest.raises(InputError, match="OPENAI_API_KEY"):
        backend.list_jobs()


def test_api_base_is_the_default() -> None:
    assert str(OpenAIBackend().client.base_url).rstrip("/") == API


def test_fixture_helper_loads() -> None:
    assert load("job_succeeded")["status"] == "succeeded"
