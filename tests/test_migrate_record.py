"""`ftadvisor migrate record` over real HTTP against the OpenAI stand-in: priced first, each answer kept as it
arrives, and a run interrupted half way followed by a rerun pays for no prompt twice (counted at the stand-in)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftadvisor.ledger import Ledger
from ftadvisor.pricing import load_catalogue
from ftadvisor.workflows.migrate import plan_record, run_record
from tests.conftest import STANDIN_KEY
from tests.openai_standin import StandIn
from tests.test_local_backend import dataset

FT = "ft:gpt-4o-mini-2024-07-18:acme:tickets:AbC12dEf"
N = 10


@pytest.fixture
def hosted(monkeypatch: pytest.MonkeyPatch):
    with StandIn() as s:
        for i in range(N):  # a scripted fine-tune: each ticket has its own answer
            s.state.answers[f"Ticket {i}: my invoice is wrong."] = f'{{"category": "answer-{i}"}}'
        monkeypatch.setenv("OPENAI_API_KEY", STANDIN_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", s.url)
        yield s


def _kept(out: Path) -> list[str]:
    return [json.loads(x)["messages"][-1]["content"] for x in out.read_text().splitlines()]


def test_an_interrupted_record_is_finished_by_a_rerun_that_asks_only_what_is_missing(
    hosted, run_cli, tmp_path: Path, _isolated_home: Path
) -> None:
    from ftadvisor.backends import get_backend

    prompts, out = dataset(tmp_path / "prompts.jsonl", N), tmp_path / "kept" / "recorded.jsonl"
    cat, ledger = load_catalogue(), Ledger()
    plan = plan_record(FT, prompts, cat, ledger, max_tokens=100)
    assert plan.already == 0 and len(plan.prompts) == N
    assert plan.usd_at_most == pytest.approx((plan.input_tokens * 0.3 + N * 100 * 1.2) / 1e6)

    def stop_after_four(done: int, total: int) -> None:
        if done == 4:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_record(plan, get_backend("openai"), ledger, out, concurrency=1, cat=cat, on_answer=stop_after_four)
    assert hosted.state.chats_received == 4
    assert _kept(out) == [f'{{"category": "answer-{i}"}}' for i in range(4)]  # written as they arrived

    r = run_cli("migrate", "record", FT, "--prompts", prompts, "--out", out, "--concurrency", "3", "--yes", "--json")
    assert r.exit_code == 0, r.output
    assert "4 kept by an earlier run, 6 to ask" in r.stderr
    assert hosted.state.chats_received == N  # the four answered prompts were not paid for again
    assert _kept(out) == [f'{{"category": "answer-{i}"}}' for i in range(N)]  # in the prompts' order
    first = json.loads(out.read_text().splitlines()[0])["messages"]
    assert [m["role"] for m in first] == ["system", "user", "assistant"]  # OpenAI's chat format, ready to train
    result = json.loads(r.stdout)
    assert result["answered"] == 6 and result["total"] == N and result["prompt_tokens"] > 0
    manifest = json.loads(Path(result["manifest"]).read_text())
    assert manifest["prompts"] == N and manifest["model"] == FT and len(manifest["prompts_sha256"]) == 64
    assert STANDIN_KEY not in out.read_text() + Path(result["manifest"]).read_text()

    again = run_cli("migrate", "record", FT, "--prompts", prompts, "--out", out, "--yes")
    assert again.exit_code == 0 and "0 to ask" in again.stderr and hosted.state.chats_received == N
    (status,) = json.loads(run_cli("migrate", "status", "--json").stdout)
    assert (
        status["hosted_model"] == FT
        and status["recorded"] == N
        and status["next_step"].startswith(f"ftadvisor migrate run {FT}")
    )


def test_record_asks_before_spending_and_names_bad_lines(hosted, run_cli, tmp_path: Path) -> None:
    prompts = dataset(tmp_path / "prompts.jsonl", 3)
    r = run_cli("migrate", "record", FT, "--prompts", prompts, "--out", tmp_path / "o.jsonl")
    assert r.exit_code == 2 and "pass --yes" in r.output and "at most $" in r.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text(prompts.read_text() + '{"messages": [{"role": "assistant", "content": "x"}]}\n')
    r = run_cli("migrate", "record", FT, "--prompts", bad, "--out", tmp_path / "o.jsonl", "--yes")
    assert r.exit_code == 2 and "bad.jsonl:4: messages: the chat must end with a user turn" in r.output
    assert hosted.state.chats_received == 0 and not (tmp_path / "o.jsonl").exists()
