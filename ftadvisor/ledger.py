"""One SQLite record of everything a run does: estimates, uploads, jobs (with status history), metrics.

WAL mode and a busy timeout let several processes write at once; the schema evolves through numbered
migrations (``PRAGMA user_version``). Secrets are never written here.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ftadvisor.errors import FtAdvisorError

T = TypeVar("T")

MIGRATIONS: tuple[str, ...] = (
    # 1: records of anything (estimates, uploads, ...), jobs, their status history and training metrics
    """
    CREATE TABLE records (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        created_at TEXT NOT NULL,
        kind TEXT NOT NULL,
        ref TEXT,
        data TEXT NOT NULL
    );
    CREATE INDEX records_kind ON records(kind, created_at);
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        backend TEXT NOT NULL,
        model TEXT NOT NULL,
        method TEXT NOT NULL,
        status TEXT NOT NULL,
        fine_tuned_model TEXT,
        run_id TEXT,
        hyperparameters TEXT,
        trained_tokens INTEGER,
        estimated_cost_usd REAL,
        actual_cost_usd REAL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE job_status (
        job_id TEXT NOT NULL,
        status TEXT NOT NULL,
        at TEXT NOT NULL,
        PRIMARY KEY (job_id, status)
    );
    CREATE TABLE job_metrics (
        job_id TEXT NOT NULL,
        step INTEGER NOT NULL,
        train_loss REAL,
        valid_loss REAL,
        data TEXT NOT NULL,
        PRIMARY KEY (job_id, step)
    );
    """,
    # 2: evaluation runs and their per-example results
    """
    CREATE TABLE eval_runs (
        id TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        data TEXT NOT NULL
    );
    CREATE TABLE eval_results (
        run_id TEXT NOT NULL,
        model TEXT NOT NULL,
        line INTEGER NOT NULL,
        output TEXT NOT NULL,
        reference TEXT NOT NULL,
        metrics TEXT NOT NULL,
        PRIMARY KEY (run_id, model, line)
    );
    """,
)


EXPORTED_TABLES = ("jobs", "job_status", "job_metrics", "records", "eval_runs", "eval_results")


def ledger_path() -> Path:
    env = os.environ.get("FTADVISOR_LEDGER")
    if env:
        return Path(env)
    from ftadvisor.config import user_dir

    return user_dir() / "ledger.db"


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


BUSY_TIMEOUT_S = 5.0


class LedgerUnavailable(FtAdvisorError):
    """The ledger cannot be opened or written (damaged, locked, a newer schema, an unwritable home). Pure
    work (estimates, validation) goes on without it, with one warning line; paid work refuses to start."""


def _unavailable(path: Path, exc: BaseException) -> LedgerUnavailable:
    text = str(exc)
    if "locked" in text or "busy" in text:
        why = f"it is locked by another process for more than {BUSY_TIMEOUT_S:g} s"
    elif isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        why = f"it is damaged ({text}); move it aside (it is left as it is) to start a new one"
    else:
        why = f"it cannot be opened or written ({getattr(exc, 'strerror', None) or text})"
    return LedgerUnavailable(f"the ledger {path} is unusable: {why}; or set FTADVISOR_LEDGER to another file")


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """Every ledger call fails with one ``LedgerUnavailable`` line, never an sqlite traceback."""

    @functools.wraps(method)
    def wrapper(self: Ledger, *args: Any, **kwargs: Any) -> T:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, OSError) as exc:
            raise _unavailable(self.path, exc) from None

    return wrapper


class Ledger:
    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else ledger_path()
        try:
            if self.path.exists() and not self.path.is_file():
                raise LedgerUnavailable(
                    f"the ledger {self.path} is unusable: it is not a file; or set FTADVISOR_LEDGER to a file"
                )
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
            self.db.execute("PRAGMA journal_mode=WAL")
            self._migrate()
        except (sqlite3.Error, OSError) as exc:
            raise _unavailable(self.path, exc) from None

    def _migrate(self) -> None:
        version = self.db.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise LedgerUnavailable(
                f"the ledger {self.path} has schema version {version}, written by a newer "
                f"ftadvisor (this one knows {len(MIGRATIONS)}): upgrade ftadvisor, or set "
                "FTADVISOR_LEDGER to another file; it was not changed"
            )
        if version == len(MIGRATIONS):
            return
        self.db.execute("BEGIN IMMEDIATE")
        try:
            version = self.db.execute("PRAGMA user_version").fetchone()[0]
            for number, script in enumerate(MIGRATIONS[version:], version + 1):
                for statement in filter(str.strip, script.split(";")):
                    self.db.execute(statement)
                self.db.execute(f"PRAGMA user_version={number}")
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.db.close()

    @_guarded
    def record(self, kind: str, data: Any, ref: str | None = None) -> int:
        """Store an estimate, upload or other event; returns its id."""
        payload = data.model_dump(mode="json") if hasattr(data, "model_dump") else data
        cur = self.db.execute(
            "INSERT INTO records(created_at, kind, ref, data) VALUES (?, ?, ?, ?)",
            (_now(), kind, ref, json.dumps(payload, default=str)),
        )
        return int(cur.lastrowid or 0)

    @_guarded
    def save_job(
        self,
        job: Any,
        *,
        run_id: str | None = None,
        estimated_cost_usd: float | None = None,
        actual_cost_usd: float | None = None,
    ) -> None:
        """Insert or update a job and append its status to the history (once per status)."""
        now = _now()
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                """INSERT INTO jobs(id, backend, model, method, status, fine_tuned_model, run_id, hyperparameters,
                   trained_tokens, estimated_cost_usd, actual_cost_usd, created_at, updated_at, data)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT(id) DO UPDATE SET status=excluded.status, fine_tuned_model=excluded.fine_tuned_model,
                   hyperparameters=excluded.hyperparameters, trained_tokens=excluded.trained_tokens,
                   run_id=COALESCE(excluded.run_id, jobs.run_id),
                   estimated_cost_usd=COALESCE(excluded.estimated_cost_usd, jobs.estimated_cost_usd),
                   actual_cost_usd=COALESCE(excluded.actual_cost_usd, jobs.actual_cost_usd),
                   updated_at=excluded.updated_at, data=excluded.data""",
                (
                    job.id,
                    job.backend,
                    job.model,
                    job.method,
                    job.status,
                    job.fine_tuned_model,
                    run_id,
                    json.dumps(job.hyperparameters),
                    job.trained_tokens,
                    estimated_cost_usd,
                    actual_cost_usd,
                    now,
                    now,
                    job.model_dump_json(),
                ),
            )
            self.db.execute(
                "INSERT OR IGNORE INTO job_status(job_id, status, at) VALUES (?, ?, ?)", (job.id, job.status, now)
            )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    @_guarded
    def unresolved_runs(self, model: str, sha256: str) -> list[str]:
        """Run ids whose create was sent for this model and file but whose job was never recorded (nor found
        to be absent): the create's answer was lost, and the job may exist."""
        rows = self.db.execute(
            """SELECT ref, data FROM records WHERE kind = 'create_pending'
               AND ref NOT IN (SELECT run_id FROM jobs WHERE run_id IS NOT NULL)
               AND ref NOT IN (SELECT ref FROM records WHERE kind IN ('create_absent', 'create_abandoned')
                               AND ref IS NOT NULL)
               ORDER BY id"""
        ).fetchall()
        out = []
        for r in rows:
            data = json.loads(r["data"])
            if data.get("model") == model and data.get("sha256") == sha256:
                out.append(r["ref"])
        return out

    @_guarded
    def add_metrics(self, job_id: str, rows: list[dict[str, Any]]) -> int:
        """Store per-step training metrics (step, train_loss, valid_loss, ...); returns how many."""

        def num(v: Any) -> float | None:
            try:
                return None if v in (None, "") else float(v)
            except (TypeError, ValueError):
                return None

        self.db.execute("BEGIN IMMEDIATE")
        try:
            for r in rows:
                self.db.execute(
                    "INSERT OR REPLACE INTO job_metrics(job_id, step, train_loss, valid_loss, data) "
                    "VALUES (?, ?, ?, ?, ?)",
                    (job_id, int(float(r["step"])), num(r.get("train_loss")), num(r.get("valid_loss")), json.dumps(r)),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        return len(rows)

    @_guarded
    def save_eval(self, run: Any) -> None:
        """Store an evaluation run (summaries) and every per-example result, in one transaction."""
        summary = run.model_dump(mode="json", exclude={"examples"})
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute(
                "INSERT OR REPLACE INTO eval_runs(id, created_at, data) VALUES (?, ?, ?)",
                (run.id, run.created_at, json.dumps(summary)),
            )
            for r in run.examples:
                metrics = r.model_dump(mode="json", exclude={"model", "line", "output", "reference"})
                self.db.execute(
                    "INSERT OR REPLACE INTO eval_results VALUES (?, ?, ?, ?, ?, ?)",
                    (run.id, r.model, r.line, r.output, r.reference, json.dumps(metrics)),
                )
            self.db.execute("COMMIT")
        except BaseException:
            self.db.execute("ROLLBACK")
            raise

    @_guarded
    def eval_run(self, run_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT data FROM eval_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            return None
        out = json.loads(row["data"])
        out["examples"] = [
            {**dict(r), "metrics": json.loads(r["metrics"])}
            for r in self.db.execute(
                "SELECT model, line, output, reference, metrics FROM eval_results WHERE run_id = ? "
                "ORDER BY model, line",
                (run_id,),
            )
        ]
        return out

    @_guarded
    def job(self, job_id: str) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            return None
        out = dict(row)
        out["statuses"] = [
            s["status"]
            for s in self.db.execute("SELECT status FROM job_status WHERE job_id = ? ORDER BY at, rowid", (job_id,))
        ]
        out["metrics"] = [
            dict(m)
            for m in self.db.execute(
                "SELECT step, train_loss, valid_loss FROM job_metrics WHERE job_id = ? ORDER BY step", (job_id,)
            )
        ]
        return out

    @_guarded
    def eval_runs(self, limit: int = 50, *, model: str | None = None, since: str | None = None) -> list[dict[str, Any]]:
        """Evaluation runs, newest first: id, when, data file and each model's headline metrics; ``model``
        keeps runs that evaluated a model whose name contains it, ``since`` runs from that ISO date on."""
        out = []
        where, args = _filters("created_at", since, model, ("data",))
        for row in self.db.execute(
            f"SELECT id, created_at, data FROM eval_runs{where} ORDER BY created_at DESC LIMIT ?", (*args, limit)
        ):
            data = json.loads(row["data"])
            out.append(
                {
                    "id": row["id"],
                    "created_at": row["created_at"],
                    "data": data.get("data"),
                    "models": [
                        {
                            k: m.get(k)
                            for k in (
                                "model",
                                "backend",
                                "n",
                                "exact_match",
                                "accuracy",
                                "format_compliance",
                                "rouge_l",
                            )
                        }
                        for m in data.get("models", [])
                    ],
                }
            )
        return out

    @_guarded
    def backend_of(self, ref: str) -> str | None:
        """The backend that ran the job with this id or fine-tuned model name, if ftadvisor recorded it."""
        row = self.db.execute(
            "SELECT backend FROM jobs WHERE id = ? OR fine_tuned_model = ? ORDER BY updated_at DESC LIMIT 1", (ref, ref)
        ).fetchone()
        return str(row["backend"]) if row else None

    @_guarded
    def latest_record(self, kind: str, ref: str) -> dict[str, Any] | None:
        """The data of the newest record of ``kind`` about ``ref`` (a run id, a job id, an evaluation run)."""
        row = self.db.execute(
            "SELECT data FROM records WHERE kind = ? AND ref = ? ORDER BY id DESC LIMIT 1", (kind, ref)
        ).fetchone()
        data: dict[str, Any] | None = json.loads(row["data"]) if row else None
        return data

    @_guarded
    def recorded_answers(self, model: str) -> dict[str, dict[str, Any]]:
        """The journal of ``migrate record``: ref (model#prompt digest) -> the answer kept for it."""
        prefix = model + "#"
        rows = self.db.execute(
            "SELECT ref, data FROM records WHERE kind = 'recorded_answer' AND substr(ref, 1, ?) = ? ORDER BY id",
            (len(prefix), prefix),
        ).fetchall()
        return {r["ref"]: json.loads(r["data"]) for r in rows}

    def run_backend(self, run_id: str) -> str | None:
        """The backend a run sent its create to (from its pending record)."""
        pending = self.latest_record("create_pending", run_id)
        return pending.get("backend") if pending else None

    @_guarded
    def job_by_model(self, fine_tuned_model: str) -> dict[str, Any] | None:
        """The recorded job that produced ``fine_tuned_model``."""
        row = self.db.execute(
            "SELECT id FROM jobs WHERE fine_tuned_model = ? ORDER BY updated_at DESC LIMIT 1", (fine_tuned_model,)
        ).fetchone()
        return self.job(row["id"]) if row else None

    @_guarded
    def records(
        self, kind: str | None = None, limit: int = 50, *, model: str | None = None, since: str | None = None
    ) -> list[dict[str, Any]]:
        """Records, newest first, of one ``kind``, mentioning ``model``, from the ISO date ``since`` on."""
        where, args = _filters("created_at", since, model, ("data",))
        if kind:
            where, args = (where + " AND" if where else " WHERE") + " kind = ?", [*args, kind]
        sql = f"SELECT * FROM records{where} ORDER BY id DESC LIMIT ?"
        return [dict(r) for r in self.db.execute(sql, (*args, limit))]

    @_guarded
    def record_by_id(self, record_id: int) -> dict[str, Any] | None:
        row = self.db.execute("SELECT * FROM records WHERE id = ?", (record_id,)).fetchone()
        return dict(row) if row else None

    @_guarded
    def table(self, name: str) -> list[dict[str, Any]]:
        """Every row of one of the ledger's tables, as stored (for `ledger export`)."""
        if name not in EXPORTED_TABLES:
            raise ValueError(f"not a ledger table: {name}")
        return [dict(r) for r in self.db.execute(f"SELECT * FROM {name}")]

    @_guarded
    def jobs(self, limit: int = 50, *, model: str | None = None, since: str | None = None) -> list[dict[str, Any]]:
        """Jobs, last updated first; ``model`` matches the base or the fine-tuned model's name (a substring),
        ``since`` keeps jobs created from that ISO date on."""
        where, args = _filters("created_at", since, model, ("model", "fine_tuned_model"))
        return [
            dict(r)
            for r in self.db.execute(f"SELECT * FROM jobs{where} ORDER BY updated_at DESC LIMIT ?", (*args, limit))
        ]


def training_cost(job: dict[str, Any]) -> float | None:
    """What a recorded job cost: the provider's figure when known, else the estimate it was started on."""
    actual = job["actual_cost_usd"]
    return float(actual) if actual is not None else job["estimated_cost_usd"]


def _filters(
    time_column: str, since: str | None, model: str | None, model_columns: tuple[str, ...]
) -> tuple[str, list[str]]:
    """A WHERE clause (and its parameters) for the ``since`` and ``model`` filters of the list methods."""
    clauses, args = [], []
    if since:
        clauses.append(f"{time_column} >= ?")
        args.append(since)
    if model:
        clauses.append("(" + " OR ".join(f"instr({c}, ?) > 0" for c in model_columns) + ")")
        args += [model] * len(model_columns)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), args
