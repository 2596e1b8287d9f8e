"""The three OpenAI fine-tuning line formats (SFT chat, DPO, RFT) and how to tell them apart."""

from __future__ import annotations

from typing import Any, Literal

Method = Literal["sft", "dpo", "rft"]
METHODS: tuple[Method, ...] = ("sft", "dpo", "rft")
METHOD_NAMES = {"sft": "supervised", "dpo": "dpo", "rft": "reinforcement"}

SFT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
DPO_KEYS = frozenset({"input", "preferred_output", "non_preferred_output"})
DPO_INPUT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls"})
MESSAGE_KEYS = frozenset(
    {
        "role",
        "content",
        "name",
        "function_call",
        "weight",
        "tool_calls",
        "tool_call_id",
        "refusal",
    }
)
ROLES: dict[Method, frozenset[str]] = {
    "sft": frozenset({"system", "user", "assistant", "tool", "function"}),
    "dpo": frozenset({"system", "user", "assistant", "tool"}),
    "rft": frozenset({"developer", "user", "assistant", "tool"}),
}


def shape_of(obj: Any) -> Method | Literal["legacy"] | None:
    """Which format a parsed line looks like, from its keys alone; None when it looks like none."""
    if not isinstance(obj, dict):
        return None
    if "input" in obj or "preferred_output" in obj or "non_preferred_output" in obj:
        return "dpo"
    if "messages" in obj:
        messages = obj["messages"]
        if isinstance(messages, list) and messages and all(isinstance(m, dict) for m in messages):
            roles = [m.get("role") for m in messages]
            if "assistant" not in roles and roles[-1] == "user":
                return "rft"
        return "sft"
    if "prompt" in obj or "completion" in obj:
        return "legacy"
    return None


def example_messages(obj: Any, method: Method) -> list[dict[str, Any]] | None:
    """All messages of an example as the model sees them (DPO: input plus both outputs); None if malformed."""
    if not isinstance(obj, dict):
        return None
    if method == "dpo":
        inp = obj.get("input")
        parts = [
            inp.get("messages") if isinstance(inp, dict) else None,
            obj.get("preferred_output"),
            obj.get("non_preferred_output"),
        ]
        lists = [p for p in parts if isinstance(p, list)]
        if len(lists) != len(parts):
            return None
        messages = [m for p in lists for m in p]
    else:
        found = obj.get("messages")
        if not isinstance(found, list):
            return None
        messages = found
    return messages if all(isinstance(m, dict) for m in messages) else None


def example_tools(obj: Any, method: Method) -> Any:
    """The tool (and deprecated function) definitions of an example, or None."""
    holder = obj.get("input") if method == "dpo" and isinstance(obj, dict) else obj
    if not isinstance(holder, dict):
        return None
    tools = [holder[k] for k in ("tools", "functions") if holder.get(k)]
    return tools or None
