"""The ledger: migrations, job history, and concurrent writers."""

from __future__ import annotations

import multiprocessing as mp
import sqlite3
from pathlib import Path

from ftadvisor.backends import Job
from ftadvisor.ledger import MIGRATIONS, Ledger


def _writer(path: str, worker: int, n: int) -> None:
    db = Ledger(path)
    for i in range(n):
        db.record("estimate", {"worker": worker, "i": i})
        db.save_job(Job(id=f"ftjob-{worker}", status=f"step-{i}", model="m", backend="local"))
    db.close()


def test_eight_processes_writing_lose_nothing(tmp_path: Path) -> None:
    path = str(tmp_path / "ledger.db")
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(path, w, 100)) for w in range(8)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    db = Ledger(path)
    records = db.records(limit=10_000)
    assert len(records) == 800
    assert len({r["data"] for r in records}) == 800
    for w in range(8):
        assert len(db.job(f"ftjob-{w}")["statuses"]) == 100


def test_migrations_run_once_and_are_numbered(tmp_path: Path) -> None:
    path = tmp_path / "l.db"
    Ledger(path).close()
    Ledger(path).close()
    version = sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0]
    assert version == len(MIGRATIONS)
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_estimates_are_recorded_unless_no_log(run_cli, _isolated_home: Path) -> None:
    args = ["cost", "breakeven", "--train-cost", "50", "--prompt-cost", "0.0115", "--ft-cost", "0.00015"]
    assert run_cli(*args).exit_code == 0
    assert run_cli(*args, "--no-log").exit_code == 0
    records = Ledger(_isolated_home / "ledger.db").records(kind="breakeven_estimate")
    assert len(records) == 1 and '"break_even_requests": 4406' in records[0]["data"]


def test_list_filters_by_model_and_day(run_cli, _isolated_home: Path) -> None:
    import json

    db = Ledger(_isolated_home / "ledger.db")
    db.save_job(
        Job(
            id="ftjob-old",
            status="succeeded",
            model="gpt-4o-mini-2024-07-18",
            backend="openai",
            fine_tuned_model="ft:gpt-4o-mini-2024-07-18:acme::x1",
        )
    )
    db.save_job(Job(id="ftjob-new", status="running", model="gpt-4.1-mini-2025-04-14", backend="openai"))
    db.record("training_plan", {"model": "gpt-4.1-mini-2025-04-14"})
    db.record("training_plan", {"model": "gpt-4o-mini-2024-07-18"})
    db.db.execute("UPDATE jobs SET created_at = '2026-10-01T10:00:00+00:00' WHERE id = 'ftjob-old'")
    db.db.execute("UPDATE records SET created_at = '2026-10-01T10:00:00+00:00' WHERE data LIKE '%4o-mini%'")

    def listed(*args: str) -> dict:  # type: ignore[type-arg]
        r = run_cli("ledger", "list", "--json", *args)
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    everything = listed()
    assert {j["id"] for j in everything["jobs"]} == {"ftjob-old", "ftjob-new"} and len(everything["records"]) == 2
    by_model = listed("--model", "ft:gpt-4o-mini")  # the fine-tuned model's name matches too
    assert [j["id"] for j in by_model["jobs"]] == ["ftjob-old"] and by_model["records"] == []
    recent = listed("--since", "2026-11-01")
    assert [j["id"] for j in recent["jobs"]] == ["ftjob-new"]
    assert [r["data"]["model"] for r in recent["records"]] == ["gpt-4.1-mini-2025-04-14"]
    assert listed("--since", "2026-11-01", "--model", "4o-mini") == {**recent, "jobs": [], "records": []}
    r = run_cli("ledger", "list", "--since", "last week")
    assert r.exit_code == 2 and "last week" in r.output
    first = min(r["id"] for r in everything["records"])
    shown = json.loads(run_cli("ledger", "show", f"#{first}", "--json").stdout)
    assert shown["kind"] == "training_plan" and shown["data"] == {"model": "gpt-4.1-mini-2025-04-14"}
