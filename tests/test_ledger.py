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
