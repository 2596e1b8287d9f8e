"""The counting method pinned on hand-checked examples."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftadvisor.errors import UnknownModel
from ftadvisor.tokens import (
    TokenCounter,
    base_model,
    count_chat_tokens,
    encoding_name_for_model,
    model_family,
)


@pytest.mark.parametrize(
    ("model", "encoding"),
    [
        ("gpt-4o-mini-2024-07-18", "o200k_base"),
        ("gpt-4o", "o200k_base"),
        ("gpt-4.1-2025-04-14", "o200k_base"),
        ("ft:gpt-4.1-mini-2025-04-14:acme::abc123", "o200k_base"),  # tiktoken says cl100k_base here
        ("ft:gpt-4.1-nano-2025-04-14:acme:suffix:abc:ckpt-step-20", "o200k_base"),
        ("ft:o4-mini-2025-04-16:acme::x", "o200k_base"),  # tiktoken raises KeyError here
        ("o3-mini", "o200k_base"),
        ("gpt-5-mini", "o200k_base"),
        ("gpt-3.5-turbo-0125", "cl100k_base"),
        ("ft:gpt-3.5-turbo-0125:acme::x", "cl100k_base"),
        ("gpt-4-0613", "cl100k_base"),
        ("gpt-4", "cl100k_base"),
        ("davinci-002", "cl100k_base"),
    ],
)
def test_model_to_encoding(model: str, encoding: str) -> None:
    assert encoding_name_for_model(model) == encoding


def test_unknown_model_names_the_fix() -> None:
    with pytest.raises(UnknownModel, match="--encoding"):
        encoding_name_for_model("llama-3-8b")


def test_ft_prefix_and_snapshot_stripping() -> None:
    assert base_model("ft:gpt-4o-mini-2024-07-18:org:suffix:id") == "gpt-4o-mini-2024-07-18"
    assert model_family("ft:gpt-4o-mini-2024-07-18:org:suffix:id") == "gpt-4o-mini"
    assert model_family("gpt-3.5-turbo-0125") == "gpt-3.5-turbo"


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_single_token_words(encoding: str) -> None:
    """The words used below are one token each in both encodings (checked by hand with tiktoken)."""
    c = TokenCounter(encoding)
    for word in ("Hello", "user", "assistant", "system", "bob", "Hi", "tool"):
        assert c.text(word) == 1, word


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_chat_framing(encoding: str) -> None:
    c = TokenCounter(encoding)
    # 3 per message + role (1) + content (1), + 3 reply priming
    assert c.messages([{"role": "user", "content": "Hello"}]) == 3 + 1 + 1 + 3
    # a name costs its own tokens + 1
    assert c.messages([{"role": "user", "content": "Hello", "name": "bob"}]) == 3 + 1 + 1 + 1 + 1 + 3
    two = [{"role": "system", "content": "Hi"}, {"role": "user", "content": "Hello"}]
    assert c.messages(two) == 2 * (3 + 1 + 1) + 3


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_weight_is_not_counted(encoding: str) -> None:
    c = TokenCounter(encoding)
    plain = [{"role": "assistant", "content": "Hello"}]
    weighted = [{"role": "assistant", "content": "Hello", "weight": 0}]
    assert c.messages(weighted) == c.messages(plain) == 8


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_structured_fields_are_serialised_not_crashing(encoding: str) -> None:
    c = TokenCounter(encoding)
    calls = [{"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": '{"id":5}'}}]
    msg = {"role": "assistant", "content": None, "tool_calls": calls}
    serialised = json.dumps(calls, ensure_ascii=False, separators=(",", ":"))
    assert c.messages([msg]) == 3 + 1 + 0 + c.text(serialised) + 3
    parts = [{"type": "text", "text": "Hello"}]
    assert (
        c.messages([{"role": "user", "content": parts}]) == 3 + 1 + c.text(json.dumps(parts, separators=(",", ":"))) + 3
    )
    tool = {"role": "tool", "tool_call_id": "call_1", "content": "Hi"}
    assert c.messages([tool]) == 3 + 1 + c.text("call_1") + 1 + 3
    assert c.assistant([msg]) == c.text(serialised)


def test_encodings_differ_on_real_text() -> None:
    text = "Les données d'entraînement sont tokenisées différemment 🤖"
    assert TokenCounter("cl100k_base").text(text) != TokenCounter("o200k_base").text(text)


def test_special_token_text_counts_as_text() -> None:
    assert TokenCounter("cl100k_base").text("<|endoftext|>") > 1


def test_count_chat_tokens_uses_model_encoding() -> None:
    msgs = [{"role": "user", "content": "Les données d'entraînement 🤖"}]
    assert count_chat_tokens(msgs, "gpt-4o") == TokenCounter("o200k_base").messages(msgs)
    assert count_chat_tokens(msgs, "gpt-4o", encoding="cl100k_base") == TokenCounter("cl100k_base").messages(msgs)


def test_the_first_hours_data_and_advice_steps_run_offline_with_no_tiktoken_cache(tmp_path) -> None:
    """The newcomer review: a fresh machine that cannot reach tiktoken's download host exited 2 on o200k_base.
    The encodings ship with the package now: no cache variable, an empty temp folder (tiktoken's default
    cache), and every proxy pointing at a closed port, as on an air-gapped machine."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    sample = root / "ftadvisor" / "sample_data" / "support_tickets.jsonl"
    (tmp_path / "tmp").mkdir()
    env = {
        "PATH": "/usr/bin:/bin",
        "FTADVISOR_HOME": str(tmp_path),
        "TMPDIR": str(tmp_path / "tmp"),
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "PYTHONPATH": str(root),
    }
    steps = [
        ["tokens", "count", "--model", "gpt-4o", "--text", "hi"],
        ["data", "validate", str(sample), "--model", "gpt-4o-mini"],
        ["data", "stats", str(sample), "--model", "gpt-4.1-mini"],
        ["cost", "training", str(sample), "-m", "gpt-3.5-turbo", "--cost-per-example", "0"],  # cl100k_base
        ["advise", "--task-type", "format", "--examples", "116", "--prompt-compliance", "0.8"],
    ]
    for step in steps:
        r = subprocess.run(
            [sys.executable, "-m", "ftadvisor", *step], capture_output=True, text=True, env=env, timeout=120
        )
        assert r.returncode == 0, (step, r.stderr[-500:])
    assert not any((tmp_path / "tmp").iterdir())  # nothing was downloaded into tiktoken's default cache
