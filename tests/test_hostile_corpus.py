"""Every command, every hostile file: exit 0, 1 or 2 and never a traceback (shared/review/reliability.md,
section C and its table). The corpus is fixtures/bad/ plus the files the hostile pass built by hand."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

OK = {"role": "user", "content": "q"}
ANSWER = {"role": "assistant", "content": "a"}


def _line(obj: object) -> str:
    return json.dumps(obj)


HOSTILE: dict[str, str] = {
    "huge_int_content": '{"messages": [{"role": "user", "content": ' + "9" * 5000 + '}, {"role": "assistant", '
    '"content": "a"}]}',
    "huge_int_weight": '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", '
    '"weight": ' + "1" * 5000 + "}]}",
    "role_list": _line({"messages": [{"role": ["user"], "content": "q"}, ANSWER]}),
    "role_dict": _line({"messages": [{"role": {"r": "user"}, "content": "q"}, ANSWER]}),
    "dpo_role_list": _line(
        {
            "input": {"messages": [{"role": ["user"], "content": "q"}]},
            "preferred_output": [ANSWER],
            "non_preferred_output": [{"role": "assistant", "content": "b"}],
        }
    ),
    "lone_surrogate": '{"messages": [{"role": "user", "content": "\\ud800"}, {"role": "assistant", "content": "a"}]}',
    "lone_surrogate_answer": '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", '
    '"content": "a\\udfff"}]}',
    "line_null": "null",
    "line_array": "[1, 2]",
    "deep": '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "label_deep": _line({"messages": [OK, {"role": "assistant", "content": '{"category": ' + "[" * 5000 + "}"}]}),
    "label_hugeint": _line({"messages": [OK, {"role": "assistant", "content": '{"category": ' + "7" * 5000 + "}"}]}),
    "nan_weight": '{"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", '
    '"weight": NaN}]}',
    "inf_content": '{"messages": [{"role": "user", "content": Infinity}, {"role": "assistant", "content": "a"}]}',
    "nul": '{"messages": [{"role": "user", "content": "q\\u0000"}, {"role": "assistant", "content": "a"}]}',
}
COMMANDS = [
    ["data", "validate", "{f}", "--model", "gpt-4.1-mini-2025-04-14"],
    ["data", "stats", "{f}"],
    ["data", "dedup", "{f}", "--write", "{tmp}/dedup.jsonl"],
    ["data", "check", "{f}", "--label-field", "category", "--require", "^a"],
    ["data", "split", "{f}", "--out", "{tmp}/split"],
    ["data", "split", "{f}", "--out", "{tmp}/strat", "--stratify", "--label-field", "category"],
    ["data", "convert", "{f}", "--out", "{tmp}/alpaca.jsonl", "--from", "alpaca"],
    ["data", "convert", "{f}", "--out", "{tmp}/sharegpt.jsonl", "--from", "sharegpt"],
    ["cost", "training", "{f}", "-m", "gpt-4o-mini", "--cost-per-example", "1"],
    ["train", "{f}", "-m", "gpt-4o-mini", "--dry-run", "--org-history", "active"],
    ["train", "{f}", "--backend", "local", "-m", "smollm2-135m-instruct", "--dry-run"],
]


def _files(tmp: Path) -> list[Path]:
    files = sorted((FIXTURES / "bad").glob("*.jsonl"))
    for name, line in HOSTILE.items():
        path = tmp / f"{name}.jsonl"
        good = _line({"messages": [{"role": "system", "content": "s"}, OK, ANSWER]})
        path.write_text("\n".join([good] * 11 + [line]) + "\n", encoding="utf-8")  # 12 lines, the last hostile
        files.append(path)
    return files


@pytest.mark.parametrize(
    "command", COMMANDS, ids=[" ".join(c[:2]) + (" " + c[-1] if "--from" in c else "") for c in COMMANDS]
)
def test_every_command_on_every_hostile_file(run_cli, tmp_path: Path, command: list[str]) -> None:
    failures = []
    for f in _files(tmp_path):
        args = [a.replace("{f}", str(f)).replace("{tmp}", str(tmp_path / f.stem)) for a in command]
        r = run_cli(*args)
        crashed = r.exception is not None and not isinstance(r.exception, SystemExit)
        if r.exit_code not in (0, 1, 2) or "Traceback" in r.output or crashed:
            failures.append(f"{f.name}: exit {r.exit_code}: {r.exception!r} {r.output[-300:]}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("value", ["-5", "NaN", "Infinity"])
def test_prices_must_be_finite_and_not_negative(run_cli, tmp_path: Path, value: str) -> None:
    """prices:negative/nan/inf printed `total: $-1.50` / `$nan` / `$inf` with exit 0."""
    p = tmp_path / "p.json"
    p.write_text('{"models": [{"id": "gpt-4.1-mini-2025-04-14", "training_per_1m": ' + value + "}]}")
    r = run_cli(
        "cost", "training", "--tokens", "100000", "--examples", "100", "-m", "gpt-4.1-mini-2025-04-14", "--prices", p
    )
    assert r.exit_code == 2 and "training_per_1m" in r.output and "finite" in r.output


@pytest.mark.parametrize(
    "options",
    [
        ["--suffix", ""],
        ["--suffix", "x" * 65],
        ["--learning-rate-multiplier", "inf"],
        ["--learning-rate-multiplier", "nan"],
    ],
)
def test_what_dry_run_accepts_the_real_run_accepts(run_cli, options: list[str]) -> None:
    """http:suffix65 / suffix_empty / lr_inf: dry-run accepted them, the real run crashed after uploading."""
    sample = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "support_tickets.jsonl"
    r = run_cli("train", sample, "-m", "gpt-4o-mini", "--dry-run", "--org-history", "active", *options)
    assert r.exit_code == 2 and "Traceback" not in r.output, r.output


def test_a_hub_id_offline_is_refused_before_a_local_job_exists(
    run_cli, _isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """README: a hub id is "refused at once under HF_HUB_OFFLINE=1"; the review found a job created first."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sample = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "support_tickets.jsonl"
    r = run_cli("train", sample, "--backend", "local", "-m", "meta-llama/Llama-3.1-8B-Instruct", "--yes")
    assert r.exit_code == 2 and "HF_HUB_OFFLINE=1" in r.output and "Traceback" not in r.output
    jobs = _isolated_home / "local" / "jobs"
    assert not jobs.exists() or not any(jobs.iterdir())
