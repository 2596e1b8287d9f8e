"""The text of an example as the toolkit compares it: prompt, answer and normalised forms."""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from ftadvisor.data.formats import Method
from ftadvisor.tokens import serialise

_SPACE = re.compile(r"\s+")


def content_text(content: Any) -> str:
    """The text of a message's content: strings as they are, text parts joined, anything else as JSON."""
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if isinstance(content, list):
        texts = [t for p in content if isinstance(p, dict) and isinstance(t := p.get("text"), str)]
        if len(texts) == len(content):
            return "\n".join(texts)
    return serialise(content)


def _message_text(m: Any) -> str:
    if not isinstance(m, dict):
        return serialise(m)
    text = content_text(m.get("content"))
    for key in ("tool_calls", "function_call"):
        if m.get(key) is not None:
            text += serialise(m[key])
    return f"{m.get('role')}: {text}"


def split_example(obj: Any, method: Method) -> tuple[list[Any], str | None]:
    """(prompt messages, final answer text) of an example; the answer is None when there is none."""
    if not isinstance(obj, dict):
        return [], None
    if method == "dpo":
        inp = obj.get("input")
        prompt = inp.get("messages") if isinstance(inp, dict) else None
        out = obj.get("preferred_output")
        answer = out[-1] if isinstance(out, list) and out else None
    else:
        msgs = obj.get("messages")
        if not isinstance(msgs, list):
            return [], None
        last = max(
            (i for i, m in enumerate(msgs) if isinstance(m, dict) and m.get("role") == "assistant"), default=None
        )
        prompt, answer = (msgs, None) if last is None else (msgs[:last], msgs[last])
    prompt = prompt if isinstance(prompt, list) else []
    if not isinstance(answer, dict):
        return prompt, None
    text = content_text(answer.get("content"))
    if not text and answer.get("tool_calls") is not None:
        text = serialise(answer["tool_calls"])
    return prompt, text


def prompt_text(prompt: list[Any]) -> str:
    return "\n".join(_message_text(m) for m in prompt)


def example_text(obj: Any, method: Method, *, system: bool = True) -> str:
    """The conversation as one text (prompt and final answer); ``system=False`` leaves out system prompts."""
    prompt, answer = split_example(obj, method)
    if not system:
        prompt = [m for m in prompt if not (isinstance(m, dict) and m.get("role") in ("system", "developer"))]
    return prompt_text(prompt) + ("\nassistant: " + answer if answer is not None else "")


def normalise(text: str) -> str:
    """Case-, width- and whitespace-insensitive form used for exact-duplicate detection."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()
