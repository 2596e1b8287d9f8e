"""Stats must equal the OpenAI cookbook's method on the same file, encoding and limit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import tiktoken

from ftadvisor.data.stats import dataset_stats
from ftadvisor.pricing.training import default_epochs
from tests.conftest import FIXTURES, ROOT

SAMPLE = ROOT / "ftadvisor" / "sample_data" / "support_tickets.jsonl"


def cookbook(path: Path, encoding: str, limit: int) -> dict:
    """The cookbook notebook's counting, re-implemented from its description for comparison."""
    enc = tiktoken.get_encoding(encoding)
    dataset = [json.loads(line) for line in path.read_text().splitlines()]

    def num_tokens(messages):
        n = 0
        for message in messages:
            n += 3
            for key, value in message.items():
                n += len(enc.encode(value))
                if key == "name":
                    n += 1
        return n + 3

    def assistant_tokens(messages):
        return sum(len(enc.encode(m["content"])) for m in messages if m["role"] == "assistant")

    lens = [num_tokens(ex["messages"]) for ex in dataset]
    n_epochs = 3
    n = len(dataset)
    if n * 3 < 100:
        n_epochs = min(25, 100 // n)
    elif n * 3 > 25000:
        n_epochs = max(1, 25000 // n)
    billing = sum(min(limit, x) for x in lens)
    return {
        "n_examples": n,
        "n_missing_system": sum(1 for ex in dataset if not any(m["role"] == "system" for m in ex["messages"])),
        "n_missing_user": sum(1 for ex in dataset if not any(m["role"] == "user" for m in ex["messages"])),
        "lens": lens,
        "assistant": [assistant_tokens(ex["messages"]) for ex in dataset],
        "n_messages": [len(ex["messages"]) for ex in dataset],
        "n_too_long": sum(x > limit for x in lens),
        "billing": billing,
        "epochs": n_epochs,
        "billed": billing * n_epochs,
    }


def _multiturn_file(tmp_path: Path) -> Path:
    rows = []
    for i in range(37):
        msgs = [
            {"role": "user", "content": f"Question {i}: " + "why " * (i * 7 % 50), "name": "alice"},
            {"role": "assistant", "content": f"Answer {i} " + "because " * (i % 9)},
        ]
        if i % 3:
            msgs.insert(0, {"role": "system", "content": "Be brief. Ünïcödé ✓"})
        if i % 4 == 0:
            msgs += [{"role": "user", "content": "And then?"}, {"role": "assistant", "content": "Done."}]
        rows.append({"messages": msgs})
    path = tmp_path / "multi.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def _dist(values) -> dict:
    a = np.asarray(values)
    return {
        "min": a.min(),
        "max": a.max(),
        "mean": a.mean(),
        "median": np.median(a),
        "p10": np.quantile(a, 0.1),
        "p90": np.quantile(a, 0.9),
    }


@pytest.mark.parametrize(("encoding", "limit"), [("cl100k_base", 16385), ("o200k_base", 65536), ("o200k_base", 60)])
@pytest.mark.parametrize("which", ["sample", "multiturn"])
def test_equals_cookbook(which: str, encoding: str, limit: int, tmp_path: Path) -> None:
    path = SAMPLE if which == "sample" else _multiturn_file(tmp_path)
    ref = cookbook(path, encoding, limit)
    s = dataset_stats(path, model="gpt-4o-mini", encoding=encoding, max_example_tokens=limit)
    assert s.n_examples == ref["n_examples"]
    assert s.n_missing_system == ref["n_missing_system"]
    assert s.n_missing_user == ref["n_missing_user"]
    assert s.n_over_limit == ref["n_too_long"]
    assert s.billing_tokens_per_epoch == ref["billing"]
    assert s.default_epochs == ref["epochs"] and s.billed_tokens == ref["billed"]
    for ours, theirs in (
        (s.tokens_per_example, ref["lens"]),
        (s.assistant_tokens_per_example, ref["assistant"]),
        (s.messages_per_example, ref["n_messages"]),
    ):
        assert ours.model_dump() == pytest.approx(_dist(theirs))


def test_training_cost_uses_catalogue_price() -> None:
    s = dataset_stats(SAMPLE, model="gpt-4o-mini-2024-07-18")
    assert s.training_price_per_1m == 3.0
    assert s.estimated_training_cost_usd == pytest.approx(s.billed_tokens * 3.0 / 1e6)
    assert s.encoding == "o200k_base" and s.max_example_tokens == 65536


def test_unknown_price_gives_null_cost() -> None:
    s = dataset_stats(SAMPLE, model="gpt-5-mini", max_example_tokens=1000)
    assert s.estimated_training_cost_usd is None and s.encoding == "o200k_base"


def test_retired_model_still_gets_stats_with_a_note() -> None:
    s = dataset_stats(SAMPLE, model="gpt-3.5-turbo")
    assert s.encoding == "cl100k_base" and s.max_example_tokens == 16385
    assert s.estimated_training_cost_usd is not None
    assert any("shut down on 2026-10-23" in n for n in s.notes)


@pytest.mark.parametrize(
    ("n", "epochs"),
    [
        (1, 25),
        (4, 25),
        (5, 20),
        (10, 10),
        (21, 4),
        (25, 4),
        (26, 3),
        (8333, 3),
        (8334, 2),
        (12500, 2),
        (12501, 1),
        (100000, 1),
    ],
)
def test_default_epochs_table(n: int, epochs: int) -> None:
    assert default_epochs(n) == epochs


def test_stats_json_keys(run_cli) -> None:
    result = run_cli("data", "stats", SAMPLE, "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    for key in (
        "n_examples",
        "format_errors",
        "n_missing_system",
        "n_missing_user",
        "messages_per_example",
        "tokens_per_example",
        "assistant_tokens_per_example",
        "n_over_limit",
        "billing_tokens_per_epoch",
        "default_epochs",
        "billed_tokens",
        "encoding",
        "estimated_training_cost_usd",
    ):
        assert key in data
    assert set(data["tokens_per_example"]) == {"min", "max", "mean", "median", "p10", "p90"}


def test_parallel_scan_equals_serial(tmp_path: Path) -> None:
    """Byte-range workers must give the same figures and line numbers as one pass."""
    from ftadvisor.data.scan import scan_file

    src = (FIXTURES / "bad" / "weight_two.jsonl").read_text().splitlines()
    path = tmp_path / "big.jsonl"
    path.write_text("\n".join(src * 40) + "\n")
    one = scan_file(path, encoding="o200k_base", workers=1)
    import ftadvisor.data.scan as scan_mod

    old = scan_mod.PARALLEL_MIN_BYTES
    scan_mod.PARALLEL_MIN_BYTES = 0
    try:
        two = scan_file(path, encoding="o200k_base", workers=2)
    finally:
        scan_mod.PARALLEL_MIN_BYTES = old
    assert list(two.n_tokens) == list(one.n_tokens)
    assert [p.line for p in two.problems] == [p.line for p in one.problems] == [5 + 12 * k for k in range(40)]
