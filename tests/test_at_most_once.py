"""At most one paid job per run, and no traceback or leaked key, whatever the server does: fault injection
over real HTTP against a local stand-in of OpenAI's API (tests/openai_standin.py), the hostile pass's
scenarios one by one (shared/review/reliability.md, sections A, F and G)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftadvisor.backends import JobSpec
from ftadvisor.backends.openai_api import RECONCILE_DELAYS_S, CreateOutcomeUnknown, OpenAIBackend, new_run_id
from ftadvisor.errors import FtAdvisorError
from ftadvisor.ledger import Ledger
from tests.conftest import STANDIN_KEY as KEY
from tests.openai_standin import Faults, StandIn

SAMPLE = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "support_tickets.jsonl"
FAST = (0.2, 0.2, 0.3, 0.5)  # a short reconciliation window, for scenarios whose list does not lag long


def backend(s: StandIn, delays: tuple[float, ...] = FAST, attempts: int = 4) -> OpenAIBackend:
    return OpenAIBackend(
        api_key=KEY, base_url=s.url, timeout=3.0, max_retries=0, create_attempts=attempts, reconcile_delays=delays
    )


def spec() -> JobSpec:
    return JobSpec(model="gpt-4.1-mini-2025-04-14", training_file="file-abc")


@pytest.mark.parametrize(
    ("faults", "delays"),
    [
        (Faults(create="drop", list_lag_s=2.0), FAST + (1.5,)),  # http:create_drop_list_lag
        (Faults(create="500", list_lag_s=2.0), FAST + (1.5,)),  # http:create_500_always_list_lag
        (Faults(create="truncated", list_lag_s=1.0), FAST + (1.0,)),  # http:create_malformed_after_create
        (Faults(create="html", list_lag_s=1.0), FAST + (1.0,)),  # http:create_html200_after_create
        (Faults(create="500", list_500=3), FAST),  # http:create_500_after_create_list_500
        (Faults(create="500", create_times=1), FAST),  # a 500 that did create, list in step
    ],
)
def test_exactly_one_job_when_the_create_answer_is_lost(faults: Faults, delays: tuple[float, ...]) -> None:
    with StandIn(faults) as s:
        run_id = new_run_id()
        job = backend(s, delays).create_job(spec(), run_id=run_id)
        assert s.jobs_created == 1
        assert job.id in s.state.jobs and job.metadata["ftadvisor_run"] == run_id


def test_a_list_that_lags_ten_seconds_is_waited_for() -> None:
    """The default reconciliation window, with real sleeps, against a list 10 s behind."""
    assert sum(RECONCILE_DELAYS_S) >= 60
    with StandIn(Faults(create="500", list_lag_s=10.0)) as s:
        b = OpenAIBackend(api_key=KEY, base_url=s.url, timeout=5.0, max_retries=0)
        started = time.monotonic()
        job = b.create_job(spec())
        assert s.jobs_created == 1 and s.state.creates_received == 1
        assert job.id in s.state.jobs
        assert 10 <= time.monotonic() - started < 30


def test_unknown_outcome_says_so_and_never_creates_again() -> None:
    with StandIn(Faults(create="500", list_500=1000)) as s:
        with pytest.raises(CreateOutcomeUnknown) as info:
            backend(s).create_job(spec(), run_id="run-lost")
        assert s.jobs_created == 1 and s.state.creates_received == 1
        assert "ftadvisor jobs find run-lost" in str(info.value) and "no job was created" not in str(info.value)


def test_a_create_that_really_failed_is_retried_and_the_error_is_true() -> None:
    """A 429 is a refusal (nothing created): retried; a bad Retry-After neither crashes nor sleeps forever."""
    for header in ("-1", "nan", "inf", "1"):
        with StandIn(Faults(create="429", create_times=2, retry_after=header)) as s:
            job = backend(s).create_job(spec())
            assert s.jobs_created == 1 and s.state.creates_received == 3 and job.id in s.state.jobs
    with StandIn(Faults(create="429")) as s:
        with pytest.raises(FtAdvisorError, match="none was created"):
            backend(s, attempts=2).create_job(spec())
        assert s.jobs_created == 0


def test_rerun_after_a_lost_answer_finds_the_job_instead_of_paying_twice(
    run_cli, standin_env, _isolated_home: Path
) -> None:
    """http:rerun_after_malformed: the first run cannot tell; the second finds the job and stops."""
    s = standin_env(Faults(create="html", list_500=1000))
    first = _train_short(run_cli)
    assert first.exit_code == 1, first.output
    assert "jobs find run-" in first.output and "Traceback" not in first.output
    assert s.jobs_created == 1
    s.state.faults = Faults()  # the server is healthy again
    second = _train_short(run_cli)
    assert second.exit_code == 1 and "already created ftjob-" in second.output, second.output
    assert s.jobs_created == 1
    job_id = next(iter(s.state.jobs))
    assert Ledger(_isolated_home / "ledger.db").job(job_id) is not None  # now recorded
    third = _train_short(run_cli, "--again")
    assert third.exit_code == 0, third.output
    assert s.jobs_created == 2


def _train_short(run_cli, *extra: str):
    import ftadvisor.backends.openai_api as api

    init = api.OpenAIBackend.__init__

    def short(self, *a, **k):  # type: ignore[no-untyped-def]
        k.setdefault("reconcile_delays", FAST)
        k.setdefault("sleep", lambda x: time.sleep(min(x, 0.2)))
        init(self, *a, **k)

    api.OpenAIBackend.__init__ = short  # type: ignore[method-assign]
    try:
        return run_cli(
            "train",
            SAMPLE,
            "--model",
            "gpt-4.1-mini-2025-04-14",
            "--yes",
            "--poll",
            "1",
            "--org-history",
            "active",
            *extra,
        )
    finally:
        api.OpenAIBackend.__init__ = init  # type: ignore[method-assign]


def test_jobs_find_records_the_job(run_cli, standin_env, _isolated_home: Path) -> None:
    s = standin_env(Faults())
    job = OpenAIBackend(api_key=KEY, base_url=s.url).create_job(spec(), run_id="run-abc")
    r = run_cli("jobs", "find", "run-abc")
    assert r.exit_code == 0 and job.id in r.output
    assert Ledger(_isolated_home / "ledger.db").job(job.id) is not None
    missing = run_cli("jobs", "find", "run-nothing")
    assert missing.exit_code == 1 and "lists no job" in missing.output


def test_ctrl_c_during_a_slow_create_says_unknown(tmp_path: Path) -> None:
    """http:sigint_during_slow_create: a real process, a real SIGINT while the create is in flight."""
    with StandIn(Faults(create="slow", slow_s=8.0)) as s:
        env = {**os.environ, "OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": s.url, "FTADVISOR_HOME": str(tmp_path)}
        p = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ftadvisor",
                "train",
                str(SAMPLE),
                "--model",
                "gpt-4.1-mini-2025-04-14",
                "--yes",
                "--org-history",
                "active",
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + 30
        while s.state.creates_received == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=30)
        assert p.returncode == 130, out + err
        assert "jobs find run-" in err and "nothing is running" not in err and "Traceback" not in err
        assert s.jobs_created == 1


@pytest.mark.parametrize("fault", ["drop", "500"])
def test_an_upload_whose_answer_is_lost_is_not_sent_twice(fault: str) -> None:
    with StandIn(Faults(upload=fault)) as s:
        f = backend(s).upload(SAMPLE)
        assert s.state.uploads_received == 1 and list(s.state.files) == [f.id]
        assert f.bytes == SAMPLE.stat().st_size and f.filename == SAMPLE.name


def test_server_strings_never_carry_the_key_anywhere(run_cli, standin_env, _isolated_home: Path) -> None:
    """http:key_in_event, http:key_in_model(_report): the server echoes the key in an event and the model id."""
    s = standin_env(Faults(echo_key=True))
    test = _isolated_home / "test.jsonl"
    test.write_text("".join(SAMPLE.read_text().splitlines(True)[:3]))
    r = run_cli(
        "train",
        SAMPLE,
        "--model",
        "gpt-4.1-mini-2025-04-14",
        "--yes",
        "--poll",
        "1",
        "--org-history",
        "active",
        "--test",
        test,
    )
    assert r.exit_code == 0, r.output
    assert s.jobs_created == 1
    assert KEY not in r.output and "[REDACTED]" in r.output
    assert KEY.encode() not in (_isolated_home / "ledger.db").read_bytes()
    report = run_cli("report", "--last", "--out", _isolated_home / "report")
    for f in (_isolated_home / "report").rglob("*"):
        if f.is_file():
            assert KEY.encode() not in f.read_bytes(), f
    assert report.exit_code == 0, report.output
    assert any((_isolated_home / "report").rglob("*.html"))


@pytest.mark.parametrize("faults", [Faults(poll="truncated"), Faults(poll="events_500"), Faults(metrics="binary")])
def test_a_healthy_job_survives_a_bad_poll_or_results_file(run_cli, standin_env, faults: Faults) -> None:
    """http:poll_malformed, http:events_500, http:binary_metrics_csv: the job succeeded, so does train."""
    s = standin_env(faults)
    r = run_cli(
        "train", SAMPLE, "--model", "gpt-4.1-mini-2025-04-14", "--yes", "--poll", "1", "--org-history", "active"
    )
    assert r.exit_code == 0, r.output
    assert "succeeded" in r.output and s.jobs_created == 1 and "Traceback" not in r.output


@pytest.mark.parametrize("chat", ["empty", "html"])
def test_an_unreadable_chat_answer_is_one_line(run_cli, standin_env, chat: str) -> None:
    standin_env(Faults(chat=chat))
    r = run_cli("chat", "--model", "gpt-4.1-mini-2025-04-14", "hello")
    assert r.exit_code == 1 and "could not be read" in r.output and "Traceback" not in r.output


NEVER = 1e9  # a job list that never shows the new job


@pytest.mark.parametrize("flavor", ["openai", "azure"])
@pytest.mark.parametrize("fault", ["drop", "500", "truncated", "html"])
def test_a_list_that_never_shows_the_job_means_one_create_and_an_unknown_outcome(flavor: str, fault: str) -> None:
    """The review's "Money" rows: a create whose answer is lost is never sent again in the run, however long
    the list lags; the run stops saying the job may exist and how to look for it."""
    from ftadvisor.backends.azure import AzureBackend

    with StandIn(Faults(create=fault, create_times=100, list_lag_s=NEVER), flavor=flavor) as s:
        if flavor == "azure":
            b: OpenAIBackend = AzureBackend(
                endpoint=s.root, api_key=KEY, timeout=3.0, max_retries=0, reconcile_delays=FAST, create_attempts=4
            )
        else:
            b = backend(s)
        with pytest.raises(CreateOutcomeUnknown) as info:
            b.create_job(spec(), run_id="run-lagging")
        assert s.state.creates_received == 1 and s.jobs_created == 1
        message = str(info.value)
        assert "ftadvisor jobs find run-lagging" in message and "--again" in message
        assert "none was created" not in message and "no job was created" not in message


def test_a_connection_that_never_opened_is_retried_safely() -> None:
    """Nothing reached the provider, so sending again cannot make a second job."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again before the create: connection refused
    b = OpenAIBackend(api_key=KEY, base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, create_attempts=2)
    b.sleep = lambda s: None
    with pytest.raises(FtAdvisorError, match="refused 2 times before OpenAI processed it, so none was created"):
        b.create_job(spec())


@pytest.mark.parametrize("fault", ["drop", "500"])
def test_together_never_creates_twice_when_its_list_never_shows_the_job(fault: str, tmp_path: Path) -> None:
    from ftadvisor.backends import get_backend
    from tests.together_standin import TogetherStandIn, TogetherState

    with TogetherStandIn(TogetherState(create_fault=fault, list_hidden=True)) as s:
        b = get_backend(
            "together",
            api_key="tg-0123456789abcdef",
            base_url=s.url,
            sleep=lambda x: None,
            reconcile_delays=(0.0, 0.0, 0.0),
        )
        with pytest.raises(CreateOutcomeUnknown, match="jobs list --backend together"):
            b.create_job(JobSpec(model="meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", training_file="file-x"))
        assert s.state.creates_received == 1


def test_a_run_that_stopped_unknown_is_adopted_by_the_next_and_again_is_the_only_way_to_a_second_job(
    run_cli, standin_env, _isolated_home: Path
) -> None:
    """End to end: the list lags beyond the window, the first run stops unknown (recorded as pending); once
    the list shows the job, the next run adopts it; only --again creates another."""
    s = standin_env(Faults(create="500", create_times=1, list_lag_s=NEVER))
    first = _train_short(run_cli)
    assert first.exit_code == 1 and "is unknown" in first.output and "--again" in first.output, first.output
    assert s.state.creates_received == 1
    s.state.faults = Faults()  # the list catches up
    second = _train_short(run_cli)
    assert second.exit_code == 1 and "already created ftjob-" in second.output, second.output
    assert s.state.creates_received == 1
    assert _train_short(run_cli, "--again").exit_code == 0
    assert s.state.creates_received == 2
