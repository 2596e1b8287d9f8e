"""Per-example validation of SFT, DPO and RFT lines: every problem named by line, message and field.

Categories include the OpenAI cookbook's seven (``data_type``, ``missing_messages_list``,
``message_missing_key``, ``message_unrecognized_key``, ``unrecognized_role``, ``missing_content``,
``example_missing_assistant_message``) plus the ones listed in ``CATEGORIES``.
"""

from __future__ import annotations

import json
from typing import Any

from ftadvisor.data.formats import DPO_INPUT_KEYS, DPO_KEYS, MESSAGE_KEYS, ROLES, SFT_KEYS, Method, shape_of
from ftadvisor.data.jsonl import NotJSON, loads
from ftadvisor.data.problems import Problem

CATEGORIES: dict[str, str] = {
    "data_type": "a line or message is not a JSON object",
    "missing_messages_list": "no 'messages' list, or an empty one",
    "message_missing_key": "a message lacks 'role' or 'content'",
    "message_unrecognized_key": "a message has a key OpenAI does not accept",
    "unrecognized_role": "a role the method does not allow",
    "missing_content": "content is empty or of the wrong type",
    "example_missing_assistant_message": "an SFT example with no assistant message",
    "invalid_json": "the line is not valid JSON",
    "invalid_utf8": "the line is not valid UTF-8",
    "bom": "the file starts with a byte-order mark",
    "blank_line": "an empty line",
    "unknown_key": "a top-level key the method does not accept",
    "invalid_field": "a field has the wrong type",
    "invalid_content_part": "a content part is malformed, or an image is in assistant output",
    "invalid_tools": "the tools list is malformed",
    "invalid_tool_calls": "assistant tool_calls are malformed",
    "tool_call_arguments_not_string": "tool_calls[].function.arguments must be a JSON string",
    "missing_tool_call_id": "a tool message without tool_call_id",
    "unexpected_tool_call_id": "tool_call_id on a message that is not a tool message",
    "unmatched_tool_call_id": "tool_call_id matches no earlier tool call (warning)",
    "invalid_weight": "weight must be 0 or 1",
    "weight_not_on_assistant": "weight is only allowed on assistant messages",
    "no_trainable_assistant": "every assistant message has weight 0",
    "legacy_format": "prompt/completion pairs (retired models only)",
    "wrong_method": "the line is in another method's format",
    "dpo_invalid_input": "DPO 'input' is malformed",
    "dpo_invalid_output": "DPO preferred/non-preferred output is malformed",
    "dpo_identical_outputs": "preferred and non-preferred outputs are the same (warning)",
    "rft_last_message": "an RFT prompt must end with a user message",
    "rft_no_reference": "an RFT line has no extra field for the grader (warning)",
    "too_long": "over the model's per-example token limit; OpenAI truncates it (warning)",
    "too_few_examples": "fewer than the 10 examples OpenAI requires",
    "empty_file": "the file holds no examples",
    "missing_system": "no system message (counted, warning)",
    "missing_user": "no user message (counted, warning)",
}

MIN_EXAMPLES = 10
_FORMAT_HINT = {
    "sft": "SFT chat format ('messages' with assistant answers)",
    "dpo": "DPO format ('input', 'preferred_output', 'non_preferred_output')",
    "rft": "RFT format ('messages' ending with a user prompt, no assistant answer)",
    "legacy": "legacy prompt/completion format",
}


def _type(v: Any) -> str:
    return {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}.get(type(v), "number")


class _Checker:
    def __init__(self, line: int, method: Method) -> None:
        self.line = line
        self.method = method
        self.problems: list[Problem] = []

    def add(self, category: str, explanation: str, message: int | None = None) -> None:
        self.problems.append(Problem(self.line, category, explanation, message))

    def keys(self, obj: dict[str, Any], allowed: frozenset[str], where: str) -> None:
        for key in obj:
            if key not in allowed:
                self.add("unknown_key", f"{where}unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")

    def tools(self, tools: Any, where: str = "") -> None:
        if not isinstance(tools, list):
            self.add("invalid_tools", f"{where}'tools' must be an array, got {_type(tools)}")
            return
        for i, tool in enumerate(tools):
            fn = tool.get("function") if isinstance(tool, dict) else None
            if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(fn, dict):
                self.add("invalid_tools", f'{where}tools[{i}] must be {{"type": "function", "function": {{...}}}}')
            elif not isinstance(fn.get("name"), str) or not fn["name"]:
                self.add("invalid_tools", f"{where}tools[{i}].function.name must be a non-empty string")

    def messages(self, messages: Any, field: str, roles: frozenset[str]) -> list[dict[str, Any]] | None:
        """Check a messages list; returns it when it is a list (messages may still be bad)."""
        if not isinstance(messages, list) or not messages:
            what = "empty" if isinstance(messages, list) else f"{_type(messages)}, not an array"
            cat = "missing_messages_list" if field == "messages" else "dpo_invalid_input"
            self.add(cat, f"'{field}' must be a non-empty array of messages (it is {what})")
            return None
        call_ids: set[str] = set()
        for i, m in enumerate(messages):
            if not isinstance(m, dict):
                self.add("data_type", f"{field}[{i}] is {_type(m)}, not an object", i)
                continue
            self.message(m, i, field, roles, call_ids)
        return messages

    def message(self, m: dict[str, Any], i: int, field: str, roles: frozenset[str], call_ids: set[str]) -> None:
        at = f"{field}[{i}]"
        role = m.get("role")
        for key in m:
            if key not in MESSAGE_KEYS:
                self.add("message_unrecognized_key", f"{at} has unrecognized key {key!r}", i)
        if "role" not in m:
            self.add("message_missing_key", f"{at} has no 'role'", i)
        elif not isinstance(role, str):
            self.add(
                "unrecognized_role",
                f"{at}.role is {_type(role)}; it must be a string (one of {', '.join(sorted(roles))})",
                i,
            )
            role = None
        elif role not in roles:
            hint = ""
            if role == "developer" and self.method != "rft":
                hint = "; use 'system' for this method"
            elif role == "system" and self.method == "rft":
                hint = "; RFT uses 'developer' instead of 'system'"
            self.add("unrecognized_role", f"{at} has role {role!r} (allowed: {', '.join(sorted(roles))}){hint}", i)
        has_call = m.get("tool_calls") is not None or m.get("function_call") is not None
        if "content" not in m and not (role == "assistant" and has_call):
            self.add("message_missing_key", f"{at} has no 'content'", i)
        elif "content" in m:
            self.content(m["content"], role, at, i, allow_empty=role == "assistant" and has_call)
        if "name" in m and not isinstance(m["name"], str):
            self.add("invalid_field", f"{at}.name must be a string, got {_type(m['name'])}", i)
        if "weight" in m:
            if role != "assistant":
                self.add(
                    "weight_not_on_assistant",
                    f"{at} is a {role} message; weight is only allowed on assistant messages",
                    i,
                )
            w = m["weight"]
            if isinstance(w, bool) or w not in (0, 1):
                self.add("invalid_weight", f"{at}.weight is {json.dumps(w)}; it must be 0 or 1", i)
        if "tool_calls" in m:
            if role != "assistant":
                self.add("invalid_tool_calls", f"{at}: only assistant messages may have tool_calls", i)
            self.tool_calls(m["tool_calls"], at, i, call_ids)
        if role == "tool":
            tcid = m.get("tool_call_id")
            if not isinstance(tcid, str) or not tcid:
                self.add("missing_tool_call_id", f"{at} is a tool message without a string 'tool_call_id'", i)
            elif call_ids and tcid not in call_ids:
                self.add("unmatched_tool_call_id", f"{at}.tool_call_id {tcid!r} matches no earlier tool call", i)
        elif "tool_call_id" in m:
            self.add(
                "unexpected_tool_call_id", f"{at} has 'tool_call_id' but role {role!r}; only tool messages carry it", i
            )
        if "function_call" in m and not isinstance(m["function_call"], dict):
            self.add("invalid_field", f"{at}.function_call must be an object", i)

    def content(self, content: Any, role: Any, at: str, i: int, *, allow_empty: bool) -> None:
        if content is None or content == "":
            if not allow_empty:
                self.add("missing_content", f"{at} ({role}) has empty content", i)
            return
        if isinstance(content, str):
            return
        if not isinstance(content, list):
            self.add("missing_content", f"{at}.content must be a string or an array of parts, got {_type(content)}", i)
            return
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "text" and isinstance(part.get("text"), str):
                continue
            if kind == "image_url":
                url = part.get("image_url")
                if role == "assistant":
                    self.add(
                        "invalid_content_part", f"{at}.content[{j}]: images are not allowed in assistant messages", i
                    )
                elif not isinstance(url, dict) or not isinstance(url.get("url"), str):
                    self.add("invalid_content_part", f'{at}.content[{j}].image_url must be {{"url": ...}}', i)
                continue
            self.add(
                "invalid_content_part",
                f'{at}.content[{j}] must be a text part ({{"type": "text", "text": ...}}) or an image_url part',
                i,
            )

    def tool_calls(self, calls: Any, at: str, i: int, call_ids: set[str]) -> None:
        if not isinstance(calls, list) or not calls:
            self.add("invalid_tool_calls", f"{at}.tool_calls must be a non-empty array", i)
            return
        for j, call in enumerate(calls):
            where = f"{at}.tool_calls[{j}]"
            fn = call.get("function") if isinstance(call, dict) else None
            if not isinstance(call, dict) or not isinstance(fn, dict):
                self.add("invalid_tool_calls", f"{where} must be an object with a 'function' object", i)
                continue
            if not isinstance(call.get("id"), str) or not call["id"]:
                self.add("invalid_tool_calls", f"{where}.id must be a non-empty string", i)
            else:
                call_ids.add(call["id"])
            if call.get("type", "function") != "function":
                self.add("invalid_tool_calls", f"{where}.type must be 'function'", i)
            if not isinstance(fn.get("name"), str) or not fn["name"]:
                self.add("invalid_tool_calls", f"{where}.function.name must be a non-empty string", i)
            args = fn.get("arguments")
            if not isinstance(args, str):
                self.add(
                    "tool_call_arguments_not_string",
                    f"{where}.function.arguments is {_type(args)}; "
                    "it must be a string holding JSON (json.dumps the object)",
                    i,
                )
            else:
                try:
                    loads(args)
                except NotJSON:
                    self.add("invalid_tool_calls", f"{where}.function.arguments is not valid JSON", i)

    def sft(self, obj: dict[str, Any]) -> None:
        self.keys(obj, SFT_KEYS, "")
        if "tools" in obj:
            self.tools(obj["tools"])
        messages = self.messages(obj.get("messages"), "messages", ROLES["sft"])
        if messages is None:
            return
        assistants = [m for m in messages if isinstance(m, dict) and m.get("role") == "assistant"]
        if not assistants:
            self.add("example_missing_assistant_message", "no assistant message: nothing to train on")
        elif all(m.get("weight") == 0 for m in assistants):
            self.add("no_trainable_assistant", "every assistant message has weight 0: nothing to train on")

    def dpo(self, obj: dict[str, Any]) -> None:
        self.keys(obj, DPO_KEYS, "")
        for key in ("input", "preferred_output", "non_preferred_output"):
            if key not in obj:
                cat = "dpo_invalid_input" if key == "input" else "dpo_invalid_output"
                self.add(cat, f"missing required key {key!r}")
        inp = obj.get("input")
        if "input" in obj:
            if not isinstance(inp, dict):
                self.add("dpo_invalid_input", f"'input' must be an object, got {_type(inp)}")
            else:
                self.keys(inp, DPO_INPUT_KEYS, "input: ")
                if "tools" in inp:
                    self.tools(inp["tools"], "input.")
                messages = self.messages(inp.get("messages"), "input.messages", ROLES["dpo"])
                if messages and isinstance(messages[-1], dict) and messages[-1].get("role") != "user":
                    self.add(
                        "dpo_invalid_input",
                        "input.messages must end with a user message (DPO compares the next assistant turn)",
                    )
        outputs = []
        for key in ("preferred_output", "non_preferred_output"):
            if key not in obj:
                continue
            out = obj[key]
            if not isinstance(out, list) or not out:
                self.add("dpo_invalid_output", f"{key!r} must be a non-empty array of assistant messages")
                continue
            self.messages(out, key, frozenset({"assistant", "tool"}))
            if isinstance(out[-1], dict) and out[-1].get("role") != "assistant":
                self.add("dpo_invalid_output", f"{key!r} must end with an assistant message")
            outputs.append(out)
        if len(outputs) == 2 and outputs[0] == outputs[1]:
            self.add(
                "dpo_identical_outputs", "preferred and non-preferred outputs are identical: the pair teaches nothing"
            )

    def rft(self, obj: dict[str, Any]) -> None:
        if "tools" in obj:
            self.tools(obj["tools"])
        messages = self.messages(obj.get("messages"), "messages", ROLES["rft"])
        if messages and isinstance(messages[-1], dict) and messages[-1].get("role") != "user":
            self.add(
                "rft_last_message",
                f"messages must end with a user message, not "
                f"{messages[-1].get('role')!r}: the model writes the answer and a grader scores it",
            )
        if not set(obj) - {"messages", "tools"}:
            self.add(
                "rft_no_reference",
                "no field besides messages/tools: graders usually compare the answer "
                "with one (e.g. 'reference_answer')",
            )


def check_example(obj: Any, line: int, method: Method, detected_from: int | None = None) -> list[Problem]:
    """All problems of one parsed line for ``method``. ``detected_from`` names the line the method came from."""
    c = _Checker(line, method)
    if not isinstance(obj, dict):
        c.add("data_type", f"the line is a JSON {_type(obj)}, not an object")
        return c.problems
    shape = shape_of(obj)
    if shape == "legacy":
        c.add(
            "legacy_format",
            "prompt/completion pairs only trained the retired babbage-002/davinci-002; "
            "convert with `ftadvisor data convert`",
        )
        return c.problems
    if shape == "sft" and method == "rft" and not _ends_with_assistant(obj):
        shape = "rft"  # a multi-turn RFT prompt: earlier assistant turns, ending with the user
    if shape is not None and shape != method and not (method == "sft" and shape == "rft"):
        how = f" (detected from line {detected_from}; pass --method to choose)" if detected_from else ""
        c.add("wrong_method", f"this line is in {_FORMAT_HINT[shape]}, but the file is {method}{how}")
        return c.problems
    getattr(c, method)(obj)
    return c.problems


def _ends_with_assistant(obj: dict[str, Any]) -> bool:
    messages = obj.get("messages")
    return (
        isinstance(messages, list)
        and bool(messages)
        and isinstance(messages[-1], dict)
        and (messages[-1].get("role") == "assistant")
    )


def role_presence(obj: Any, method: Method) -> tuple[bool, bool]:
    """Whether an example has a system (or developer) message and a user message."""
    holder = obj.get("input") if method == "dpo" and isinstance(obj, dict) else obj
    messages = holder.get("messages") if isinstance(holder, dict) else None
    if not isinstance(messages, list):
        return False, False
    roles = {r for m in messages if isinstance(m, dict) and isinstance(r := m.get("role"), str)}
    return bool(roles & {"system", "developer"}), "user" in roles
