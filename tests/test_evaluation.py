"""Evaluation against recorded OpenAI responses, with metric values computed by hand."""

from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

from ftadvisor.evaluation.metrics import FormatRules, classification, field_accuracy, format_failures, rouge_l
from ftadvisor.ledger import Ledger
from tests.openai_fixtures import TEST_KEY, load, url

FT = "ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf"
CASES = [  # (user, reference, base answer, fine-tuned answer)
    ("Ticket A: my invoice is wrong", {"category": "billing", "priority": "normal"}, "The category is billing.", None),
    (
        "Ticket B: the app crashes",
        {"category": "technical", "priority": "high"},
        '{"category": "technical", "priority": "normal"}',
        None,
    ),
    (
        "Ticket C: change my email",
        {"category": "account", "priority": "normal"},
        '{"category": "billing", "priority": "normal"}',
        None,
    ),
    (
        "Ticket D: parcel crushed",
        {"category": "shipping", "priority": "low"},
        "Shipping issue.",
        '{"category": "shipping", "priority": "normal"}',
    ),
]


@pytest.fixture
def test_file(tmp_path: Path) -> Path:
    rows = [
        {
            "messages": [
                {"role": "system", "content": "Triage tickets as JSON."},
                {"role": "user", "content": u},
                {"role": "assistant", "content": json.dumps(ref)},
            ]
        }
        for u, ref, _, _ in CASES
    ]
    path = tmp_path / "test.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def served(httpx2_mock, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        user = body["messages"][-1]["content"]
        _, ref, base, ft = next(c for c in CASES if c[0] == user)
        text = base if body["model"] == "gpt-4o-mini" else (ft or json.dumps(ref))
        reply = load("chat_completion")
        reply["model"] = body["model"]
        reply["choices"][0]["message"]["content"] = text
        reply["usage"].update(prompt_tokens=50, completion_tokens=10, total_tokens=60)
        return httpx2.Response(200, json=reply)

    httpx2_mock.add_callback(answer, method="POST", url=url("/chat/completions"), is_reusable=True)
    return httpx2_mock


def test_metrics_by_hand() -> None:
    assert rouge_l(
        '{"category": "shipping", "priority": "normal"}', '{"category": "shipping", "priority": "low"}'
    ) == pytest.approx(0.75)  # tokens category shipping priority low/normal: LCS 3 of 4
    assert (
        field_accuracy('{"category": "billing", "priority": "normal"}', '{"category": "account", "priority": "normal"}')
        == 0.5
    )
    assert field_accuracy("not json", '{"a": 1}') == 0.0 and field_accuracy("x", "plain reference") is None
    rules = FormatRules(require_json=True, contains=["legal advice"], regex=[r"^\{"])
    assert format_failures('{"a": 1}', rules) == ["missing 'legal advice'"]
    assert format_failures('```json\n{"a": 1}\n```', FormatRules(require_json=True)) == []
    acc, per, macro = classification(["a", "a", "b", None], ["a", "b", "b", "c"])
    assert acc == 0.5 and per["a"].precision == 0.5 and per["a"].recall == 1.0 and per["b"].f1 == pytest.approx(2 / 3)
    assert macro == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)


def test_base_vs_fine_tuned(served, run_cli, test_file: Path, _isolated_home: Path) -> None:
    r = run_cli(
        "eval",
        "run",
        "-m",
        "gpt-4o-mini",
        "-m",
        FT,
        "--data",
        test_file,
        "--label-field",
        "category",
        "--require-json",
        "--json",
        "--concurrency",
        "2",
    )
    assert r.exit_code == 0, r.output
    run = json.loads(r.stdout)
    base, ft = run["models"]
    assert base["model"] == "gpt-4o-mini" and ft["model"] == FT
    assert base["format_compliance"] == 0.5 and ft["format_compliance"] == 1.0
    assert base["exact_match"] == 0.0 and ft["exact_match"] == 0.75
    assert base["accuracy"] == 0.25 and ft["accuracy"] == 1.0
    assert base["macro_f1"] == pytest.approx(0.25) and ft["macro_f1"] == 1.0
    assert base["per_class"]["technical"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 1}
    assert base["field_accuracy"] == 0.25 and ft["field_accuracy"] == 0.875
    assert ft["rouge_l"] == pytest.approx((1 + 1 + 1 + 0.75) / 4)
    assert base["cost_per_request_usd"] == pytest.approx((50 * 0.15 + 10 * 0.6) / 1e6)
    assert ft["cost_per_request_usd"] == pytest.approx((50 * 0.3 + 10 * 1.2) / 1e6)
    assert run["labels"] == ["account", "billing", "shipping", "technical"]
    stored = Ledger(_isolated_home / "ledger.db").eval_run(run["id"])
    assert len(stored["examples"]) == 8 and stored["models"][1]["accuracy"] == 1.0
    assert {
        e["metrics"]["format_failures"] == ["not JSON"]
        for e in stored["examples"]
        if e["model"] == "gpt-4o-mini" and e["line"] in (1, 4)
    } == {True}
    sent = [json.loads(q.content) for q in served.get_requests()]
    assert len(sent) == 8 and all(b["temperature"] == 0 for b in sent)
    assert all(b["messages"][0] == {"role": "system", "content": "Triage tickets as JSON."} for b in sent)


def test_errors_are_counted_not_fatal(httpx2_mock, run_cli, test_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    httpx2_mock.add_response(
        method="POST", url=url("/chat/completions"), status_code=400, json=load("error_400"), is_reusable=True
    )
    r = run_cli("eval", "run", "-m", "gpt-4o-mini", "--data", test_file, "--json", "--no-log")
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)["models"][0]
    assert summary["n_errors"] == 4 and summary["exact_match"] == 0


def test_data_without_references_is_refused(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    bad = tmp_path / "prompts.jsonl"
    bad.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"}]}) + "\n")
    r = run_cli("eval", "run", "-m", "gpt-4o-mini", "--data", bad)
    assert r.exit_code == 2 and "final assistant answer" in r.output


def test_regression_flags_a_drop_over_5_points(
    httpx2_mock, run_cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from ftadvisor.evaluation.regression import GENERAL

    monkeypatch.setenv("OPENAI_API_KEY", TEST_KEY)
    good = {
        "What is 12 + 7? Answer with the number only.": "19",
        "What is 9 times 8? Answer with the number only.": "72",
        "What is 100 minus 37? Answer with the number only.": "63",
        "Is ice colder than boiling water? Answer yes or no.": "Yes.",
        "What day comes after Monday?": "Tuesday.",
        "How many legs does a spider have?": "Eight.",
        "What is the capital of France?": "Paris.",
        "Say hello to me in one short sentence.": "Hello there!",
        "Thank you for your help!": "You're welcome!",
        "Write the word apple in capital letters only.": "APPLE",
        "List three colours, one per line, each line starting with '- '.": "- red\n- green\n- blue",
        'Reply with only a JSON object whose key "ok" is true.': '{"ok": true}',
        "Custom?": "custom answer",
    }
    assert set(good) - {"Custom?"} == {p["prompt"] for p in GENERAL}

    def answer(request: httpx2.Request) -> httpx2.Response:
        body = json.loads(request.content)
        prompt = body["messages"][-1]["content"]
        text = good[prompt]
        if body["model"] == FT and prompt in (
            "What is 9 times 8? Answer with the number only.",
            "What is the capital of France?",
        ):
            text = '{"category": "billing", "priority": "normal"}'  # forgot: answers everything as a ticket
        reply = load("chat_completion")
        reply["choices"][0]["message"]["content"] = text
        return httpx2.Response(200, json=reply)

    httpx2_mock.add_callback(answer, method="POST", url=url("/chat/completions"), is_reusable=True)
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"prompt": "Custom?", "expect": "custom", "kind": "mine"}) + "\n")
    r = run_cli("eval", "regression", "-m", "gpt-4o-mini", "-m", FT, "--extra", extra, "--json")
    assert r.exit_code == 1
    base, ft = json.loads(r.stdout)
    assert base["pass_rate"] == 1.0 and ft["pass_rate"] == pytest.approx(11 / 13)
    assert ft["change_points"] == pytest.approx(-200 / 13) and ft["flagged"] and not base["flagged"]
    assert ft["by_kind"]["arithmetic"] == pytest.approx(2 / 3) and ft["by_kind"]["mine"] == 1.0


def test_judge_scores_and_pairwise_with_swapped_order(served, run_cli, test_file: Path, _isolated_home: Path) -> None:
    import re

    judge = "gpt-4.1-2025-04-14"

    def quality(answer: str, reference: str) -> int:
        """2: the reference itself; 1: JSON with the right category; 0: anything else."""
        if answer == reference:
            return 2
        try:
            return int(json.loads(answer).get("category") == json.loads(reference)["category"])
        except (json.JSONDecodeError, AttributeError):
            return 0

    def reply(request: httpx2.Request) -> httpx2.Response:
        prompt = json.loads(request.content)["messages"][-1]["content"]
        reference = re.search(r"Reference answer[^\n]*:\n(.*?)\n\n", prompt, re.S).group(1)
        if "Answer A:" in prompt:
            a, b = re.search(r"Answer A:\n(.*?)\n\nAnswer B:\n(.*?)\n\nWhich", prompt, re.S).groups()
            qa, qb = quality(a, reference), quality(b, reference)
            winner = "A" if abs(qa - qb) <= 1 else ("A" if qa > qb else "B")  # position bias on close calls
            text = json.dumps({"reasoning": "compared", "winner": winner})
        else:
            answer = re.search(r"Assistant's answer:\n(.*?)\n\nReply with JSON", prompt, re.S).group(1)
            text = json.dumps({"reasoning": "graded", "score": {2: 5, 1: 3, 0: 1}[quality(answer, reference)]})
        out = load("chat_completion")
        out["choices"][0]["message"]["content"] = text
        return httpx2.Response(200, json=out)

    assert run_cli("eval", "run", "-m", "gpt-4o-mini", "-m", FT, "--data", test_file).exit_code == 0
    served.reset()
    served.add_callback(reply, method="POST", url=url("/chat/completions"), is_reusable=True)
    r = run_cli("eval", "judge", "--judge-model", judge, "--json")
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    pair = result["pairwise"]
    assert (pair["wins"], pair["ties"], pair["losses"]) == (2, 2, 0)
    assert pair["win_rate"] == 0.75 and pair["consistency"] == 0.5
    assert {p["line"]: p["outcome"] for p in pair["pairs"]} == {1: "win", 2: "tie", 3: "win", 4: "tie"}
    assert all(p["verdicts"][0]["first"] != p["verdicts"][1]["first"] for p in pair["pairs"])
    assert result["mean_score"] == {"gpt-4o-mini": 1.5, FT: 4.5} and result["unreadable"] == 0
    assert all(json.loads(q.content)["model"] == judge for q in served.get_requests())
    stored = Ledger(_isolated_home / "ledger.db").records(kind="judgement")
    assert len(stored) == 1 and json.loads(stored[0]["data"])["pairwise"]["win_rate"] == 0.75


def test_a_judge_that_never_answers_is_reported_as_unparsed_not_as_ties(tmp_path: Path) -> None:
    """A random tiny model as the judge (it never writes a verdict): no win rate of 50 % and no 100 % agreement
    from verdicts nobody could read."""
    from ftadvisor.evaluation.judge import DEFAULT_RUBRIC, pairwise
    from local_backend import LocalBackend
    from local_backend.tiny import make_tiny_model

    tiny = make_tiny_model(tmp_path / "tiny")
    cases = [
        {"line": i, "prompt": [{"role": "user", "content": f"q{i}"}], "reference": "r", "base": "a", "tuned": "b"}
        for i in (1, 2)
    ]
    summary = pairwise((LocalBackend(tmp_path / "store"), str(tiny)), cases, "base", "tuned", DEFAULT_RUBRIC)
    assert summary.unparsed == 2 and summary.wins == summary.ties == summary.losses == 0
    assert summary.win_rate == 0.0 and summary.consistency == 0.0
    assert {p.outcome for p in summary.pairs} == {"unparsed"}
