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
