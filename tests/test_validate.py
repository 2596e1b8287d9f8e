"""Validation: the bad-input corpus, good files, method detection, and the CLI's contract."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ftadvisor.data.validate import validate_file
from tests.conftest import FIXTURES, ROOT

BAD = FIXTURES / "bad"
MANIFEST = json.loads((BAD / "manifest.json").read_text())


def test_corpus_is_large_enough() -> None:
    assert len(MANIFEST) >= 30
    assert len({case["category"] for case in MANIFEST.values()}) >= 25


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_bad_file_reports_category_and_line(name: str, run_cli) -> None:
    case = MANIFEST[name]
    path = BAD / f"{name}.jsonl"
    result = run_cli("data", "validate", path, "--method", case["method"])
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    where = str(path) if case["line"] == 0 else f"{path}:{case['line']}"
    if case["message"] is not None:
        where += f":{case['message']}"
    assert f"{where}: {case['category']}: " in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("name", sorted(MANIFEST))
def test_bad_file_damage_is_confined(name: str) -> None:
    """Only the damaged line is reported as an error: the rest of the file is understood."""
    case = MANIFEST[name]
    report = validate_file(BAD / f"{name}.jsonl", method=case["method"])
    assert not report.valid
    error_lines = {p.line for p in report.problems if p.severity == "error"}
    assert error_lines == {case["line"]} or (case["category"] == "wrong_method" and case["line"] == 1)


@pytest.mark.parametrize("name", ["crlf", "dpo", "rft"])
def test_good_files_are_valid(name: str, run_cli) -> None:
    result = run_cli("data", "validate", FIXTURES / "good" / f"{name}.jsonl")
    assert result.exit_code == 0, result.output
    assert ": valid: 12 examples" in result.output


def test_method_is_detected() -> None:
    assert validate_file(FIXTURES / "good" / "dpo.jsonl").method == "dpo"
    assert validate_file(FIXTURES / "good" / "rft.jsonl").method == "rft"
    report = validate_file(FIXTURES / "good" / "crlf.jsonl")
    assert report.method == "sft" and report.detected_from_line == 1


def test_sft_file_submitted_as_dpo_flags_every_line() -> None:
    report = validate_file(FIXTURES / "good" / "crlf.jsonl", method="dpo")
    assert report.counts["wrong_method"] == 12


def test_sample_dataset_is_valid() -> None:
    report = validate_file(
        ROOT / "ftadvisor" / "sample_data" / "support_tickets.jsonl", model="gpt-4.1-mini-2025-04-14"
    )
    assert report.valid and report.n_examples == 116 and report.n_warnings == 0


def test_too_long_example_is_a_warning_with_its_line(tmp_path: Path, run_cli) -> None:
    lines = [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}] * 12
    lines[6] = {"messages": [{"role": "user", "content": "word " * 17000}, {"role": "assistant", "content": "ok"}]}
    path = tmp_path / "long.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    result = run_cli("data", "validate", path, "--model", "gpt-3.5-turbo-0125")
    assert result.exit_code == 0  # OpenAI accepts it and truncates: a warning
    assert f"{path}:7: too_long: " in result.output
    assert "shut down on 2026-10-23" in result.output
    strict = run_cli("data", "validate", path, "--model", "gpt-3.5-turbo-0125", "--strict")
    assert strict.exit_code == 1


def test_json_output(run_cli) -> None:
    result = run_cli("data", "validate", BAD / "weight_two.jsonl", "--json")
    data = json.loads(result.stdout)
    assert data["valid"] is False and data["counts"]["invalid_weight"] == 1
    assert data["problems"][0] == {
        "line": 5,
        "category": "invalid_weight",
        "message": 2,
        "severity": "error",
        "explanation": "messages[2].weight is 2; it must be 0 or 1",
    }


@pytest.mark.parametrize(
    "args",
    [
        ["data", "validate", "no/such/file.jsonl"],
        ["data", "validate", "fixtures"],
        ["data", "validate", "fixtures/good/crlf.jsonl", "--method", "ppo"],
        ["data", "stats", "fixtures/good/crlf.jsonl", "--model", "llama-9"],
    ],
)
def test_usage_errors_exit_2_without_traceback(args: list[str]) -> None:
    r = subprocess.run([sys.executable, "-m", "ftadvisor", *args], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and r.stderr.strip()
