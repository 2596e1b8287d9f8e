"""Quality checks from the seeds: label balance, contradicting answers, and output consistency rules."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ftadvisor.data.formats import Method
from ftadvisor.data.jsonl import NotJSON, iter_objects, loads, open_input
from ftadvisor.data.stats import Distribution
from ftadvisor.data.text import normalise, prompt_text, split_example
from ftadvisor.errors import InputError
from ftadvisor.userregex import UserPattern

MAX_CLASSES = 50
IMBALANCE_RATIO = 3.0  # largest / smallest class above this is flagged


class LabelBalance(BaseModel):
    source: str  # "answer" or "field:<name>"
    counts: dict[str, int]
    n_unlabelled: int
    imbalance_ratio: float
    majority_share: float
    underrepresented: list[str]  # classes with less than half their fair share
    imbalanced: bool


class RuleFailure(BaseModel):
    line: int
    rule: str
    explanation: str


class QualityReport(BaseModel):
    file: str
    n_examples: int
    labels: LabelBalance | None
    inconsistent: list[list[int]]  # groups of lines with the same prompt but different answers
    failures: list[RuleFailure]
    answer_chars: Distribution | None


def answer_label(answer: str | None, label_field: str | None) -> str | None:
    """The class of an answer: the answer itself, or a top-level JSON field of it."""
    if answer is None:
        return None
    if label_field is None:
        return answer.strip()
    try:
        value = loads(answer)
    except NotJSON:
        return None
    if not isinstance(value, dict) or label_field not in value:
        return None
    v = value[label_field]
    if isinstance(v, str):
        return v
    try:
        return json.dumps(v)
    except (ValueError, RecursionError):
        return None


def label_balance(labels: list[str | None], source: str, *, force: bool = False) -> LabelBalance | None:
    """Class counts and imbalance, or None when the answers are not drawn from a small set."""
    counts = Counter(x for x in labels if x is not None)
    n = sum(counts.values())
    if not counts or (not force and (len(counts) > min(MAX_CLASSES, max(2, n // 3)) or len(counts) < 2)):
        return None
    most, least = max(counts.values()), min(counts.values())
    fair = n / len(counts)
    under = sorted(k for k, v in counts.items() if v < fair / 2)
    ratio = most / least
    return LabelBalance(
        source=source,
        counts=dict(counts.most_common()),
        n_unlabelled=len(labels) - n,
        imbalance_ratio=round(ratio, 3),
        majority_share=round(most / n, 4),
        underrepresented=under,
        imbalanced=ratio > IMBALANCE_RATIO or bool(under),
    )


def check_quality(
    path: str | Path,
    *,
    method: Method | None = None,
    label_field: str | None = None,
    require: list[str] | None = None,
    json_schema: str | Path | None = None,
) -> QualityReport:
    """Run the quality checks over a dataset's final answers."""
    from ftadvisor.data.scan import detect_method

    open_input(path).close()
    method = method or detect_method(path)[0]
    patterns = [(r, UserPattern(r, "--require")) for r in require or []]
    validator = _schema_validator(json_schema) if json_schema else None
    labels: list[str | None] = []
    answers_by_prompt: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    failures: list[RuleFailure] = []
    lengths: list[int] = []
    n = 0
    for line, obj in iter_objects(path):
        prompt, answer = split_example(obj, method)
        n += 1
        labels.append(answer_label(answer, label_field))
        if answer is None:
            continue
        lengths.append(len(answer))
        answers_by_prompt[normalise(prompt_text(prompt))][normalise(answer)].append(line)
        for source, pattern in patterns:
            if not pattern.search(answer):
                failures.append(
                    RuleFailure(
                        line=line, rule=f"require:{source}", explanation=f"the answer does not match {source!r}"
                    )
                )
        if validator is not None:
            failures.extend(_schema_failures(validator, answer, line))
    inconsistent = sorted(
        sorted(x for lines in by_answer.values() for x in lines)
        for by_answer in answers_by_prompt.values()
        if len(by_answer) > 1
    )
    return QualityReport(
        file=str(path),
        n_examples=n,
        labels=label_balance(
            labels, f"field:{label_field}" if label_field else "answer", force=label_field is not None
        ),
        inconsistent=inconsistent,
        failures=failures,
        answer_chars=Distribution.of(lengths),
    )


def _schema_validator(path: str | Path) -> Any:
    import jsonschema
    from referencing import Registry
    from referencing.exceptions import NoSuchResource

    from ftadvisor.userfiles import read_json

    schema = read_json(path, "JSON schema")

    def no_fetching(uri: str) -> Any:  # a $ref to another document is never fetched from the network
        raise NoSuchResource(ref=uri)  # type: ignore[call-arg]  # an attrs class

    try:
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        validator = cls(schema, registry=Registry(retrieve=no_fetching))  # type: ignore[call-arg]
        validator.is_valid(None)  # resolve references now, so a bad $ref is named here, once
    except jsonschema.SchemaError as exc:
        raise InputError(f"{path}: not a valid JSON schema: {exc.message}") from exc
    except Exception as exc:  # referencing's errors: an unresolvable or remote $ref
        raise InputError(
            f"{path}: the schema's $ref cannot be resolved without fetching it "
            f"({exc.__class__.__name__}); inline the referenced schema"
        ) from exc
    return validator


def _schema_failures(validator: Any, answer: str, line: int) -> list[RuleFailure]:
    try:
        value = loads(answer)
    except NotJSON as exc:
        return [RuleFailure(line=line, rule="json-schema", explanation=f"the answer is not JSON: {exc}")]
    return [
        RuleFailure(
            line=line, rule="json-schema", explanation=f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        )
        for e in validator.iter_errors(value)
    ]
