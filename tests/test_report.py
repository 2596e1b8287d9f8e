"""The report in a real Chromium: the decision on the first screen, interactive charts drawn offline, intervals,
per-class F1, sections only for what ran, answers with their line breaks; no console error."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from ftadvisor.backends import Job
from ftadvisor.ledger import Ledger
from tests.browser import browser, open_page, screenshots
from tests.openai_fixtures import TEST_KEY, load, url
from tests.test_evaluation import CASES as EVAL_CASES
from tests.test_evaluation import FT

RUN_ID = "run-0123456789abcdef"
# The evaluation tests' tickets, but the base answers ticket A on two lines (the report must keep line breaks).
CASES = [(*EVAL_CASES[0][:2], "The category is billing.\nThe priority is normal.", None), *EVAL_CASES[1:]]


def _rows(cases: list) -> str:  # type: ignore[type-arg]
    return "".join(
        json.dumps(
            {
                "messages": [
                    {"role": "system", "content": "Triage tickets as JSON."},
                    {"role": "user", "content": u},
                    {"role": "assistant", "content": json.dumps(ref)},
                ]
            }
        )
        + "\n"
        for u, ref, _, _ in cases
    )


@pytest.fixture
def evaluated(httpx2_mock, monkeypatch: pytest.MonkeyPatch, run_cli, tmp_path: Path, _isolated_home: Path) -> Ledger:
    """A recorded job (with its training file) and an evaluation of base vs fine-tuned over recorded responses."""
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        _, ref, base, ft = next(c for c in CASES if c[0] == body["messages"][-1]["content"])
        reply = load("chat_completion")
        reply["model"] = body["model"]
        reply["choices"][0]["message"]["content"] = base if body["model"] == "gpt-4o-mini" else (ft or json.dumps(ref))
        reply["usage"].update(prompt_tokens=50, completion_tokens=10, total_tokens=60)
        return httpx2.Response(200, json=reply)

    httpx2_mock.add_callback(answer, method="POST", url=url("/chat/completions"), is_reusable=True)
    test = tmp_path / "tickets-test.jsonl"
    test.write_text(_rows(CASES))
    train = tmp_path / "tickets-train.jsonl"
    train.write_text(_rows(CASES * 15))  # 60 examples, every one a duplicate of 3 others
    db = Ledger(_isolated_home / "ledger.db")
    db.record(
        "create_pending",
        {
            "run_id": RUN_ID,
            "backend": "openai",
            "model": "gpt-4o-mini-2024-07-18",
            "training_file": "file-abc",
            "training_path": str(train),
        },
        ref=RUN_ID,
    )
    db.save_job(
        Job(
            id="ftjob-abc123DEF456ghi789",
            status="succeeded",
            model="gpt-4o-mini-2024-07-18",
            backend="openai",
            fine_tuned_model=FT,
            trained_tokens=96903,
        ),
        run_id=RUN_ID,
        estimated_cost_usd=0.3,
        actual_cost_usd=0.29,
    )
    db.add_metrics(
        "ftjob-abc123DEF456ghi789",
        [{"step": s, "train_loss": 2.0 / s, "valid_loss": 2.2 / s if s % 2 else None} for s in range(1, 11)],
    )
    r = run_cli(
        "eval", "run", "-m", "gpt-4o-mini", "-m", FT, "--data", test, "--label-field", "category", "--require-json"
    )
    assert r.exit_code == 0, r.output
    return db


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def test_report_leads_with_the_decision(evaluated: Ledger, run_cli, chromium, tmp_path: Path) -> None:
    out = tmp_path / "report"
    r = run_cli("report", "--last", "--out", out, "--requests-per-day", "1000", "--as-of", "2026-11-24")
    assert r.exit_code == 0, r.output
    import pandas as pd

    metrics = pd.read_parquet(out / "metrics.parquet")
    assert list(metrics["model"]) == ["gpt-4o-mini", FT] and list(metrics["accuracy"]) == [0.25, 1.0]
    examples = pd.read_csv(out / "examples.csv")
    assert len(examples) == 4 and not examples["same"].any()
    intervals = pd.read_parquet(out / "intervals.parquet").set_index("metric")
    assert intervals.loc["accuracy", "difference"] == pytest.approx(0.75)
    assert intervals.loc["accuracy", "ci_low"] <= 0.75 <= intervals.loc["accuracy", "ci_high"]
    per_class = pd.read_parquet(out / "per_class.parquet")
    assert set(per_class["class"]) == {"billing", "technical", "account", "shipping"}
    assert not (out / "judge.csv").exists() and not (out / "regression.csv").exists()  # neither ran
    md = (out / "report.md").read_text()
    assert md.startswith(f"# tickets-test.jsonl: gpt-4o-mini vs {FT}, 24 November 2026\n**Recommendation: ")

    page = open_page(chromium, out / "report.html")
    p = page.page
    assert p.title() == f"tickets-test.jsonl: gpt-4o-mini vs {FT}, 24 November 2026"
    # the first screen holds the recommendation, its reasons and the numbers
    box = p.locator("#decision").bounding_box()
    assert box is not None and box["y"] < 200
    first = p.locator("#decision").inner_text()
    assert "Recommendation:" in first and "as of 2026-11-24" in first
    for label in (
        "setup: training",
        "per request, gpt-4o-mini",
        "break-even at 1,000 requests/day",
        "days before the base model shuts down",
        "setup budget",
    ):
        assert label in first
    assert "scores format compliance 100% against 50% for gpt-4o-mini" in first  # the measured evidence
    assert "4 examples make wide intervals" in first
    # interactive charts, drawn by the embedded plotly.js
    for chart in ("cost", "loss", "quality", "classes"):
        assert p.locator(f"#chart-{chart} .main-svg").count() > 0, chart
    # sections for what ran only; data quality of the training file
    assert p.locator("#judge").count() == 0 and p.locator("#regression").count() == 0
    data = p.locator("#data").inner_text()
    assert "tickets-train.jsonl" in data and "training data" in data and "evaluation data" in data
    assert "INVALID" not in data  # 4 held-out examples are fine: OpenAI's 10-example minimum is for training
    # answers keep their line breaks (no literal \n), and the metrics table does not scroll sideways
    answers = p.locator("#answers").inner_text()
    assert "The category is billing.\nThe priority is normal." in answers and "\\n" not in answers
    overflow = p.evaluate(
        "() => [...document.querySelectorAll('#quality .tablewrap')].map(e => e.scrollWidth - e.clientWidth)"
    )
    assert max(overflow) <= 0
    page.check()
    screenshots(chromium, out / "report.html", "report")


def test_report_shows_judge_and_regression_when_they_ran(evaluated: Ledger, run_cli, chromium, tmp_path: Path) -> None:
    run = evaluated.eval_runs(1)[0]["id"]
    evaluated.record(
        "judgement",
        {
            "run": run,
            "judge": "gpt-4.1",
            "rubric": "r",
            "unreadable": 0,
            "mean_score": {"gpt-4o-mini": 2.5, FT: 4.25},
            "scores": [],
            "pairwise": {
                "judge": "gpt-4.1",
                "baseline": "gpt-4o-mini",
                "candidate": FT,
                "wins": 3,
                "losses": 0,
                "ties": 0,
                "unparsed": 1,
                "win_rate": 1.0,
                "consistency": 1.0,
                "pairs": [],
            },
        },
        ref=run,
    )
    evaluated.record(
        "regression",
        {
            "models": [
                {"model": "gpt-4o-mini", "pass_rate": 1.0, "change_points": 0.0, "flagged": False},
                {"model": FT, "pass_rate": 0.85, "change_points": -15.0, "flagged": True},
            ]
        },
    )
    out = tmp_path / "report"
    assert run_cli("report", "--out", out, "--budget", "0.1").exit_code == 0
    page = open_page(chromium, out / "report.html")
    judge = page.page.locator("#judge").inner_text()
    assert "win rate 100%" in judge and "1 pairs with an unreadable verdict left out" in judge
    assert "FORGETTING" in page.page.locator("#regression").inner_text()
    decision = page.page.locator("#decision").inner_text()
    assert "$0.10" in decision  # the budget the decision was held to
    page.check()
    assert (out / "judge.csv").is_file() and (out / "regression.parquet").is_file()


def test_report_without_evaluations_is_a_clear_error(run_cli, tmp_path: Path) -> None:
    r = run_cli("report", "--out", tmp_path / "r")
    assert r.exit_code != 0 and "eval run" in r.output and not (tmp_path / "r").exists()


def test_calc_starts_from_a_ledger_evaluation(evaluated: Ledger, run_cli, tmp_path: Path) -> None:
    import re

    evaluated.record("run_config", {"file": "t.jsonl", "options": {"lora_rank": 8}}, ref=RUN_ID)
    run = evaluated.eval_runs(1)[0]["id"]
    out = tmp_path / "calc.html"
    r = run_cli("calc", "--from-ledger", run, "--out", out)
    assert r.exit_code == 0, r.output
    blob = re.search(r'<script type="application/json" id="ftadvisor-data">(.*?)</script>', out.read_text(), re.S)
    assert blob is not None
    prefill = json.loads(blob.group(1))["prefill"]
    assert prefill["source"] == f"ledger {run}" and prefill["ft_model"] == "gpt-4o-mini-2024-07-18"
    assert prefill["train_cost"] == 0.29 and prefill["lora_rank"] == 8
    assert (prefill["input_tokens"], prefill["output_tokens"], prefill["prompt_tokens"]) == (50, 10, 0)
