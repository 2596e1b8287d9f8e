"""LLM-as-judge: a 1-5 rubric score per answer, and pairwise A/B judging with the order swapped.

Pairwise verdicts are asked twice, once in each order; when the two disagree the pair counts as a tie
(position bias), and the win rate is (wins + ties / 2) / n. The judge writes its reasoning before its
verdict, as JSON; every verdict and explanation is kept."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from ftadvisor.errors import InputError

DEFAULT_RUBRIC = """Score the answer from 1 to 5:
5 = correct, complete and exactly in the required format and tone;
4 = correct with a minor slip in format or tone;
3 = partly correct, or correct but in the wrong format;
2 = mostly wrong, or ignores the instructions;
1 = wrong, empty or unusable."""

SCORE_PROMPT = """You are a strict evaluator. {rubric}

Conversation the assistant answered:
{prompt}

Reference answer (what a perfect answer looks like):
{reference}

Assistant's answer:
{answer}

Reply with JSON only: {{"reasoning": "<one or two sentences>", "score": <1-5>}}"""

PAIR_PROMPT = """You are a strict evaluator comparing two answers to the same conversation. {rubric}

Conversation:
{prompt}

Reference answer:
{reference}

Answer A:
{a}

Answer B:
{b}

Which answer is better? Reply with JSON only: {{"reasoning": "<one or two sentences>", "winner": "A" | "B" | "tie"}}"""


class Verdict(BaseModel):
    line: int
    first: str  # which model was shown as A in this order
    raw: str
    winner: str | None  # "A", "B", "tie" or None when the judge's reply could not be read
    reasoning: str | None


class PairResult(BaseModel):
    line: int
    verdicts: list[Verdict]
    outcome: str  # "win" / "loss" / "tie" for the candidate against the baseline, "unparsed" when a verdict
    # could not be read (it is neither a tie nor agreement: it is left out of the rates)
    consistent: bool


class PairwiseSummary(BaseModel):
    judge: str
    baseline: str
    candidate: str
    wins: int
    losses: int
    ties: int
    unparsed: int = 0  # pairs with a verdict the judge's reply did not let us read
    win_rate: float  # (wins + ties / 2) / judged pairs, for the candidate
    consistency: float  # share of judged pairs where both orders agreed
    pairs: list[PairResult]


class ScoreResult(BaseModel):
    model: str
    line: int
    score: int | None
    reasoning: str | None
    raw: str


def read_rubric(path: str | Path | None) -> str:
    if path is None:
        return DEFAULT_RUBRIC
    from ftadvisor.userfiles import read_text

    text = read_text(path, "rubric").strip()
    if not text:
        raise InputError(f"{path}: the rubric is empty")
    return text


def _json_reply(text: str) -> dict[str, Any] | None:
    match = re.search(r"\{.*\}", text, re.S)
    if not match:
        return None
    try:
        value = json.loads(match.group(0))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _render(prompt: list[dict[str, Any]]) -> str:
    return "\n".join(f"[{m['role']}] {m.get('content') or ''}" for m in prompt)


def score_answers(judge: tuple[Any, str], items: list[dict[str, Any]], rubric: str) -> list[ScoreResult]:
    """``items``: dicts with model, line, prompt (messages), reference, output."""
    backend, model = judge
    results = []
    for it in items:
        text = SCORE_PROMPT.format(
            rubric=rubric, prompt=_render(it["prompt"]), reference=it["reference"], answer=it["output"]
        )
        raw = backend.complete(model, [{"role": "user", "content": text}], max_tokens=300, temperature=0).text
        reply = _json_reply(raw) or {}
        score = reply.get("score")
        valid = isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5
        results.append(
            ScoreResult(
                model=it["model"],
                line=it["line"],
                score=score if valid else None,
                reasoning=reply.get("reasoning"),
                raw=raw,
            )
        )
    return results


def pairwise(
    judge: tuple[Any, str], cases: list[dict[str, Any]], baseline: str, candidate: str, rubric: str
) -> PairwiseSummary:
    """``cases``: dicts with line, prompt, reference, and the two models' outputs under their names."""
    backend, model = judge
    pairs = []
    for case in cases:
        verdicts = []
        for first, second in ((baseline, candidate), (candidate, baseline)):
            text = PAIR_PROMPT.format(
                rubric=rubric,
                prompt=_render(case["prompt"]),
                reference=case["reference"],
                a=case[first],
                b=case[second],
            )
            raw = backend.complete(model, [{"role": "user", "content": text}], max_tokens=300, temperature=0).text
            reply = _json_reply(raw) or {}
            winner = reply.get("winner") if reply.get("winner") in ("A", "B", "tie") else None
            verdicts.append(
                Verdict(line=case["line"], first=first, raw=raw, winner=winner, reasoning=reply.get("reasoning"))
            )
        if any(v.winner is None for v in verdicts):
            pairs.append(PairResult(line=case["line"], verdicts=verdicts, outcome="unparsed", consistent=False))
            continue
        picked = []  # the model each order prefers, or "tie"
        for v in verdicts:
            second = candidate if v.first == baseline else baseline
            picked.append({"A": v.first, "B": second}.get(v.winner or "tie", "tie"))
        consistent = picked[0] == picked[1]
        outcome = "tie" if not consistent or picked[0] == "tie" else ("win" if picked[0] == candidate else "loss")
        pairs.append(PairResult(line=case["line"], verdicts=verdicts, outcome=outcome, consistent=consistent))
    judged = [p for p in pairs if p.outcome != "unparsed"]
    n = len(judged)
    wins = sum(p.outcome == "win" for p in judged)
    losses = sum(p.outcome == "loss" for p in judged)
    ties = n - wins - losses
    return PairwiseSummary(
        judge=model,
        baseline=baseline,
        candidate=candidate,
        wins=wins,
        losses=losses,
        ties=ties,
        unparsed=len(pairs) - n,
        win_rate=(wins + ties / 2) / n if n else 0.0,
        consistency=sum(p.consistent for p in judged) / n if n else 0.0,
        pairs=pairs,
    )


def judge_run(
    run: dict[str, Any], judge: tuple[Any, str], rubric: str = DEFAULT_RUBRIC, *, scores: bool = True
) -> dict[str, Any]:
    """Judge a stored evaluation run (``Ledger.eval_run``): rubric scores for every answer and, with two
    models or more, the first two pairwise. The prompts are read back from the run's data file."""
    from ftadvisor.evaluation.runner import load_cases

    prompts = {line: prompt for line, prompt, _ in load_cases(run["data"])}
    items = [
        {
            "model": e["model"],
            "line": e["line"],
            "prompt": prompts.get(e["line"], []),
            "reference": e["reference"],
            "output": e["output"],
        }
        for e in run["examples"]
    ]
    models = [m["model"] for m in run["models"]]
    scored = score_answers(judge, items, rubric) if scores else []
    pair = None
    if len(models) >= 2:
        by_line: dict[int, dict[str, Any]] = {}
        for it in items:
            case = by_line.setdefault(
                it["line"], {"line": it["line"], "prompt": it["prompt"], "reference": it["reference"]}
            )
            case[it["model"]] = it["output"]
        cases = [c for c in by_line.values() if models[0] in c and models[1] in c]
        pair = pairwise(judge, cases, models[0], models[1], rubric)
    means = {m: [s.score for s in scored if s.model == m and s.score is not None] for m in models}
    return {
        "run": run.get("id"),
        "judge": judge[1],
        "rubric": rubric,
        "mean_score": {m: (sum(v) / len(v) if v else None) for m, v in means.items()},
        "unreadable": sum(1 for s in scored if s.score is None),
        "scores": [s.model_dump() for s in scored],
        "pairwise": pair.model_dump() if pair else None,
    }
