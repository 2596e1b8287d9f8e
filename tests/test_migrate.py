"""`ftadvisor migrate` end to end: a hosted OpenAI fine-tune (recorded responses over real HTTP) is carried
over to the local backend (a tiny model trained for real), and both answer the same held-out examples."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ftadvisor.ledger import Ledger
from tests.conftest import STANDIN_KEY
from tests.openai_fixtures import load
from tests.openai_standin import StandIn
from tests.test_local_backend import dataset

FT = "ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf"


@pytest.fixture
def hosted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """OpenAI with one finished fine-tune (2 epochs, batch 2, seed 7) and the files it trained on."""
    job = load("job_succeeded")
    job.update(
        fine_tuned_model=FT,
        training_file="file-MigTrain01",
        validation_file="file-MigValid01",
        seed=7,
        hyperparameters={"n_epochs": 2, "batch_size": 2, "learning_rate_multiplier": 1.0},
        method={
            "type": "supervised",
            "supervised": {"hyperparameters": {"n_epochs": 2, "batch_size": 2, "learning_rate_multiplier": 1.0}},
        },
    )
    files = {
        "file-MigTrain01": dataset(tmp_path / "t.jsonl", 12).read_bytes(),
        "file-MigValid01": dataset(tmp_path / "v.jsonl", 4).read_bytes(),
    }
    with StandIn() as s:
        s.seed_finished(job, files)
        monkeypatch.setenv("OPENAI_API_KEY", STANDIN_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", s.url)
        monkeypatch.setenv("FTADVISOR_LOCAL_DIR", str(tmp_path / "store"))
        yield s


def test_migrate_to_local_trains_evaluates_prices_and_reports(
    hosted, tiny: Path, run_cli, tmp_path: Path, _isolated_home: Path
) -> None:
    dry = run_cli("migrate", FT, "--to", "local", "--base", tiny, "-o", "max_length=64", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    plan = json.loads(dry.stdout)
    assert plan["source"]["job"]["id"] == "ftjob-abc123DEF456ghi789" and plan["n_test"] == 4
    assert plan["training"]["hyperparameters"] == {"n_epochs": 2, "batch_size": 2, "learning_rate_multiplier": 1.0}
    assert plan["training"]["seed"] == 7 and plan["training"]["backend"] == "local"
    assert not (tmp_path / "store" / "jobs").exists()  # a dry run trains nothing

    r = run_cli(
        "migrate",
        FT,
        "--to",
        "local",
        "--base",
        tiny,
        "-o",
        "max_length=64",
        "--require-json",
        "--out",
        tmp_path / "report",
        "--poll",
        "1",
        "--json",
        "--yes",
    )
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["hosted_model"] == FT and got["new_model"].startswith("ft:model:tickets:")
    assert got["cut_over"][0].startswith(f"export the adapter: ftadvisor export {got['job']['id']} --out ADAPTER")
    assert "base_url='http://127.0.0.1:8000/v1'" in got["cut_over"][1]
    (status,) = json.loads(run_cli("migrate", "status", "--json").stdout)
    assert (status["hosted_model"], status["trained"], status["judged"]) == (FT, got["new_model"], True)
    assert status["next_step"].startswith("cut over")
    assert got["job"]["status"] == "succeeded"
    p = got["parity"]["format_compliance"]
    assert p["hosted"] == 1.0 and p["new"] == 0.0  # the stand-in answers JSON; a random tiny model does not
    assert p["ci"]["high"] < 0 and p["ci"]["level"] == 0.95
    assert {"rouge_l", "exact_match"} <= set(got["parity"])
    assert got["cost_per_month_usd"]["hosted"] > 0 and got["cost_per_month_usd"]["new"] is None
    assert got["hosted_days_left"] == (dt.date(2027, 1, 14) - dt.date.today()).days
    assert Path(got["report"]).is_file() and (tmp_path / "report" / "metrics.csv").is_file()

    db = Ledger(_isolated_home / "ledger.db")
    recorded = json.loads(db.records("migration")[0]["data"])
    assert recorded["new_model"] == got["new_model"] and recorded["eval_id"]
    assert db.eval_run(recorded["eval_id"]) is not None
    new_job = db.job(got["job"]["id"])
    assert new_job["backend"] == "local" and json.loads(new_job["hyperparameters"])["n_epochs"] == 2


def test_migrate_refuses_files_that_no_longer_validate(hosted, run_cli) -> None:
    broken = b'{"messages": [}\n' * 12
    hosted.state.contents["file-MigTrain01"] = broken
    hosted.state.files["file-MigTrain01"]["bytes"] = len(broken)  # whole, but no longer valid
    r = run_cli("migrate", FT, "--to", "local", "--dry-run")
    assert r.exit_code == 1 and "train.jsonl:1" in r.output and "file-MigTrain01" in r.output


def test_migrate_names_an_unknown_fine_tune(hosted, run_cli) -> None:
    r = run_cli("migrate", "ft:gpt-4o-mini-2024-07-18:acme:other:Zz9", "--to", "local", "--dry-run")
    assert r.exit_code == 2 and "openai lists no job that made ft:gpt-4o-mini-2024-07-18:acme:other:Zz9" in r.output


def test_migrate_to_a_paid_road_asks_even_when_the_cost_is_unknown(hosted, run_cli, monkeypatch) -> None:
    """A model the catalogue cannot price is not free: without --yes (and no terminal) nothing is created."""
    from tests.together_standin import TogetherStandIn

    pytest.importorskip("together")
    with TogetherStandIn() as s:
        monkeypatch.setenv("TOGETHER_API_KEY", "tgp_standin_0123456789abcdef")
        monkeypatch.setenv("TOGETHER_BASE_URL", s.url)
        r = run_cli("migrate", FT, "--to", "together", "--base", "acme/unpriced-model-7b")
        assert r.exit_code == 2 and "about to spend an unknown amount: pass --yes" in r.output
        assert s.state.creates_received == 0 and s.state.files == {}


def test_migrate_trains_on_recorded_answers_and_judges_on_the_held_out_ones(
    hosted, tiny: Path, run_cli, tmp_path: Path, _isolated_home: Path
) -> None:
    """`migrate record` keeps the hosted answers; `migrate --recorded --train-on recorded` distils them into a
    really trained replacement, judged on the seeded held-out share it never saw."""
    from ftadvisor.migrate import workdir_for

    prompts, kept = dataset(tmp_path / "prompts.jsonl", 30), tmp_path / "kept.jsonl"
    r = run_cli("migrate", "record", FT, "--prompts", prompts, "--out", kept, "--yes")
    assert r.exit_code == 0, r.output
    both = run_cli("migrate", FT, "--to", "local", "--base", tiny, "--recorded", kept, "--dry-run", "--json")
    assert both.exit_code == 0, both.output
    plan = json.loads(both.stdout)
    work = workdir_for(FT)
    split = json.loads((work / "recorded_split.json").read_text())
    held = set(split["held_out_lines"])
    assert len(held) == 15 and split["train_on"] == "both"  # 20 % of 30 is 6; at least 20, at most half: 15
    assert plan["test_file"] == str(work / "recorded_held_out.jsonl") and plan["n_test"] == 15
    # the job's 12 examples (Tickets 0-11) + the 15 recorded ones not held out, less those whose prompt is held out
    assert split["dropped_for_leakage"] == len({n for n in held if n <= 12})
    assert split["n_train"] == 12 + 15 - split["dropped_for_leakage"]

    r = run_cli(
        *("migrate", FT, "--to", "local", "--base", tiny, "-o", "max_length=64", "--recorded", kept),
        *("--train-on", "recorded", "--poll", "1", "--json", "--yes"),
    )
    assert r.exit_code == 0, r.output
    got = json.loads(r.stdout)
    assert got["job"]["status"] == "succeeded" and got["new_model"]
    assert got["parity"]["exact_match"]["hosted"] == 1.0  # judged against its own recorded answers

    def prompts_of(name: str) -> set[str]:
        return {json.dumps(json.loads(x)["messages"][:-1]) for x in (work / name).read_text().splitlines()}

    trained, held_out = prompts_of("train_recorded.jsonl"), prompts_of("recorded_held_out.jsonl")
    assert len(trained) == 15 and len(held_out) == 15 and not trained & held_out  # never trained on


def test_train_on_recorded_needs_the_recorded_answers(hosted, run_cli) -> None:
    r = run_cli("migrate", FT, "--to", "local", "--train-on", "recorded", "--dry-run")
    assert r.exit_code == 2 and "--recorded FILE" in r.output
