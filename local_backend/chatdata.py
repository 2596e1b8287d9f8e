"""Chat JSONL to token ids and labels through the model's own chat template.

Labels copy the input ids only where OpenAI would train: the assistant turns (content and end-of-turn
token) whose ``weight`` is not 0. Everything else is -100. Spans are found by rendering each prefix of
the conversation with the template, so no ``{% generation %}`` markers are needed; a template whose
renders are not prefixes of each other is refused instead of guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IGNORE = -100


class TemplateError(ValueError):
    """The chat template cannot be used for exact masking."""


@dataclass
class Encoded:
    input_ids: list[int]
    labels: list[int]

    @property
    def n_trained(self) -> int:
        return sum(1 for x in self.labels if x != IGNORE)


def supports_tools(tokenizer: Any) -> bool:
    """Whether the chat template renders assistant tool calls (it reads ``tool_calls``)."""
    template = tokenizer.chat_template
    return isinstance(template, str) and "tool_calls" in template


def _arguments(value: Any) -> Any:
    """OpenAI sends a call's arguments as a JSON string; chat templates expect the object (they ``tojson`` it)."""
    import json

    try:
        return json.loads(value) if isinstance(value, str) else value
    except ValueError:
        return value


def _message(m: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat message as Hugging Face chat templates read it (tool calls included)."""
    out: dict[str, Any] = {"role": m["role"], "content": m.get("content") or ""}
    if m.get("tool_calls"):
        out["tool_calls"] = [
            {
                "type": "function",
                "id": c.get("id"),
                "function": {"name": c["function"]["name"], "arguments": _arguments(c["function"].get("arguments"))},
            }
            for c in m["tool_calls"]
        ]
    for key in ("tool_call_id", "name"):
        if m.get(key):
            out[key] = m[key]
    return out


def _render(
    tokenizer: Any, messages: list[dict[str, Any]], generation_prompt: bool, tools: list[dict[str, Any]] | None = None
) -> str:
    return tokenizer.apply_chat_template(
        [_message(m) for m in messages], tools=tools or None, tokenize=False, add_generation_prompt=generation_prompt
    )


def assistant_spans(
    tokenizer: Any, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None = None
) -> tuple[str, list[tuple[int, int]]]:
    """The rendered conversation and the character spans of the assistant turns to train on (their tool calls
    included, when the template renders them; a template that cannot is refused rather than dropping them)."""
    if any(m.get("tool_calls") for m in messages) and not supports_tools(tokenizer):
        raise TemplateError(
            "an assistant turn calls tools but the model's chat template cannot render tool calls "
            "(it never reads tool_calls); use a model whose template supports tools"
        )
    spans = []
    for i, m in enumerate(messages):
        if m.get("role") != "assistant" or m.get("weight", 1) == 0:
            continue
        before = _render(tokenizer, messages[:i], generation_prompt=True, tools=tools)
        upto = _render(tokenizer, messages[: i + 1], generation_prompt=False, tools=tools)
        if not upto.startswith(before):
            raise TemplateError(
                "the chat template renders a conversation differently from its prefix; "
                "exact assistant masking is impossible with it"
            )
        spans.append((len(before), len(upto)))
    full = _render(tokenizer, messages, generation_prompt=False, tools=tools)
    for _, end in spans:
        if end > len(full):
            raise TemplateError("the chat template is not prefix-stable")
    return full, spans


def encode_chat(
    tokenizer: Any, messages: list[dict[str, Any]], max_length: int, tools: list[dict[str, Any]] | None = None
) -> Encoded:
    """Token ids and labels of one SFT example (truncated at ``max_length``, like OpenAI, from the end)."""
    text, spans = assistant_spans(tokenizer, messages, tools)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids: list[int] = enc["input_ids"]
    labels = [IGNORE] * len(ids)
    for t, (start, end) in enumerate(enc["offset_mapping"]):
        if any(s <= start and end <= e and end > start for s, e in spans):
            labels[t] = ids[t]
    return Encoded(ids[:max_length], labels[:max_length])


def encode_prompt(tokenizer: Any, messages: list[dict[str, Any]]) -> list[int]:
    """Token ids of a prompt ending with the assistant's generation prompt (for inference and DPO)."""
    text = _render(tokenizer, messages, generation_prompt=True)
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def encode_preference(tokenizer: Any, example: dict[str, Any], max_length: int) -> tuple[Encoded, Encoded]:
    """(chosen, rejected) sequences of a DPO example; labels cover only the answer."""
    prompt = example["input"]["messages"]
    pair = []
    for key in ("preferred_output", "non_preferred_output"):
        answer = example[key][-1]
        turn = {
            "role": "assistant",
            "content": answer.get("content") or "",
            **({"tool_calls": answer["tool_calls"]} if answer.get("tool_calls") else {}),
        }
        pair.append(encode_chat(tokenizer, [*prompt, turn], max_length, example["input"].get("tools")))
    return pair[0], pair[1]


@dataclass
class TokenView:
    """One token of a rendered example as the loss sees it."""

    id: int
    text: str
    trained: bool


def preview(path: str, model: str, n: int, max_length: int = 1024) -> list[tuple[int, list[TokenView]]]:
    """The first ``n`` SFT examples of ``path`` tokenized through ``model``'s chat template exactly as the local
    trainer does, each token marked trained or not (``weight: 0`` turns and the prompt are not)."""
    from transformers import AutoTokenizer

    from ftadvisor.data.formats import example_messages
    from ftadvisor.data.jsonl import iter_objects
    from ftadvisor.errors import InputError
    from local_backend.modelio import quiet, resolve

    quiet()
    tok = AutoTokenizer.from_pretrained(resolve(model))
    if not tok.chat_template:
        raise InputError(f"{model}: the tokenizer has no chat template")
    out = []
    for line, obj in iter_objects(path):
        messages = example_messages(obj, "sft")
        if messages is None:
            continue
        try:
            enc = encode_chat(tok, messages, max_length, obj.get("tools"))
        except TemplateError as exc:
            raise InputError(f"{path}:{line}: {exc}") from None
        out.append(
            (
                line,
                [
                    TokenView(id=i, text=str(tok.decode([i])), trained=lab != IGNORE)
                    for i, lab in zip(enc.input_ids, enc.labels, strict=True)
                ],
            )
        )
        if len(out) == n:
            break
    if not out:
        raise InputError(f"{path}: no chat example (messages) to preview")
    return out
