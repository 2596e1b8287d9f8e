"""The advice rules that flip decisions, each pinned on hand-computed figures: prompt caching, who may still
create a hosted job, data cost and budgets, facts vs behaviour, the smaller-model baseline, retraining and
self-hosted GPU fleets."""

from __future__ import annotations

import datetime as dt
import json
import math

import pytest

from ftadvisor.advisor.availability import availability
from ftadvisor.advisor.caching import Caching, cached_prefix_tokens, derived_hit_rate
from ftadvisor.advisor.costs import find_model
from ftadvisor.advisor.decision import Answers, FineTuneOption, advise
from ftadvisor.advisor.economics import EconomicsInput, compare, decide
from ftadvisor.advisor.scenario import Scenario, ft_request_cost, prompt_request_cost, serving_fleet
from ftadvisor.pricing import load_catalogue

CAT = load_catalogue(use_user_file=False)
TODAY = dt.date(2026, 11, 23)
GPT41 = find_model(CAT, "gpt-4.1")


# --- prompt caching (OpenAI prompt-caching guide: 1,024-token minimum, 128-token steps) ------------------------


@pytest.mark.parametrize(
    ("prefix", "cached"),
    [(0, 0), (1023, 0), (1024, 1024), (1151, 1024), (1152, 1152), (1279, 1152), (2300, 2176), (10_000, 9984)],
)
def test_cache_hits_in_128_token_steps_from_1024(prefix: int, cached: int) -> None:
    assert cached_prefix_tokens(prefix) == cached


def test_hit_rate_from_volume_and_a_five_minute_lifetime() -> None:
    assert derived_hit_rate(1000) == pytest.approx(1 - math.exp(-1000 / 1440 * 5))  # 0.969
    assert derived_hit_rate(100) == pytest.approx(0.293, abs=1e-3)
    assert derived_hit_rate(None) == 1.0
    assert Caching(enabled=False).rate(1000) == 0.0
    assert Caching(hit_rate=0.4).rate(1000) == 0.4


def test_cached_prompt_cost_by_hand() -> None:
    s = Scenario(prompt_tokens=2300, input_tokens=200, output_tokens=200, cache_hit_rate=0.5)
    full = (2500 * 2.0 + 200 * 8.0) / 1e6  # $0.0066
    hit = ((2500 - 2176) * 2.0 + 2176 * 0.5 + 200 * 8.0) / 1e6  # 2,176 tokens at the cached $0.50
    assert prompt_request_cost(GPT41, s) == pytest.approx(0.5 * full + 0.5 * hit)


def test_short_prompts_are_never_cached() -> None:
    s = Scenario(prompt_tokens=500, input_tokens=200, output_tokens=200, cache_hit_rate=1.0)
    assert prompt_request_cost(GPT41, s) == pytest.approx((700 * 2.0 + 200 * 8.0) / 1e6)


def test_both_sides_follow_the_same_rules() -> None:
    """A fine-tune that still sends a long prefix gets the fine-tuned model's cached price on it."""
    s = Scenario(prompt_tokens=3000, ft_prompt_tokens=1200, input_tokens=100, output_tokens=100, cache_hit_rate=1.0)
    assert ft_request_cost(GPT41, s) == pytest.approx(((1300 - 1152) * 3.0 + 1152 * 0.75 + 100 * 12.0) / 1e6)


def test_caching_flips_the_gpt41_verdict(run_cli, tmp_path) -> None:
    """The audit's I7 case: uncached it pays back in 5.6 days; with 97 % of requests hitting, in 45.7."""
    args = [
        "cost",
        "breakeven",
        "--base-model",
        "gpt-4.1",
        "--prompt-tokens",
        "2300",
        "--input-tokens",
        "200",
        "--output-tokens",
        "200",
        "--train-cost",
        "20",
        "--requests-per-day",
        "1000",
        "--as-of",
        "2026-11-23",
        "--json",
    ]
    off = json.loads(run_cli(*args, "--no-cache").stdout)
    on = json.loads(run_cli(*args).stdout)
    assert off["break_even_days"] == pytest.approx(20 / (0.0066 - 0.003) / 1000, rel=1e-6)
    h = derived_hit_rate(1000)
    prompt = (1 - h) * 0.0066 + h * 0.003336
    assert on["inputs"]["prompt_cost"] == pytest.approx(prompt)
    assert on["break_even_days"] == pytest.approx(20 / (prompt - 0.003) / 1000, rel=1e-6)
    assert on["inputs"]["cache_hit_rate"] == pytest.approx(h)
    assert any("97% of requests hit" in a for a in on["assumptions"])
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("You are a careful assistant. " * 40)  # about 240 tokens
    uncacheable = json.loads(
        run_cli("cost", "overhead", "--model", "gpt-4o", "--system-prompt", prompt, "--json").stdout
    )
    assert uncacheable["cacheable_tokens"] == 0
    long = tmp_path / "long.txt"
    long.write_text("You are a careful assistant. " * 400)  # about 2,400 tokens
    cached = json.loads(
        run_cli(
            "cost", "overhead", "--model", "gpt-4o", "--system-prompt", long, "--requests-per-day", "1000", "--json"
        ).stdout
    )
    n = cached["tokens"]
    assert cached["cacheable_tokens"] == 1024 + (n - 1024) // 128 * 128
    hit = ((n - cached["cacheable_tokens"]) * 2.5 + cached["cacheable_tokens"] * 1.25) / 1e6
    assert cached["usd_per_request"] == pytest.approx((1 - h) * n * 2.5 / 1e6 + h * hit)


# --- who may still create a job (OpenAI, 2026-05-07 notice) ------------------------------------------------------


@pytest.mark.parametrize(
    ("history", "day", "can"),
    [
        ("never", dt.date(2026, 5, 6), True),
        ("never", dt.date(2026, 5, 7), False),
        ("inactive", dt.date(2026, 7, 1), True),
        ("inactive", dt.date(2026, 7, 2), False),
        ("active", dt.date(2027, 1, 5), True),
        ("active", dt.date(2027, 1, 6), False),  # nobody from the job cut-off
        ("unknown", dt.date(2026, 11, 23), None),
        ("unknown", dt.date(2026, 5, 1), True),  # before any stage, history does not matter
    ],
)
def test_eligibility_stages(history: str, day: dt.date, can: bool | None) -> None:
    av = availability(find_model(CAT, "gpt-4.1-mini"), CAT, today=day, org_history=history)  # type: ignore[arg-type]
    assert av.can_create_job is can


def test_retired_models_are_marked(run_cli) -> None:
    for model in ("gpt-4.1-nano", "o4-mini", "gpt-3.5-turbo", "davinci-002"):
        av = availability(find_model(CAT, model), CAT, today=TODAY, org_history="active")
        assert av.retired and av.can_create_job is False
    r = run_cli(
        "cost",
        "training",
        "--model",
        "gpt-3.5-turbo",
        "--tokens",
        "100000",
        "--examples",
        "100",
        "--epochs",
        "3",
        "--cost-per-example",
        "0",
        "--json",
    )
    data = json.loads(r.stdout)
    assert data["retired"] is True and data["past_job_cutoff"] is True and data["training_usd"] == pytest.approx(2.4)
    assert "shut down on 2026-10-23" in r.stderr


def test_catalogue_corrections() -> None:
    davinci = find_model(CAT, "davinci-002")
    assert davinci.base_shutdown == dt.date(2026, 9, 28) and davinci.shutdown == dt.date(2026, 10, 23)
    assert find_model(CAT, "gpt-3.5-turbo-0613").max_example_tokens == 4096
    gpt4 = find_model(CAT, "gpt-4-0613")
    assert gpt4.is_retired(TODAY) and gpt4.max_example_tokens == 8192


def test_advise_never_recommends_a_hosted_job_the_org_cannot_create() -> None:
    base = dict(task_type="format", prompt_compliance=0.8, labelled_examples=300)
    inp = EconomicsInput(examples=300, cost_per_example=1, serverless_model=None)
    for history in ("never", "inactive", "unknown"):
        d = decide(CAT, Answers(**base), inp.model_copy(update={"org_history": history}), today=TODAY)
        assert d.recommendation.choice == "fine-tune-local", history
        # with the per-token open road priced too, the fine-tune goes there, never to the closed OpenAI job
        d = decide(
            CAT, Answers(**base), EconomicsInput(examples=300, cost_per_example=1, org_history=history), today=TODAY
        )
        assert d.recommendation.model == "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference", history
    d = decide(CAT, Answers(**base), inp.model_copy(update={"org_history": "active"}), today=TODAY)
    assert d.recommendation.choice == "fine-tune-hosted"
    after = decide(CAT, Answers(**base), inp.model_copy(update={"org_history": "active"}), today=dt.date(2027, 1, 6))
    assert after.recommendation.choice == "fine-tune-local"


# --- data cost and budget -----------------------------------------------------------------------------------------


def test_data_cost_is_never_silently_zero() -> None:
    e = compare(CAT, EconomicsInput(examples=500), today=TODAY)
    hosted = e.option("hosted")
    assert hosted is not None and hosted.training.data_usd == 500 * 4.0 and e.data_cost_assumed
    assert any("$4/example" in a for a in e.assumptions)


def test_verdict_shown_across_the_data_cost_range() -> None:
    """The audit's I9 case: free data recommends a fine-tune, $4/example does not fit the $500 budget."""
    a = Answers(
        task_type="format",
        labelled_examples=200,
        requests_per_day=5000,
        setup_budget=500,
        required_compliance=0.9,
        prompt_compliance=0.85,
    )
    d = decide(
        CAT,
        a,
        EconomicsInput(
            prompted_model="gpt-4o", prompt_tokens=1500, examples=200, requests_per_day=5000, org_history="active"
        ),
        today=TODAY,
    )
    assert d.data_cost_sensitivity["$0/example"].startswith("fine-tune")
    assert d.data_cost_sensitivity["$4/example"] == "few-shot"  # $800 of data exceeds the budget
    assert d.recommendation.choice == "few-shot"


def test_budget_is_a_hard_limit_and_reasons_quote_the_chosen_option() -> None:
    """The audit's F9 case: hosted setup $150 > $100 budget, local $0.67: recommend local, with local's figures."""
    a = Answers(
        task_type="format",
        labelled_examples=2000,
        prompt_compliance=0.8,
        setup_budget=100,
        requests_per_day=20_000,
        hosted=FineTuneOption(
            kind="hosted", model="gpt-4.1", setup_usd=150, priced=True, break_even_days=2.5, lifetime_days=52
        ),
        local=FineTuneOption(
            kind="local", model="local/llama-3.1-8b-instruct", setup_usd=0.67, priced=True, break_even_days=0.1
        ),
    )
    r = advise(a)
    assert r.choice == "fine-tune-local"
    assert any("$150.00) exceeds the $100.00 budget" in x for x in r.reasons)
    assert any("local fine-tune of local/llama-3.1-8b-instruct costs $0.67" in x for x in r.reasons)
    assert not any("2.5 days" in x for x in r.reasons)


# --- facts vs behaviour -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        ({"facts_change": "daily", "prompt_compliance": 0.8, "labelled_examples": 500}, "rag+fine-tune"),  # audit F5
        ({"facts_change": "daily", "prompt_compliance": 0.97, "labelled_examples": 500}, "rag"),
        ({"facts_change": "daily"}, "rag"),
        ({"behaviour_changes": "weekly", "prompt_compliance": 0.8, "labelled_examples": 200}, "few-shot"),  # audit F2
        ({"behaviour_changes": "daily", "prompt_compliance": 0.97, "labelled_examples": 200}, "prompt"),
        ({"behaviour_changes": "monthly", "prompt_compliance": 0.8, "labelled_examples": 200}, "fine-tune-hosted"),
        (
            {
                "facts_change": "weekly",
                "behaviour_changes": "weekly",
                "prompt_compliance": 0.8,
                "labelled_examples": 500,
            },
            "rag",
        ),
    ],
)
def test_facts_and_behaviour_table(answers: dict, expected: str) -> None:
    assert advise(Answers(task_type="format", **answers)).choice == expected


def test_retraining_cadence_is_priced() -> None:
    e = compare(
        CAT,
        EconomicsInput(
            prompted_model="gpt-4.1",
            prompt_tokens=2000,
            examples=200,
            requests_per_day=1000,
            behaviour_changes="monthly",
            cost_per_example=0,
        ),
        today=TODAY,
    )
    hosted = e.option("hosted")
    assert hosted is not None and hosted.retrains_per_year == 12
    assert hosted.retraining_per_month == pytest.approx(hosted.training.training_usd)  # 12 a year = 1 a month
    assert hosted.inputs is not None
    assert hosted.inputs.retraining_per_month == pytest.approx(hosted.training.training_usd)


def test_deprecated_knowledge_changes_is_an_alias_with_a_warning(run_cli) -> None:
    r = run_cli(
        "advise",
        "--task-type",
        "format",
        "--examples",
        "200",
        "--prompt-compliance",
        "0.8",
        "--knowledge-changes",
        "weekly",
        "--json",
    )
    assert r.exit_code == 0, r.output
    assert "deprecated" in r.stderr
    assert json.loads(r.stdout)["recommendation"]["choice"] == "rag+fine-tune"


# --- the smaller model and self-hosted fleets ---------------------------------------------------------------------


def test_smaller_model_baseline() -> None:
    """The audit's I13 case: prompting gpt-4.1-mini with the cached long prompt beats its fine-tune per request."""
    e = compare(
        CAT,
        EconomicsInput(
            prompted_model="gpt-4.1",
            prompt_tokens=2000,
            input_tokens=200,
            output_tokens=200,
            examples=200,
            requests_per_day=5000,
        ),
        today=TODAY,
    )
    assert e.small_prompt is not None and e.small_prompt.model == "gpt-4.1-mini-2025-04-14"
    h = derived_hit_rate(5000)
    mini = find_model(CAT, "gpt-4.1-mini")
    full = (2200 * 0.4 + 200 * 1.6) / 1e6
    hit = ((2200 - 1920) * 0.4 + 1920 * 0.1 + 200 * 1.6) / 1e6
    assert e.small_prompt.per_request_usd == pytest.approx((1 - h) * full + h * hit)
    ft = ft_request_cost(mini, Scenario(prompt_tokens=2000, input_tokens=200, output_tokens=200))
    assert e.small_prompt.per_request_usd < ft
    r = advise(
        Answers(
            task_type="format",
            labelled_examples=200,
            prompt_compliance=0.8,
            small_model_compliance=0.96,
            small_prompt=e.small_prompt,
        )
    )
    assert r.choice == "prompt" and r.model == "gpt-4.1-mini-2025-04-14"


@pytest.mark.parametrize(
    ("model", "requests_per_day", "gpus"),
    [
        # 350 tokens per request, peak 3x the average; one 8B replica serves 1,500 tokens/s on one GPU.
        ("local/llama-3.1-8b-instruct", 1_000, 1),  # 12 tokens/s at peak
        ("local/llama-3.1-8b-instruct", 500_000, 5),  # 6,076 tokens/s -> ceil(4.05)
        ("local/llama-3.1-8b-instruct", 2_000_000, 17),  # 24,306 tokens/s -> ceil(16.2)
        ("local/llama-3.1-70b-instruct", 100_000, 4),  # one 4-GPU replica (2,500 tokens/s)
        ("local/llama-3.1-70b-instruct", 500_000, 12),  # 6,076 / 2,500 -> 3 replicas x 4 GPUs
    ],
)
def test_gpu_fleet_scales_with_volume(model: str, requests_per_day: float, gpus: int) -> None:
    entry = find_model(CAT, model)
    fleet = serving_fleet(entry, Scenario(prompt_tokens=0, input_tokens=200, output_tokens=150), requests_per_day)
    assert fleet is not None and fleet.gpus == gpus
    assert fleet.usd_per_month == pytest.approx(gpus * (entry.gpu_per_hour or 0) * 24 * 365.25 / 12)
    own = serving_fleet(
        entry, Scenario(prompt_tokens=0, input_tokens=200, output_tokens=150), requests_per_day, own_hardware=True
    )
    assert own is not None and own.usd_per_month == 0 and own.gpus == gpus


def test_as_of_is_echoed_and_reproduces_an_estimate(run_cli) -> None:
    args = [
        "advise",
        "--task-type",
        "format",
        "--examples",
        "300",
        "--prompt-compliance",
        "0.8",
        "--org-history",
        "active",
        "--json",
    ]
    before = json.loads(run_cli(*args, "--as-of", "2026-12-01").stdout)
    after = json.loads(run_cli(*args, "--as-of", "2027-01-07").stdout)
    assert before["as_of"] == "2026-12-01" and before["recommendation"]["choice"] == "fine-tune-hosted"
    assert before["recommendation"]["model"] == "gpt-4.1-mini-2025-04-14"
    # past OpenAI's job cut-off the fine-tune goes to the per-token open road instead
    assert after["recommendation"]["model"] == "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"
    stale = run_cli("prices", "list", "--as-of", "2027-06-01")
    assert "days old" in stale.stderr


def test_rag_answer_is_priced() -> None:
    """The audit's I14: retrieved context is paid on every request (500 static + 200 own + 1,500 retrieved)."""
    d = decide(
        CAT,
        Answers(task_type="knowledge", facts_change="daily"),
        EconomicsInput(
            prompted_model="gpt-4.1",
            prompt_tokens=500,
            input_tokens=200,
            output_tokens=200,
            rag_tokens=1500,
            requests_per_day=1000,
        ),
        today=TODAY,
    )
    assert d.recommendation.choice == "rag"
    assert d.recommendation.numbers["rag_usd_per_request"] == pytest.approx((2200 * 2.0 + 200 * 8.0) / 1e6)


def test_a_compliant_smaller_model_beats_a_fine_tune_that_only_beats_the_big_one() -> None:
    from ftadvisor.advisor.decision import SmallPrompt

    hosted = FineTuneOption(
        kind="hosted",
        model="gpt-4.1-mini-2025-04-14",
        setup_usd=50,
        priced=True,
        break_even_days=10,
        lifetime_days=52,
        per_request_usd=0.0008,
    )
    small = SmallPrompt(model="gpt-4.1-mini-2025-04-14", per_request_usd=0.0006)
    r = advise(
        Answers(
            task_type="format",
            labelled_examples=200,
            prompt_compliance=0.8,
            small_model_compliance=0.97,
            hosted=hosted,
            small_prompt=small,
        )
    )
    assert r.choice == "prompt" and r.model == "gpt-4.1-mini-2025-04-14"
    cheaper = hosted.model_copy(update={"per_request_usd": 0.0004})
    r = advise(
        Answers(
            task_type="format",
            labelled_examples=200,
            prompt_compliance=0.8,
            small_model_compliance=0.97,
            hosted=cheaper,
            small_prompt=small,
        )
    )
    assert r.choice == "fine-tune-hosted"
