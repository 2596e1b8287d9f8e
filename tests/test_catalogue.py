"""The catalogue is keyed by (provider, model): a price file overlays exactly the rows it names; Azure's
bridge is open to existing customers until April 2027; every command agrees on what a file changes."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from ftadvisor.advisor.availability import availability
from ftadvisor.pricing import load_catalogue

TODAY = dt.date(2026, 12, 4)
AS_OF = ("--as-of", "2026-12-04")
SAMPLE = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "support_tickets.jsonl"


def _rows(cat) -> dict[tuple[str, str], dict]:
    return {(m.provider, m.id): m.model_dump(mode="json") for m in cat.models}


@pytest.fixture
def empty(tmp_path: Path) -> Path:
    p = tmp_path / "empty.json"
    p.write_text('{"models": []}')
    return p


def test_an_empty_price_file_changes_no_row(empty: Path) -> None:
    assert _rows(load_catalogue(empty, use_user_file=False)) == _rows(load_catalogue(use_user_file=False))


@pytest.mark.parametrize(
    ("row", "changed"),
    [
        ({"id": "gpt-4o-mini-2024-07-18", "training_per_1m": 2.5}, ("openai", "gpt-4o-mini-2024-07-18")),
        (
            {"provider": "azure", "id": "gpt-4o-mini-2024-07-18", "training_per_1m": 2.5},
            ("azure", "gpt-4o-mini-2024-07-18"),
        ),
    ],
)
def test_a_one_row_file_changes_that_row_only(tmp_path: Path, row: dict, changed: tuple[str, str]) -> None:
    p = tmp_path / "one.json"
    p.write_text(json.dumps({"models": [row]}))
    before, after = _rows(load_catalogue(use_user_file=False)), _rows(load_catalogue(p, use_user_file=False))
    assert before.keys() == after.keys()
    assert [k for k in before if before[k] != after[k]] == [changed]
    assert after[changed]["training_per_1m"] == 2.5
    assert after[changed]["ft_input"] == before[changed]["ft_input"]  # fields it does not name are kept


def test_aliases_resolve_within_a_provider() -> None:
    cat = load_catalogue(use_user_file=False)
    assert cat.find("gpt-4.1-mini").provider == "openai"
    assert cat.find("azure/gpt-4.1-mini").provider == "azure"
    assert cat.find("gpt-4.1-mini", provider="azure").provider == "azure"
    assert cat.find("azure/gpt-4o-mini").methods == ["supervised"]  # Azure's table: gpt-4o-mini is SFT only
    assert cat.find("meta-llama/Meta-Llama-3.1-8B-Instruct-Reference").provider == "together"


@pytest.mark.parametrize(
    "args",
    [
        ["prices", "list", "--json"],
        ["prices", "show", "gpt-4o-mini", "--json"],
        ["prices", "show", "azure/gpt-4.1-mini", "--json"],
        ["cost", "training", "--model", "gpt-4o-mini", "--tokens", "250000", "--examples", "500", "--json"],
        [
            *("cost", "breakeven", "--base-model", "gpt-4o", "--ft-model", "gpt-4o-mini", "--prompt-tokens", "2300"),
            *("--ft-prompt-tokens", "50", "--train-cost", "50", "--requests-per-day", "1000", "--no-cache", "--json"),
        ],
        [
            *("advise", "--task-type", "format", "--examples", "800", "--prompt-compliance", "0.75"),
            *("--requests-per-day", "20000", "--base-model", "gpt-4.1", "--prompt-tokens", "2500"),
            *("--org-history", "active", "--cost-per-example", "2", "--json"),
        ],
    ],
    ids=["prices-list", "prices-show", "prices-show-azure", "cost-training", "cost-breakeven", "advise"],
)
def test_every_command_gives_the_same_figures_with_an_empty_or_unrelated_price_file(
    run_cli, tmp_path: Path, empty: Path, args: list[str]
) -> None:
    unrelated = tmp_path / "unrelated.json"
    unrelated.write_text(json.dumps({"models": [{"id": "acme-7b", "provider": "self-hosted", "gpu_per_hour": 2}]}))
    plain = run_cli(*args, *AS_OF)
    assert plain.exit_code == 0, plain.output
    for f in (empty, unrelated):
        r = run_cli(*args, *AS_OF, "--prices", f)
        assert r.exit_code == 0, r.output
        a, b = json.loads(plain.stdout), json.loads(r.stdout)
        if args[:2] == ["prices", "list"]:  # the unrelated row is the one addition
            b["models"] = [m for m in b["models"] if m["id"] != "acme-7b"]
        assert a == b


def test_the_x11_case_pays_back_with_or_without_a_price_file(run_cli, empty: Path) -> None:
    args = [
        *("cost", "breakeven", "--base-model", "gpt-4o", "--ft-model", "gpt-4o-mini", "--prompt-tokens", "2300"),
        *("--ft-prompt-tokens", "50", "--train-cost", "50", "--requests-per-day", "1000", "--no-cache", *AS_OF),
    ]
    for extra in ([], ["--prices", str(empty)]):
        r = run_cli(*args, *extra)
        assert "pays back after 8,719 requests" in r.stdout, r.output
        assert "hosting" not in r.stdout  # OpenAI bills no hosting; Azure's $1.70/h must not leak in


@pytest.mark.parametrize(
    ("customer", "can", "cutoff"),
    [("existing", True, None), ("new", False, "training ended on 2026-10-14"), ("unknown", None, "--azure-customer")],
)
def test_the_azure_bridge_is_open_to_existing_customers(customer: str, can: bool | None, cutoff: str | None) -> None:
    cat = load_catalogue(use_user_file=False)
    entry = cat.find("azure/gpt-4.1-mini")
    av = availability(entry, cat, today=TODAY, customer=customer)  # type: ignore[arg-type]
    assert av.can_create_job is can
    assert (entry.job_cutoff, entry.shutdown) == (dt.date(2027, 4, 14), dt.date(2027, 10, 14))
    if cutoff:
        assert cutoff in "; ".join(av.reasons)
    # after the existing customers' cut-off nobody trains, and after the deployment retirement nothing answers
    assert availability(entry, cat, today=dt.date(2027, 4, 14), customer="existing").can_create_job is False
    assert availability(entry, cat, today=dt.date(2027, 10, 14), customer="existing").retired


def test_train_plans_the_azure_bridge_for_an_existing_customer_and_refuses_a_new_one(run_cli) -> None:
    args = ["train", SAMPLE, "--backend", "azure", "--model", "gpt-4.1-mini-2025-04-14", "--dry-run", *AS_OF]
    ok = run_cli(*args, "--azure-customer", "existing")
    assert ok.exit_code == 0, ok.output
    assert "bridge" in ok.output and "2027-10-14" in ok.output
    new = run_cli(*args, "--azure-customer", "new")
    assert new.exit_code != 0 and "existing customers only" in new.output and "nothing was uploaded" in new.output
    unknown = run_cli(*args)
    assert unknown.exit_code != 0 and "--azure-customer existing" in unknown.output


def test_breakeven_gives_no_verdict_for_a_fine_tune_that_cannot_be_created(run_cli) -> None:
    args = [
        *("cost", "breakeven", "--base-model", "gpt-4.1", "--ft-model", "azure/gpt-4.1-mini", "--prompt-tokens"),
        *("2300", "--input-tokens", "200", "--output-tokens", "200", "--train-cost", "20"),
        *("--requests-per-day", "20000", *AS_OF),
    ]
    new = run_cli(*args, "--azure-customer", "new", "--json")
    assert new.exit_code == 0, new.output
    data = json.loads(new.stdout)
    assert data["ft_model"]["can_create_job"] is False
    assert data["verdict"].startswith("no verdict") and data["pays_back_before_shutdown"] is None
    existing = json.loads(run_cli(*args, "--azure-customer", "existing", "--json").stdout)
    assert existing["pays_back_before_shutdown"] is True and existing["lifetime_days"] == 314


def test_conflicting_cost_inputs_are_refused(run_cli) -> None:
    r = run_cli(
        *("cost", "breakeven", "--base-model", "gpt-4.1", "--prompt-tokens", "2000", "--prompt-cost", "0.5"),
        *("--ft-cost", "0.0001", "--train-cost", "5", "--requests-per-day", "1000", *AS_OF),
    )
    assert r.exit_code == 2 and "conflict with --base-model" in r.output


def test_a_prompted_fine_tune_is_priced_at_its_fine_tuned_rates(run_cli) -> None:
    def prompt_cost(model: str) -> float:
        r = run_cli(
            *("cost", "breakeven", "--base-model", model, "--prompt-tokens", "2000", "--train-cost", "5"),
            *("--requests-per-day", "100", "--no-cache", "--org-history", "active", "--json", *AS_OF),
        )
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)["inputs"]["prompt_cost"]

    assert prompt_cost("gpt-4.1-mini-2025-04-14") == pytest.approx(2000 * 0.4 / 1e6)
    assert prompt_cost("ft:gpt-4.1-mini-2025-04-14:acme:x:abc") == pytest.approx(2000 * 0.8 / 1e6)


def test_training_tokens_are_capped_at_the_per_example_limit(run_cli) -> None:
    args = ["cost", "training", "--model", "gpt-4.1-mini", "--examples", "100", "--epochs", "3"]
    r = run_cli(*args, "--tokens", "100000000", "--cost-per-example", "0", "--json", *AS_OF)
    data = json.loads(r.stdout)
    assert data["billed_tokens"] == 100 * 65_536 * 3  # OpenAI truncates each example at 65,536 tokens
    assert data["training_usd"] == pytest.approx(100 * 65_536 * 3 * 5 / 1e6)
    under = json.loads(run_cli(*args, "--tokens", "250000", "--cost-per-example", "0", "--json", *AS_OF).stdout)
    assert under["billed_tokens"] == 750_000  # below the limit nothing changes


def test_together_fine_tunes_are_hosted_per_token_only_on_serverless_bases(run_cli) -> None:
    def breakeven(model: str) -> dict:
        r = run_cli(
            *("cost", "breakeven", "--base-model", "gpt-4.1", "--ft-model", model, "--prompt-tokens", "2300"),
            *("--input-tokens", "200", "--output-tokens", "200", "--train-cost", "2", "--requests-per-day", "20000"),
            *("--json", *AS_OF),
        )
        assert r.exit_code == 0, r.output
        return json.loads(r.stdout)

    serverless = breakeven("together/llama-3.1-8b-instruct")  # on Together's serverless-LoRA list
    assert serverless["inputs"]["hosting_per_month"] == 0 and serverless["break_even_requests"] < 1000
    dedicated = breakeven("together/llama-3.3-70b-instruct")  # not on it: a dedicated endpoint, 2x H100
    assert dedicated["inputs"]["hosting_per_month"] == pytest.approx(2 * 3.99 * 365.25 * 24 / 12)
    assert dedicated["inputs"]["ft_cost"] == 0


LOW_VOLUME = [
    *("advise", "--task-type", "format", "--examples", "300", "--prompt-compliance", "0.85"),
    *("--base-model", "gpt-4.1-mini", "--prompt-tokens", "1500", "--org-history", "active"),
    *("--cost-per-example", "2", *AS_OF),
]


@pytest.mark.parametrize("volume", ["20", "500"])
def test_low_volume_advice_weighs_per_token_fine_tunes_and_never_hides_a_dear_gpu(run_cli, volume: str) -> None:
    r = run_cli(*LOW_VOLUME, "--requests-per-day", volume, "--json")
    rec = json.loads(r.stdout)["recommendation"]
    assert rec["model"] == "meta-llama/Meta-Llama-3.1-8B-Instruct-Reference"  # per token, not an $877/month GPU
    assert rec["numbers"]["serverless_monthly_usd"] == 0
    stay = run_cli(*LOW_VOLUME, "--requests-per-day", volume, "--data-must-stay")  # only a GPU is left
    first = stay.stdout.splitlines()[0]
    assert first.startswith("recommendation: fine-tune-local") and "x prompting's" in first, first
    assert "what it buys is compliance above the 85% prompting reaches with data that never leaves" in first


def test_advise_offers_the_azure_bridge_with_its_end_date_to_whoever_may_take_it(run_cli) -> None:
    args = [*LOW_VOLUME, "--requests-per-day", "20000", "--hosted-model", "gpt-4.1-mini", "--json"]
    existing = json.loads(run_cli(*args, "--azure-customer", "existing").stdout)["bridge"]
    assert "same gpt-4.1-mini-2025-04-14" in existing and "until 2027-04-14" in existing and "2027-10-14" in existing
    assert "$1,242/month hosting" in existing and "must move again" in existing and "--azure-customer" not in existing
    unknown = json.loads(run_cli(*args).stdout)["bridge"]
    assert unknown.endswith("existing Azure customers only: say --azure-customer existing")
    assert json.loads(run_cli(*args, "--azure-customer", "new").stdout)["bridge"] is None
    assert json.loads(run_cli(*args, "--azure-customer", "existing", "--data-must-stay").stdout)["bridge"] is None


def test_a_verdict_that_depends_on_who_you_are_says_so(run_cli) -> None:
    args = [
        *("cost", "breakeven", "--base-model", "gpt-4.1", "--ft-model", "azure/gpt-4.1-mini", "--prompt-tokens"),
        *("2300", "--input-tokens", "200", "--output-tokens", "200", "--train-cost", "20"),
        *("--requests-per-day", "20000", "--json", *AS_OF),
    ]
    unknown = json.loads(run_cli(*args).stdout)["verdict"]
    assert unknown.startswith("pays back") and unknown.endswith(
        "(if you may still create this job: see the warning above)"
    )
    assert not json.loads(run_cli(*args, "--azure-customer", "existing").stdout)["verdict"].endswith("above)")
