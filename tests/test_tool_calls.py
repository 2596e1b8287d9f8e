"""Assistant tool calls reach the loss through the chat template when it renders them (and are refused, by file
and line, when it cannot), in training and in ``data preview``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from local_backend.chatdata import IGNORE, TemplateError, encode_chat, preview, supports_tools

# ChatML with tools, shaped like Qwen 2.5's: the tool list in a system turn, each call as JSON in <tool_call>.
TOOLS_TEMPLATE = (
    "{% if tools %}<|im_start|>system\nTools: {{ tools | tojson }}<|im_end|>\n{% endif %}"
    "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}"
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<tool_call>"
    "{{ {'name': c.function.name, 'arguments': c.function.arguments} | tojson }}</tool_call>{% endfor %}{% endif %}"
    "<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
TOOLS = [
    {
        "type": "function",
        "function": {"name": "get_order", "parameters": {"type": "object", "properties": {"id": {"type": "string"}}}},
    }
]
CALL = {
    "role": "assistant",
    "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "get_order", "arguments": '{"id": "A17"}'}}
    ],
}
CONVERSATION = [
    {"role": "user", "content": "Where is order A17?"},
    CALL,
    {"role": "tool", "tool_call_id": "call_1", "content": '{"status": "shipped"}'},
    {"role": "assistant", "content": "It has shipped."},
]


def _tokenizer(tiny: Path, template: str | None = None):  # type: ignore[no-untyped-def]
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny)
    if template:
        tok.chat_template = template
    return tok


def _trained(tok, enc) -> str:  # type: ignore[no-untyped-def]
    return str(tok.decode([i for i, lab in zip(enc.input_ids, enc.labels, strict=True) if lab != IGNORE]))


def test_tool_calls_are_rendered_and_trained_the_tool_answer_is_not(tiny: Path) -> None:
    tok = _tokenizer(tiny, TOOLS_TEMPLATE)
    assert supports_tools(tok)
    enc = encode_chat(tok, CONVERSATION, 4096, TOOLS)
    assert _trained(tok, enc) == (
        '<tool_call>{"name": "get_order", "arguments": {"id": "A17"}}</tool_call><|im_end|>\n'
        "It has shipped.<|im_end|>\n"
    )
    everything = tok.decode(enc.input_ids)
    assert '"get_order"' in everything.split("<|im_start|>user")[0]  # the tool list reached the prompt
    assert '{"status": "shipped"}' in everything  # the tool's answer is context, not a target


def test_a_template_without_tools_is_refused_not_silently_emptied(tiny: Path, tmp_path: Path) -> None:
    tok = _tokenizer(tiny)
    assert not supports_tools(tok)
    with pytest.raises(TemplateError, match="cannot render tool calls"):
        encode_chat(tok, CONVERSATION, 4096, TOOLS)
    data = tmp_path / "calls.jsonl"
    data.write_text(
        json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]})
        + "\n"
        + json.dumps({"messages": CONVERSATION, "tools": TOOLS})
        + "\n"
    )
    from ftadvisor.errors import InputError

    with pytest.raises(InputError, match=r"calls.jsonl:2: an assistant turn calls tools"):
        preview(str(data), str(tiny), n=5)


def test_preview_marks_the_tool_call_as_trained(tiny: Path, tmp_path: Path) -> None:
    model = tmp_path / "model"
    import shutil

    shutil.copytree(tiny, model)
    config = json.loads((model / "tokenizer_config.json").read_text())
    config["chat_template"] = TOOLS_TEMPLATE
    (model / "tokenizer_config.json").write_text(json.dumps(config))
    (model / "chat_template.jinja").unlink(missing_ok=True)
    data = tmp_path / "calls.jsonl"
    data.write_text(json.dumps({"messages": CONVERSATION, "tools": TOOLS}) + "\n")
    [(line, tokens)] = preview(str(data), str(model), n=1)
    trained = "".join(t.text for t in tokens if t.trained)
    assert line == 1 and trained.startswith('<tool_call>{"name": "get_order"') and "shipped" in trained
