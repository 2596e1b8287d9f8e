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


SAMPLE = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "support_tickets.jsonl"


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),  # prices:deep.json
        ('{"models":[{"id":"gpt-4.1-mini-2025-04-14","training_per_1m":' + "9" * 5000 + "}]}", "not a usable"),
    ],
    ids=["deep", "hugeint"],
)
def test_a_hostile_price_file_is_a_clear_error(run_cli, tmp_path: Path, text: str, says: str) -> None:
    p = tmp_path / "p.json"
    p.write_text(text)
    r = run_cli("cost", "training", "--tokens", "1000", "--examples", "10", "-m", "gpt-4.1-mini", "--prices", p)
    assert r.exit_code == 2 and says in r.output and "p.json" in r.output and isinstance(r.exception, SystemExit)


def test_convert_names_a_lone_surrogate_and_writes_nothing(run_cli, tmp_path: Path) -> None:
    a = tmp_path / "a.json"
    a.write_text('[{"instruction": "x\\ud800", "output": "y"}]')
    r = run_cli("data", "convert", a, "--out", tmp_path / "o.jsonl")
    assert r.exit_code == 2 and "a.json:1: text holds an invalid character" in r.output, r.output
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.parametrize(
    ("config", "says"),
    [
        ("file: {data}\noptions: " + "[" * 5000 + "]" * 5000 + "\n", "nested too deeply"),
        ("file: {data}\nmodel: gpt-4.1-mini-2025-04-14\nseed: " + "9" * 5000 + "\n", "not a usable run config"),
        ("file: {data}\nfile: /etc/passwd\nmodel: gpt-4.1-mini-2025-04-14\n", "key 'file' is given twice"),
        ("base_model: [a]\ndatasets: [{{path: {data}, type: chat_template}}]\n", "base_model: Input should be"),
        (
            "base_model: smollm2-135m-instruct\ndatasets: [{{path: {data}, type: chat_template}}]\nnum_epochs: many\n",
            "num_epochs: Input should be a valid integer",
        ),
    ],
    ids=["deep", "seed_huge", "dup_keys", "ax_base_model_list", "ax_num_epochs_str"],
)
def test_a_hostile_run_config_is_a_clear_error(run_cli, tmp_path: Path, config: str, says: str) -> None:
    c = tmp_path / "c.yaml"
    c.write_text(config.format(data=SAMPLE))
    r = run_cli("train", "--config", c, "--dry-run")
    assert r.exit_code == 2 and says in r.output and isinstance(r.exception, SystemExit), r.output
