"""The cost advisor held to the seeds' worked figures, the catalogue, and the decision tree."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ftadvisor.advisor.breakeven import BreakEvenInput, break_even
from ftadvisor.advisor.costs import find_model, prompt_overhead, request_cost, training_estimate
from ftadvisor.advisor.decision import Answers, FineTuneOption, advise
from ftadvisor.advisor.scenario import Scenario, scenario_input
from ftadvisor.errors import InputError
from ftadvisor.pricing import load_catalogue
from ftadvisor.tokens import TokenCounter

CAT = load_catalogue(use_user_file=False)
TODAY = dt.date(2026, 11, 23)


# --- the seeds' worked figures --------------------------------------------------------------------------------


def test_seed_break_even_50_dollars() -> None:
    r = break_even(BreakEvenInput(train_cost=50, prompt_cost=0.0115, ft_cost=0.00015, requests_per_day=1000))
    assert r.per_request_savings_usd == pytest.approx(0.01135)
    assert r.break_even_requests == 4406  # "about 4,400"
    assert r.break_even_days == pytest.approx(4.405, abs=0.001)  # "4.4 days at 1,000/day"


def test_seed_break_even_with_data_cost() -> None:
    r = break_even(
        BreakEvenInput(train_cost=50, data_cost=2000, prompt_cost=0.0115, ft_cost=0.00015, requests_per_day=1000)
    )
    assert r.break_even_requests == 180_617  # "about 180,000 requests"
    assert 5.5 < r.break_even_days / 30.44 < 6.5  # "about six months"


def test_seed_break_even_500_dollars() -> None:
    r = break_even(BreakEvenInput(train_cost=500, prompt_cost=0.02, ft_cost=0.005))
    assert r.break_even_requests == 33_334
    assert r.break_even_days is None and r.pays_back_before_shutdown is None


def test_never_pays_back_when_fine_tune_costs_more() -> None:
    r = break_even(
        BreakEvenInput(train_cost=50, prompt_cost=0.001, ft_cost=0.002, requests_per_day=1000, lifetime_days=100)
    )
    assert r.break_even_requests is None and r.break_even_days is None
    assert r.pays_back_before_shutdown is False and "never" in r.verdict


def test_hosting_is_a_daily_cost() -> None:
    r = break_even(
        BreakEvenInput(
            train_cost=100, prompt_cost=0.01, ft_cost=0.0, hosting_per_month=30.4375 * 5, requests_per_day=1000
        )
    )
    assert r.daily_savings_usd == pytest.approx(10 - 5)
    assert r.break_even_days == pytest.approx(20)
    with pytest.raises(ValueError, match="requests per day"):
        BreakEvenInput(train_cost=1, prompt_cost=1, ft_cost=0, hosting_per_month=10)


def test_cannot_pay_back_before_shutdown() -> None:
    r = break_even(
        BreakEvenInput(train_cost=2050, prompt_cost=0.0115, ft_cost=0.00015, requests_per_day=1000, lifetime_days=52)
    )
    assert r.pays_back_before_shutdown is False
    assert "does NOT pay back before shutdown" in r.verdict and "locally" in r.verdict
    assert [p.label for p in r.cumulative][:2] == ["1 month", "shutdown"]
    assert r.net_savings_over_lifetime_usd == pytest.approx(0.01135 * 1000 * 52 - 2050)


# --- prices, overhead, training ----------------------------------------------------------------------------------


def test_catalogue_rows_have_sources_and_dates() -> None:
    openai = [m for m in CAT.models if m.provider == "openai"]
    assert {
        "gpt-4o-2024-08-06",
        "gpt-4o-mini-2024-07-18",
        "gpt-4.1-2025-04-14",
        "gpt-4.1-mini-2025-04-14",
        "gpt-4.1-nano-2025-04-14",
        "gpt-3.5-turbo-0125",
        "o4-mini-2025-04-16",
    } <= {m.id for m in openai}
    for m in openai:
        assert m.sources and m.shutdown and m.job_cutoff and m.encoding
        assert all(s in CAT.sources for s in m.sources)
    assert find_model(CAT, "gpt-4o-mini").shutdown == dt.date(2027, 1, 14)
    assert find_model(CAT, "ft:gpt-4.1-mini-2025-04-14:acme::x").id == "gpt-4.1-mini-2025-04-14"
    assert not find_model(CAT, "gpt-4.1-mini").accepts_jobs(dt.date(2027, 1, 6))
    assert find_model(CAT, "gpt-4.1-mini").accepts_jobs(dt.date(2027, 1, 5))


def test_user_price_file_overrides_and_extends(tmp_path: Path, _isolated_home: Path) -> None:
    (_isolated_home / "prices.json").write_text(
        json.dumps({"models": [{"id": "gpt-4o-mini-2024-07-18", "training_per_1m": 2.5}]})
    )
    extra = tmp_path / "p.json"
    extra.write_text(json.dumps({"models": [{"id": "acme-7b", "provider": "self-hosted", "gpu_per_hour": 2}]}))
    cat = load_catalogue(extra)
    assert cat.find("gpt-4o-mini").training_per_1m == 2.5
    assert cat.find("gpt-4o-mini").ft_input == 0.3  # untouched fields are kept
    assert cat.find("acme-7b").gpu_per_hour == 2
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"models": [{"id": "x", "training_per_1m": "cheap"}]}))
    with pytest.raises(InputError, match=r"bad\.json: models.*training_per_1m"):
        load_catalogue(bad)


def test_request_cost_cached_tokens_are_not_double_counted() -> None:
    m = find_model(CAT, "gpt-4o-mini")
    assert request_cost(m, "base", 1000, 100) == pytest.approx((1000 * 0.15 + 100 * 0.6) / 1e6)
    assert request_cost(m, "base", 1000, 100, cached_tokens=800) == pytest.approx(
        (200 * 0.15 + 800 * 0.075 + 100 * 0.6) / 1e6
    )
    assert request_cost(m, "ft", 1000, 100) == pytest.approx((1000 * 0.3 + 100 * 1.2) / 1e6)


def test_prompt_overhead_is_exact_chat_tokens() -> None:
    m = find_model(CAT, "gpt-4o")
    shots = [
        {"role": "user", "content": "Our client received a demand letter."},
        {"role": "assistant", "content": "1. Acknowledge receipt within 5 business days."},
    ]
    o = prompt_overhead(m, system_prompt="You are a legal assistant.", few_shot=shots, requests_per_day=1000)
    c = TokenCounter("o200k_base")
    expected = sum(c.message(x) for x in [{"role": "system", "content": "You are a legal assistant."}, *shots])
    assert o.tokens == expected and o.encoding == "o200k_base"
    assert o.usd_per_request == pytest.approx(expected * 2.5 / 1e6)
    assert o.usd_per_month == pytest.approx(o.usd_per_request * 1000 * 365.25 / 12)
    # Far below 1,024 tokens: nothing is cacheable, whatever the hit rate.
    cached = prompt_overhead(m, system_prompt="You are a legal assistant.", few_shot=shots, cache_hit_rate=1.0)
    assert cached.cacheable_tokens == 0 and cached.usd_per_request == pytest.approx(expected * 2.5 / 1e6)


def test_training_estimate_per_token_hour_and_gpu() -> None:
    t = training_estimate(
        find_model(CAT, "gpt-4o-mini"), billing_tokens_per_epoch=100_000, n_examples=500, cost_per_example=4
    )
    assert t.n_epochs == 3 and t.billed_tokens == 300_000
    assert t.training_usd == pytest.approx(0.90)  # OpenAI's worked example: 100k tokens x 3 epochs ≈ $0.90
    assert t.data_usd == 2000 and t.total_usd == pytest.approx(2000.90)
    rft = training_estimate(find_model(CAT, "o4-mini"), hours=5)
    assert rft.training_usd == 500 and rft.basis == "hours"
    gpu = training_estimate(
        find_model(CAT, "local/llama-3.1-8b-instruct"),
        billing_tokens_per_epoch=3_600_000,
        n_examples=1000,
        epochs=1,
        tokens_per_second=1000,
        gpu_per_hour=2,
    )
    # 1 h of training + the profile's 2 h of download, setup and evaluation, on one GPU at $2/h.
    assert gpu.hours == pytest.approx(3.0) and gpu.training_usd == pytest.approx(6.0)
    seventy = training_estimate(
        find_model(CAT, "local/llama-3.1-70b-instruct"), billing_tokens_per_epoch=500_000, n_examples=1000, epochs=3
    )
    # 1.5M tokens at torchtune's 3,497 tokens/s on 8 GPUs (0.119 h) + 2 h, x 8 GPUs x $1.8.
    assert seventy.training_usd == pytest.approx((1_500_000 / 3497 / 3600 + 2) * 8 * 1.8)
    with pytest.raises(InputError, match="per token"):
        training_estimate(find_model(CAT, "gpt-4o-mini"), billing_tokens_per_epoch=1000, n_examples=10, hours=5)
    with pytest.raises(InputError, match="--hours"):
        training_estimate(find_model(CAT, "o4-mini"))


def test_scenario_prices_prompting_against_hosted_fine_tune_with_lifetime() -> None:
    base, ft = find_model(CAT, "gpt-4o"), find_model(CAT, "gpt-4o-mini")
    s = Scenario(prompt_tokens=2300, input_tokens=200, output_tokens=150)
    inp = scenario_input(base, ft, s, train_cost=50, requests_per_day=1000, today=TODAY)
    assert inp.prompt_cost == pytest.approx((2500 * 2.5 + 150 * 10) / 1e6)
    assert inp.ft_cost == pytest.approx((200 * 0.3 + 150 * 1.2) / 1e6)
    assert inp.lifetime_days == 52 and inp.hosting_per_month == 0
    local = scenario_input(
        base, find_model(CAT, "local/llama-3.1-8b-instruct"), s, train_cost=5, requests_per_day=1000, today=TODAY
    )
    # 1,000 requests/day x 350 tokens x 3 (peak) / 86,400 s = 12 tokens/s: one GPU, all month.
    assert local.ft_cost == 0 and local.hosting_per_month == pytest.approx(1.2 * 24 * 365.25 / 12)
    assert local.lifetime_days is None


# --- the decision tree -----------------------------------------------------------------------------------------

HOSTED = FineTuneOption(kind="hosted", model="gpt-4.1-mini-2025-04-14", setup_usd=50, lifetime_days=52)
LOCAL = FineTuneOption(kind="local", model="local/llama-3.1-8b-instruct", setup_usd=30)


def test_step1_prompting_good_enough() -> None:
    r = advise(Answers(task_type="general", prompt_compliance=0.97, labelled_examples=500))
    assert r.choice == "prompt"


def test_step2_too_few_examples_means_few_shot() -> None:
    r = advise(Answers(task_type="format", prompt_compliance=0.7, labelled_examples=20))
    assert r.choice == "few-shot" and any("50" in x for x in r.reasons)


def test_step3_unstable_behaviour_is_not_fine_tuned() -> None:
    r = advise(Answers(task_type="format", prompt_compliance=0.7, labelled_examples=300, behaviour_changes="weekly"))
    assert r.choice == "few-shot"


def test_all_steps_pass_means_fine_tune() -> None:
    r = advise(
        Answers(task_type="classification", prompt_compliance=0.85, labelled_examples=300, hosted=HOSTED, local=LOCAL)
    )
    assert r.choice == "fine-tune-hosted" and r.model == HOSTED.model
    assert r.numbers["examples_needed_min"] == 100 and r.numbers["examples_needed_max"] == 500
    assert any("stops answering in 52 days" in x for x in r.risks)


def test_knowledge_goes_to_rag_and_behaviour_plus_knowledge_to_both() -> None:
    assert advise(Answers(task_type="knowledge", facts_change="monthly")).choice == "rag"
    both = advise(Answers(task_type="knowledge", facts_change="monthly", prompt_compliance=0.7, labelled_examples=400))
    assert both.choice == "rag+fine-tune"


def test_data_that_must_stay_goes_local() -> None:
    r = advise(Answers(task_type="format", prompt_compliance=0.6, labelled_examples=200, data_may_leave=False))
    assert r.choice == "fine-tune-local"


def test_hosted_fine_tune_that_cannot_pay_back_before_shutdown_points_local() -> None:
    r = advise(
        Answers(
            task_type="format",
            prompt_compliance=0.6,
            labelled_examples=200,
            hosted=HOSTED.model_copy(update={"priced": True, "break_even_days": 180}),
            local=LOCAL.model_copy(update={"priced": True, "break_even_days": 30}),
        )
    )
    assert r.choice == "fine-tune-local"
    assert any("cannot pay back" in x for x in r.reasons)
    assert any("local fine-tune of local/llama-3.1-8b-instruct costs $30.00" in x for x in r.reasons)


def test_platform_closed_points_local() -> None:
    closed = HOSTED.model_copy(update={"can_create_job": False, "availability": ["takes no new jobs"]})
    r = advise(Answers(task_type="format", prompt_compliance=0.6, labelled_examples=200, hosted=closed, local=LOCAL))
    assert r.choice == "fine-tune-local"


def test_over_budget_stays_with_few_shot() -> None:
    r = advise(
        Answers(
            task_type="format",
            prompt_compliance=0.6,
            labelled_examples=200,
            setup_budget=100,
            hosted=HOSTED.model_copy(update={"setup_usd": 2050}),
            local=LOCAL.model_copy(update={"setup_usd": 2010}),
        )
    )
    assert r.choice == "few-shot" and any("budget" in x for x in r.reasons)


def test_cheap_fine_tune_beats_a_compliant_but_long_prompt() -> None:
    r = advise(
        Answers(
            task_type="format",
            prompt_compliance=0.97,
            labelled_examples=200,
            hosted=HOSTED.model_copy(update={"priced": True, "break_even_days": 5}),
        )
    )
    assert r.choice == "fine-tune-hosted"


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        # The seeds' table "Real Examples: Prompt vs Fine-Tune".
        ({"task_type": "general", "prompt_compliance": 0.97}, {"prompt"}),  # answer general questions
        (
            {"task_type": "classification", "labelled_examples": 200, "prompt_compliance": 0.9},
            {"few-shot", "fine-tune-hosted"},
        ),
        ({"task_type": "vocabulary", "labelled_examples": 800, "prompt_compliance": 0.8}, {"fine-tune-hosted"}),
        (
            {"task_type": "format", "labelled_examples": 300, "prompt_compliance": 0.7},
            {"fine-tune-hosted"},
        ),  # brand voice
        (
            {"task_type": "general", "labelled_examples": 0, "prompt_compliance": 0.96},
            {"prompt"},
        ),  # one-off translation
        ({"task_type": "knowledge", "facts_change": "monthly"}, {"rag"}),  # summarise documents you wrote
        ({"task_type": "knowledge", "facts_change": "daily", "labelled_examples": 500}, {"rag"}),  # your codebase
    ],
)
def test_seed_examples(answers: dict, expected: set[str]) -> None:
    assert advise(Answers(**answers)).choice in expected


# --- CLI -------------------------------------------------------------------------------------------------------


def test_breakeven_cli_json_keys_and_plot(run_cli, tmp_path: Path) -> None:
    png = tmp_path / "be.png"
    r = run_cli(
        "cost",
        "breakeven",
        "--train-cost",
        "500",
        "--prompt-cost",
        "0.02",
        "--ft-cost",
        "0.005",
        "--requests-per-day",
        "1000",
        "--lifetime-days",
        "20",
        "--json",
        "--plot",
        png,
    )
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert data["break_even_requests"] == 33334 and data["pays_back_before_shutdown"] is False
    assert data["break_even_days"] == pytest.approx(33.333, abs=0.01)
    assert data["per_request_savings_usd"] == pytest.approx(0.015)
    assert len(data["sensitivity"]["break_even_days"]) == 5
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_breakeven_cli_derives_costs_and_warns_about_shutdown(run_cli) -> None:
    r = run_cli(
        "cost",
        "breakeven",
        "--base-model",
        "gpt-4o",
        "--ft-model",
        "gpt-4o-mini",
        "--prompt-tokens",
        "2300",
        "--input-tokens",
        "200",
        "--output-tokens",
        "150",
        "--train-cost",
        "50",
        "--data-cost",
        "2000",
        "--requests-per-day",
        "1000",
        "--as-of",
        "2026-11-23",
        "--json",
    )
    data = json.loads(r.stdout)
    assert data["pays_back_before_shutdown"] is False  # ~273 days needed, the base shuts down 2027-01-14
    assert data["lifetime_days"] == 52 and data["inputs"]["as_of"] == "2026-11-23"
    assert data["ft_model"]["can_create_job"] is None  # depends on --org-history
    assert "cannot" in r.stderr or "no longer create" in r.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["cost", "breakeven", "--train-cost", "50"],
        ["cost", "breakeven", "--base-model", "nope-model", "--prompt-tokens", "10", "--train-cost", "1"],
        ["cost", "overhead", "--model", "gpt-4o", "--system-prompt", "/no/such/file"],
        ["cost", "breakeven", "--train-cost", "1", "--prompt-cost", "1", "--ft-cost", "0", "--hosting-per-month", "5"],
        ["lora", "params", "--config", "/no/such/config.json"],
        ["advise", "--answers", "/no/such.yaml"],
        ["prices", "show", "llama-9"],
    ],
)
def test_bad_input_is_one_line_exit_2(run_cli, args: list[str]) -> None:
    r = run_cli(*args)
    assert r.exit_code == 2, r.output
    assert "Traceback" not in r.output


def test_advise_answers_file(run_cli, tmp_path: Path) -> None:
    f = tmp_path / "case.yaml"
    f.write_text("task_type: classification\nlabelled_examples: 300\nprompt_compliance: 0.85\ndata_may_leave: false\n")
    r = run_cli("advise", "--answers", f, "--json")
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["recommendation"]["choice"] == "fine-tune-local"
    bad = tmp_path / "bad.yaml"
    bad.write_text("task_type: poetry\n")
    r = run_cli("advise", "--answers", bad)
    assert r.exit_code == 2 and "task_type" in r.output


def test_advisor_commands_do_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, ftadvisor.cli; from ftadvisor.advisor import breakeven, decision, lora, costs; "
        "print(any(m in sys.modules for m in ('torch', 'transformers', 'pandas')))"
    )
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "False"


def test_stale_catalogue_warns(run_cli, tmp_path: Path) -> None:
    old = tmp_path / "old.json"
    old.write_text(json.dumps({"as_of": "2026-01-01", "models": []}))
    r = run_cli("prices", "list", "--prices", old)
    assert r.exit_code == 0
    assert "days old" in r.stderr
    fresh = run_cli("prices", "list")
    assert "days old" not in fresh.stderr


def test_local_fine_tune_that_never_pays_back_says_why_it_is_still_chosen() -> None:
    r = advise(
        Answers(
            task_type="format",
            prompt_compliance=0.8,
            labelled_examples=176,
            requests_per_day=2000,
            hosted=HOSTED.model_copy(update={"priced": True, "break_even_days": 150}),
            local=LOCAL.model_copy(update={"priced": True, "setup_usd": 528, "monthly_usd": 876.6, "gpus": 1}),
        )
    )
    assert r.choice == "fine-tune-local"
    assert any("never pays back on cost alone" in x for x in r.reasons)
