"""The validator is the gate before paid training: whatever JSON a line holds, it must name a located
problem, never raise. Hypothesis builds hostile lines (random JSON trees shaped like chat, DPO and RFT
examples, wrong types at every key, huge numbers, deep nesting, lone surrogates, NaN) and every command
built on the validator must then survive the file: stats, dedup, check, split, convert."""

from __future__ import annotations

import contextlib
import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftadvisor.data.convert import convert_file
from ftadvisor.data.dedup import find_duplicates
from ftadvisor.data.jsonl import parse_line
from ftadvisor.data.quality import check_quality
from ftadvisor.data.rules import check_example, role_presence
from ftadvisor.data.split import split_file
from ftadvisor.data.stats import dataset_stats
from ftadvisor.data.validate import validate_file
from ftadvisor.errors import FtAdvisorError

KEYS = [
    "category",
    "from",
    "value",
    "messages",
    "role",
    "content",
    "weight",
    "name",
    "tool_calls",
    "tool_call_id",
    "function",
    "arguments",
    "type",
    "text",
    "image_url",
    "tools",
    "input",
    "preferred_output",
    "non_preferred_output",
    "prompt",
    "completion",
    "id",
    "parallel_tool_calls",
    "reference_answer",
    "instruction",
    "output",
    "conversations",
]
ROLES = st.sampled_from(["system", "user", "assistant", "tool", "developer", "function", "", "USER"])

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    ROLES,
    st.just("\ud800"),
    st.just("a\udfffb"),
)
trees = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), children, max_size=5),
    ),
    max_leaves=25,
)
message = st.fixed_dictionaries(
    {"role": ROLES | trees},
    optional={
        "content": st.text(max_size=40) | trees,
        "weight": st.sampled_from([0, 1, 2, "1", None, 1.5]) | trees,
        "tool_calls": trees,
        "name": trees,
        "tool_call_id": trees,
    },
)
sft = st.fixed_dictionaries({"messages": st.lists(message, max_size=5) | trees}, optional={"tools": trees})
dpo = st.fixed_dictionaries(
    {
        "input": st.fixed_dictionaries({"messages": st.lists(message, max_size=3) | trees}) | trees,
        "preferred_output": st.lists(message, max_size=2) | trees,
        "non_preferred_output": st.lists(message, max_size=2) | trees,
    }
)
lines = st.one_of(sft, dpo, trees).map(lambda o: json.dumps(o, allow_nan=True)) | st.sampled_from(
    [
        "null",
        "[]",
        "{",
        "9" * 5000,
        '{"messages": ' + "[" * 5000,
        '{"messages": [{"role": ["user"], "content": "q"}]}',
        '{"messages": [{"role": {"a": 1}, "content": "q"}, {"role": "assistant", "content": 1e999}]}',
        '{"messages": [{"role": "user", "content": "\\ud800"}, {"role": "assistant", "content": "a"}]}',
        '{"messages": [{"role": "user", "content": ' + "9" * 5000 + "}]}",
        "\ufeff{}",
        "   ",
        "",
        # answers that are themselves JSON (label fields are read from them): too deep, too big a number
        json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "[" * 3000}]}),
        json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "9" * 4400}]}),
        json.dumps(
            {
                "messages": [
                    {"role": "user", "content": "q"},
                    {"role": "assistant", "content": '{"category": ' + "[" * 3000 + "}"},
                ]
            }
        ),
    ]
)


@settings(max_examples=600, deadline=None)
@given(lines, st.sampled_from(["sft", "dpo", "rft"]))
def test_every_line_gives_located_problems_never_an_exception(line: str, method: str) -> None:
    raw = line.encode("utf-8", "surrogatepass")
    obj, problems = parse_line(raw, 7)
    assert all(p.line == 7 for p in problems)
    if obj is None:
        assert problems or line.strip() is not False  # an unparsed line always says why
        return
    found = check_example(obj, 7, method)  # type: ignore[arg-type]
    assert all(p.line == 7 and p.category for p in found)
    role_presence(obj, method)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, min_size=1, max_size=12))
def test_every_command_survives_any_file(file_lines: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.jsonl"
        path.write_bytes("\n".join(file_lines).encode("utf-8", "surrogatepass") + b"\n")
        report = validate_file(path, model="gpt-4o-mini")
        assert report.n_lines >= 1
        out = Path(tmp) / "out.jsonl"
        for run in (
            lambda: dataset_stats(path, model="gpt-4o-mini"),
            lambda: find_duplicates(path),
            lambda: check_quality(path, require=[r"^\d"]),
            lambda: split_file(path, Path(tmp) / "s"),
            lambda: check_quality(path, label_field="category"),
            lambda: split_file(path, Path(tmp) / "t", stratify=True, label_field="category"),
            lambda: convert_file(path, out, fmt="alpaca"),
            lambda: convert_file(path, out, fmt="sharegpt"),
        ):
            with contextlib.suppress(FtAdvisorError):  # a one-line refusal ("no examples to split") is fine
                run()
        if report.valid:  # what the gate lets through, every command takes
            dataset_stats(path, model="gpt-4o-mini")
            find_duplicates(path)
