"""Per-example and aggregate metrics: format compliance, exact match, classification, JSON fields, ROUGE-L."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from ftadvisor.data.jsonl import NotJSON, loads
from ftadvisor.userregex import MULTILINE, UserPattern


class FormatRules(BaseModel):
    """What a compliant answer looks like. Every rule given must hold for an answer to comply."""

    require_json: bool = False
    json_schema: dict[str, Any] | None = None
    regex: list[str] = []
    contains: list[str] = []

    def any(self) -> bool:
        return bool(self.require_json or self.json_schema or self.regex or self.contains)


def normalise(text: str) -> str:
    return " ".join(text.split())


@lru_cache(maxsize=64)
def _pattern(pattern: str) -> UserPattern:
    return UserPattern(pattern, "--require", flags=MULTILINE)


def parse_json(text: str) -> Any:
    """The answer as JSON (a fenced ```json block is accepted), or None."""
    t = text.strip()
    fence = re.fullmatch(r"```(?:json)?\s*(.*?)\s*```", t, re.S)
    if fence:
        t = fence.group(1)
    try:
        return loads(t)
    except NotJSON:
        return None


def format_failures(text: str, rules: FormatRules) -> list[str]:
    """Which format rules the answer breaks (empty list: compliant)."""
    failures = []
    value = parse_json(text) if (rules.require_json or rules.json_schema) else None
    if (rules.require_json or rules.json_schema) and value is None:
        failures.append("not JSON")
    elif rules.json_schema is not None:
        import jsonschema

        errors = list(jsonschema.validators.validator_for(rules.json_schema)(rules.json_schema).iter_errors(value))
        if errors:
            failures.append(f"schema: {errors[0].message}")
    for pattern in rules.regex:
        if not _pattern(pattern).search(text):
            failures.append(f"regex {pattern!r}")
    for needle in rules.contains:
        if needle not in text:
            failures.append(f"missing {needle!r}")
    return failures


def field_accuracy(prediction: str, reference: str) -> float | None:
    """Share of the reference JSON object's fields that the prediction reproduces exactly (None when the
    reference is not a JSON object)."""
    ref = parse_json(reference)
    if not isinstance(ref, dict) or not ref:
        return None
    pred = parse_json(prediction)
    if not isinstance(pred, dict):
        return 0.0
    return sum(1 for k, v in ref.items() if k in pred and pred[k] == v) / len(ref)


@lru_cache(maxsize=1)
def _rouge() -> Any:
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)


def rouge_l(prediction: str, reference: str) -> float:
    """ROUGE-L F-measure (rouge_score called directly: nothing is downloaded). Its tokenizer keeps only
    [a-z0-9], so scripts other than Latin score about 0: use exact match or fields for those."""
    return float(_rouge().score(reference, prediction)["rougeL"].fmeasure)


class ClassReport(BaseModel):
    precision: float
    recall: float
    f1: float
    support: int


def classification(predicted: list[str | None], expected: list[str]) -> tuple[float, dict[str, ClassReport], float]:
    """(accuracy, per-class precision/recall/F1 over the labels of the references, macro F1)."""
    labels = sorted(set(expected))
    per: dict[str, ClassReport] = {}
    for label in labels:
        tp = sum(1 for p, e in zip(predicted, expected, strict=True) if p == label and e == label)
        fp = sum(1 for p, e in zip(predicted, expected, strict=True) if p == label and e != label)
        fn = sum(1 for p, e in zip(predicted, expected, strict=True) if p != label and e == label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per[label] = ClassReport(precision=precision, recall=recall, f1=f1, support=Counter(expected)[label])
    accuracy = sum(1 for p, e in zip(predicted, expected, strict=True) if p == e) / len(expected) if expected else 0.0
    macro = sum(r.f1 for r in per.values()) / len(per) if per else 0.0
    return accuracy, per, macro
