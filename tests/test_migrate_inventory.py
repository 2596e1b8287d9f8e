"""`ftadvisor migrate inventory` over real HTTP against the OpenAI stand-in: every page of the jobs list, each
fine-tune's files checked whole, a target and a rough cost per model, riskiest first, and nothing created."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from tests.conftest import STANDIN_KEY
from tests.openai_fixtures import load
from tests.openai_standin import StandIn
from tests.test_local_backend import dataset

AS_OF = ("--as-of", "2026-12-04")
MINI = "ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf"
BIG = "ft:gpt-4.1-2025-04-14:acme::Qq7Trunc"
OLDEST = "ft:gpt-4.1-mini-2025-04-14:acme:legal:Zz9Old01"


def _job(job_id: str, model: str, ft: str, train: str, tokens: int) -> dict:
    job = load("job_succeeded")
    job.update(
        id=job_id, model=model, fine_tuned_model=ft, training_file=train, validation_file=None, trained_tokens=tokens
    )
    return job


@pytest.fixture
def org(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Three fine-tunes, the oldest beyond the first page of the list (101 failed jobs are newer), one whose
    training file no longer downloads whole."""
    train = dataset(tmp_path / "t.jsonl", 12).read_bytes()
    with StandIn() as s:
        s.seed_finished(
            _job("ftjob-oldest", "gpt-4.1-mini-2025-04-14", OLDEST, "file-Old", 50_000), {"file-Old": train}
        )
        for i in range(101):
            failed = load("job_failed")
            failed.update(id=f"ftjob-failed{i:03d}", fine_tuned_model=None)
            s.seed_finished(failed, {})
        s.seed_finished(_job("ftjob-mini", "gpt-4o-mini-2024-07-18", MINI, "file-Mini", 30_000), {"file-Mini": train})
        s.seed_finished(
            _job("ftjob-big", "gpt-4.1-2025-04-14", BIG, "file-Big", 80_000),
            {"file-Big": train[: train.rindex(b"\n", 0, len(train) - 1) + 1]},  # cut at a line end
            listed_bytes={"file-Big": len(train)},
        )
        monkeypatch.setenv("OPENAI_API_KEY", STANDIN_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", s.url)
        yield s


def test_inventory_lists_every_fine_tune_riskiest_first_and_creates_nothing(org, run_cli) -> None:
    r = run_cli("migrate", "inventory", "--azure-customer", "existing", "--json", *AS_OF)
    assert r.exit_code == 0, r.output
    rows = json.loads(r.stdout)
    assert [x["fine_tuned_model"] for x in rows] == [BIG, MINI, OLDEST]  # the one found on page 2 included
    big, mini, oldest = rows
    assert not big["training"]["downloadable"] and "cut short" in big["training"]["problem"]
    assert big["risk"].startswith("files not whole: its own answers are the only data left")
    assert mini["training"] == {
        "file_id": "file-Mini",
        "bytes": mini["training"]["bytes"],
        "lines": 12,
        "downloadable": True,
        "problem": None,
    }
    assert (mini["base"], mini["suffix"], mini["days_left"], mini["shutdown"]) == (
        "gpt-4o-mini-2024-07-18",
        "tickets",
        41,
        "2027-01-14",
    )
    assert mini["hyperparameters"] == {"n_epochs": 3, "batch_size": 1, "learning_rate_multiplier": 1.8}
    assert mini["created"] == "2025-11-23" and oldest["suffix"] == "legal"
    # an existing Azure customer can keep the same model until October 2027, at Azure's training price
    assert (mini["target"], mini["target_model"]) == ("azure", "gpt-4o-mini-2024-07-18")
    assert mini["retrain_usd"] == pytest.approx(30_000 * 3.0 / 1e6)
    assert org.state.creates_received == 0 and org.state.uploads_received == 0
    status = json.loads(run_cli("migrate", "status", "--json").stdout)  # the ledger remembers the inventory
    assert {s["hosted_model"] for s in status} == {BIG, MINI, OLDEST}
    assert all(s["inventoried"] and s["days_left"] == 41 and s["recorded"] == 0 for s in status)
    assert status[0]["next_step"].startswith("ftadvisor migrate record ")


def test_inventory_sends_new_azure_customers_down_the_open_road(org, run_cli) -> None:
    rows = json.loads(run_cli("migrate", "inventory", "--azure-customer", "new", "--json", *AS_OF).stdout)
    mini = next(x for x in rows if x["fine_tuned_model"] == MINI)
    assert (mini["target"], mini["target_model"]) == ("together", "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference")
    assert mini["retrain_usd"] == pytest.approx(30_000 * 0.48 / 1e6)
    unknown = json.loads(run_cli("migrate", "inventory", "--json", *AS_OF).stdout)
    assert next(x for x in unknown if x["fine_tuned_model"] == MINI)["target_note"].endswith(
        "existing Azure customers only"
    )


def test_inventory_table_and_csv(org, run_cli) -> None:
    table = run_cli("migrate", "inventory", *AS_OF)
    assert table.exit_code == 0 and "NOT whole" in table.stdout and "nothing was created" in table.stdout
    rows = list(csv.DictReader(io.StringIO(run_cli("migrate", "inventory", "--csv", *AS_OF).stdout)))
    assert [r["fine_tuned_model"] for r in rows] == [BIG, MINI, OLDEST]
    assert rows[1]["training_lines"] == "12" and rows[0]["training_whole"] == "False"


def test_migrate_refuses_a_training_file_cut_short(org, run_cli, tmp_path: Path) -> None:
    """The review's migrate rows: a file cut at a line end parses, so only its size can tell."""
    test = dataset(tmp_path / "held-out.jsonl", 4)
    r = run_cli("migrate", BIG, "--to", "local", "--test", test, "--dry-run", *AS_OF)
    assert r.exit_code != 0 and "download was cut short" in r.output, r.output
    ok = run_cli("migrate", "run", OLDEST, "--to", "local", "--test", test, "--dry-run", "--json", *AS_OF)
    assert ok.exit_code == 0, ok.output  # found on the list's second page, its whole file fetched
    assert json.loads(ok.stdout)["source"]["job"]["id"] == "ftjob-oldest"
