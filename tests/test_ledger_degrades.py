"""A ledger that degrades, never blocks (shared/review/reliability.md, section E): a damaged, locked,
newer-schema or unreachable ledger costs pure work one warning line, refuses paid work before it starts,
and every status we watch lands in it."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftadvisor.ledger import Ledger
from tests.openai_standin import Faults

ESTIMATE = [
    "cost",
    "training",
    "--tokens",
    "100000",
    "--examples",
    "100",
    "-m",
    "gpt-4.1-mini-2025-04-14",
    "--cost-per-example",
    "0",
]
SAMPLE = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "support_tickets.jsonl"


def _damage(home: Path, how: str) -> None:
    db = home / "ledger.db"
    if how == "garbage":
        db.write_bytes(os.urandom(8192))
    elif how == "truncated":
        ledger = Ledger(db)
        ledger.record("x", {"a": 1})
        ledger.close()  # the last connection checkpoints the WAL into the file
        data = db.read_bytes()
        assert len(data) > 4096, "the ledger's pages should be in the file before it is cut"
        for extra in ("-wal", "-shm"):
            Path(str(db) + extra).unlink(missing_ok=True)
        db.write_bytes(data[:1000] + bytes(range(256)) * 12)  # page 1 cut short, its cells overwritten
    elif how == "folder":
        db.mkdir()


@pytest.mark.parametrize("how", ["garbage", "truncated", "folder"])
def test_a_damaged_ledger_costs_an_estimate_one_warning(run_cli, _isolated_home: Path, how: str) -> None:
    _damage(_isolated_home, how)
    db = _isolated_home / "ledger.db"
    before = db.read_bytes() if db.is_file() else None
    r = run_cli(*ESTIMATE)
    assert r.exit_code == 0, r.output
    assert "total: $1.50" in r.stdout  # 100k tokens x 3 epochs x $5/1M: the estimate itself is intact
    assert "warning:" in r.stderr and "unusable" in r.stderr and "Traceback" not in r.output
    assert (db.read_bytes() if db.is_file() else None) == before  # the damaged ledger is left as it was


def test_a_home_that_is_a_file(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    monkeypatch.setenv("FTADVISOR_HOME", str(home))
    r = run_cli(*ESTIMATE)
    assert r.exit_code == 0 and "total:" in r.stdout and "unusable" in r.stderr


def test_a_newer_schema_is_named_and_left_alone(run_cli, _isolated_home: Path) -> None:
    db = _isolated_home / "ledger.db"
    Ledger(db).close()
    con = sqlite3.connect(db)
    con.execute("PRAGMA user_version=99")
    con.close()
    before = db.read_bytes()
    r = run_cli(*ESTIMATE)
    assert r.exit_code == 0 and "schema version 99" in r.stderr and "newer ftadvisor" in r.stderr
    assert db.read_bytes() == before
    listed = run_cli("ledger", "list")
    assert listed.exit_code == 2 and "schema version 99" in listed.output and "Traceback" not in listed.output


def test_a_locked_ledger_waits_seconds_not_a_minute(_isolated_home: Path) -> None:
    db = _isolated_home / "ledger.db"
    Ledger(db).close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3,sys,time; d=sqlite3.connect(sys.argv[1], "
            "isolation_level=None); d.execute('BEGIN EXCLUSIVE'); print('locked', flush=True); "
            "time.sleep(60)",
            str(db),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        r = subprocess.run(
            [sys.executable, "-m", "ftadvisor", *ESTIMATE],
            capture_output=True,
            text=True,
            env={**os.environ, "FTADVISOR_HOME": str(_isolated_home)},
            timeout=60,
        )
        assert r.returncode == 0 and "total:" in r.stdout
        assert "locked" in r.stderr and time.monotonic() - started < 30
    finally:
        holder.kill()


def test_paid_training_refuses_to_start_without_a_ledger(run_cli, standin_env, _isolated_home: Path) -> None:
    s = standin_env(Faults())
    _damage(_isolated_home, "garbage")
    r = run_cli("train", SAMPLE, "--model", "gpt-4.1-mini-2025-04-14", "--yes", "--org-history", "active")
    assert r.exit_code == 2 and "--no-log" in r.output and "Traceback" not in r.output
    assert s.state.uploads_received == 0 and s.jobs_created == 0
    ok = run_cli(
        "train",
        SAMPLE,
        "--model",
        "gpt-4.1-mini-2025-04-14",
        "--yes",
        "--org-history",
        "active",
        "--no-log",
        "--poll",
        "1",
    )
    assert ok.exit_code == 0, ok.output
    assert s.jobs_created == 1


def test_jobs_wait_brings_the_ledger_up_to_date(run_cli, standin_env, _isolated_home: Path) -> None:
    """http:nowait_then_wait: the ledger kept validating_files forever."""
    s = standin_env(Faults())
    r = run_cli("train", SAMPLE, "--model", "gpt-4.1-mini-2025-04-14", "--yes", "--org-history", "active", "--no-wait")
    assert r.exit_code == 0, r.output
    job_id = next(iter(s.state.jobs))
    db = Ledger(_isolated_home / "ledger.db")
    assert db.job(job_id)["status"] == "validating_files"
    w = run_cli("jobs", "wait", job_id, "--poll", "1")
    assert w.exit_code == 0, w.output
    job = Ledger(_isolated_home / "ledger.db").job(job_id)
    assert job["status"] == "succeeded" and job["fine_tuned_model"].startswith("ft:")
    assert job["actual_cost_usd"] is not None and job["metrics"]


def test_one_damaged_local_job_affects_only_itself(run_cli, _isolated_home: Path) -> None:
    """local:corrupt:jobjson_list / :events: one bad job.json broke `jobs list` for every job."""
    from ftadvisor.backends.base import Job
    from local_backend.store import JobDir

    good, bad = JobDir("ftjob-" + "a" * 24), JobDir("ftjob-" + "b" * 24)  # the local backend's id shape
    for d in (good, bad):
        d.path.mkdir(parents=True)
        d.write_job(Job(id=d.id, status="succeeded", model="smollm2-135m-instruct", backend="local", created_at=1))
        d.event("Fine-tuning started")
    (bad.path / "job.json").write_text('{"id": "ftjob-bbb", "status": ')  # truncated
    with (good.path / "events.jsonl").open("a") as f:
        f.write("{garbage\n")
    good.event("The job has successfully completed")
    listed = run_cli("jobs", "list", "--backend", "local", "--json")
    assert listed.exit_code == 0, listed.output
    assert [j["id"] for j in json.loads(listed.stdout)] == [good.id]
    events = run_cli("jobs", "events", good.id, "--backend", "local")
    assert events.exit_code == 0 and "successfully completed" in events.output
    assert "Fine-tuning started" in events.output
    broken = run_cli("jobs", "get", bad.id, "--backend", "local")
    assert broken.exit_code == 2 and "damaged" in broken.output and "Traceback" not in broken.output
