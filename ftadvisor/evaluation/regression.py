"""General-capability regression prompts: a fine-tune must not forget arithmetic, common sense, chat and
plain formatting. A drop of more than 5 points against the base model is flagged (the seeds' rule)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ftadvisor.errors import InputError
from ftadvisor.userregex import IGNORECASE, UserPattern

DROP_FLAG_POINTS = 5.0

GENERAL: list[dict[str, str]] = [
    {"kind": "arithmetic", "prompt": "What is 12 + 7? Answer with the number only.", "expect": r"\b19\b"},
    {"kind": "arithmetic", "prompt": "What is 9 times 8? Answer with the number only.", "expect": r"\b72\b"},
    {"kind": "arithmetic", "prompt": "What is 100 minus 37? Answer with the number only.", "expect": r"\b63\b"},
    {"kind": "common sense", "prompt": "Is ice colder than boiling water? Answer yes or no.", "expect": r"\byes\b"},
    {"kind": "common sense", "prompt": "What day comes after Monday?", "expect": r"\btuesday\b"},
    {"kind": "common sense", "prompt": "How many legs does a spider have?", "expect": r"\b(8|eight)\b"},
    {"kind": "common sense", "prompt": "What is the capital of France?", "expect": r"\bparis\b"},
    {"kind": "chat", "prompt": "Say hello to me in one short sentence.", "expect": r"\b(hello|hi|hey)\b"},
    {"kind": "chat", "prompt": "Thank you for your help!", "expect": r"\b(welcome|glad|pleasure|happy)\b"},
    {"kind": "formatting", "prompt": "Write the word apple in capital letters only.", "expect": r"(?-i:APPLE)"},
    {
        "kind": "formatting",
        "prompt": "List three colours, one per line, each line starting with '- '.",
        "expect": r"(?m)^\s*- .+\n\s*- .+\n\s*- .+",
    },
    {
        "kind": "formatting",
        "prompt": 'Reply with only a JSON object whose key "ok" is true.',
        "expect": r'"ok"\s*:\s*true',
    },
]


class RegressionResult(BaseModel):
    model: str
    pass_rate: float
    by_kind: dict[str, float]
    passed: list[bool]
    outputs: list[str]
    change_points: float | None  # against the first (base) model
    flagged: bool


def load_prompts(extra: str | Path | None = None) -> list[dict[str, str]]:
    """The built-in prompts plus the user's own (JSONL lines of {"prompt", "expect" regex, "kind"?})."""
    prompts = list(GENERAL)
    if extra is not None:
        from ftadvisor.userfiles import read_text

        path = Path(extra)
        lines = read_text(path, "prompts file").splitlines()
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                if not isinstance(item, dict) or not isinstance(item["prompt"], str):
                    raise TypeError("prompt is not a string")
            except (ValueError, KeyError, TypeError, RecursionError) as exc:
                raise InputError(f'{path}:{n}: expected {{"prompt": str, "expect": regex}}: {exc}') from exc
            UserPattern(str(item.get("expect")), f"{path}:{n}: expect")
            prompts.append({"kind": item.get("kind", "custom"), "prompt": item["prompt"], "expect": item["expect"]})
    return prompts


def run_regression(
    models: list[tuple[Any, str]], prompts: list[dict[str, str]], max_tokens: int = 64
) -> list[RegressionResult]:
    results: list[RegressionResult] = []
    for backend, model in models:
        outputs = [
            backend.complete(
                model, [{"role": "user", "content": p["prompt"]}], max_tokens=max_tokens, temperature=0
            ).text
            for p in prompts
        ]
        passed = [
            UserPattern(p["expect"], "expect", flags=IGNORECASE).search(o)
            for p, o in zip(prompts, outputs, strict=True)
        ]
        kinds = sorted({p["kind"] for p in prompts})
        by_kind = {
            k: sum(ok for p, ok in zip(prompts, passed, strict=True) if p["kind"] == k)
            / sum(1 for p in prompts if p["kind"] == k)
            for k in kinds
        }
        rate = sum(passed) / len(passed)
        change = None if not results else 100 * (rate - results[0].pass_rate)
        flagged = change is not None and change < -DROP_FLAG_POINTS
        results.append(
            RegressionResult(
                model=model,
                pass_rate=rate,
                by_kind=by_kind,
                passed=passed,
                outputs=outputs,
                change_points=change,
                flagged=flagged,
            )
        )
    return results
