"""Dedup, quality checks, split and convert on small hand-made files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ftadvisor.data.convert import convert_file
from ftadvisor.data.dedup import MinHasher, find_duplicates, jaccard
from ftadvisor.data.quality import check_quality
from ftadvisor.data.split import split_file
from ftadvisor.errors import InputError
from tests.conftest import ROOT

SAMPLE = ROOT / "ftadvisor" / "sample_data" / "support_tickets.jsonl"


def chat(user: str, answer: str, system: str = "You answer support questions.") -> dict:
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
            {"role": "assistant", "content": answer},
        ]
    }


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


QUESTIONS = [
    "How do I export my monthly report as a PDF file from the dashboard?",
    "My invoice lists the wrong company address, can you correct it please?",
    "The mobile app logs me out every time I switch to another application.",
    "Can I move my subscription from the annual plan to the monthly plan?",
    "Where do I find the API key for the staging environment of our project?",
    "Your courier left the parcel at the wrong building yesterday afternoon.",
]


def test_exact_and_near_duplicates(tmp_path: Path) -> None:
    rows = [chat(q, f"Answer {i}.") for i, q in enumerate(QUESTIONS)]
    rows.append(chat(QUESTIONS[1].upper() + "  ", "answer 1."))  # line 7: exact after normalisation
    rows.append(chat(QUESTIONS[2] + " Thanks!", "Answer 2."))  # line 8: near-duplicate of line 3
    rows.append(chat(QUESTIONS[4], "Answer 4.", system="A different system prompt entirely."))  # line 9
    path = write(tmp_path / "d.jsonl", rows)
    r = find_duplicates(path)
    groups = {tuple(g.lines): g.kind for g in r.groups}
    assert groups == {(2, 7): "exact", (3, 8): "near", (5, 9): "exact"}
    assert r.n_removable == 3
    out = tmp_path / "dedup.jsonl"
    from ftadvisor.data.dedup import write_deduplicated

    assert write_deduplicated(path, out, r) == 6
    assert out.read_text().splitlines() == path.read_text().splitlines()[:6]


def test_threshold_is_respected(tmp_path: Path) -> None:
    rows = [chat(q, "ok") for q in QUESTIONS] + [chat(QUESTIONS[0].replace("PDF file", "spreadsheet"), "ok")]
    path = write(tmp_path / "t.jsonl", rows)
    h = MinHasher()
    from ftadvisor.data.text import example_text

    sim = jaccard(
        h.shingles(example_text(rows[0], "sft", system=False)), h.shingles(example_text(rows[-1], "sft", system=False))
    )
    assert 0.5 < sim < 0.95
    assert [g.lines for g in find_duplicates(path, threshold=sim - 0.01).groups] == [[1, 7]]
    assert find_duplicates(path, threshold=sim + 0.01).groups == []


def test_minhash_recall_against_brute_force(tmp_path: Path) -> None:
    """Every pair at or above the threshold by exact Jaccard must be found (small brute-force check)."""
    import random

    rng = random.Random(3)
    words = ("alpha beta gamma delta invoice refund export report login crash sync plan seat parcel").split()
    rows = []
    for _ in range(300):
        base = " ".join(rng.choice(words) for _ in range(14))
        rows.append(chat(base, "ok"))
        if rng.random() < 0.3:
            edited = base.split()
            edited[rng.randrange(len(edited))] = rng.choice(words)
            rows.append(chat(" ".join(edited), "ok"))
    path = write(tmp_path / "r.jsonl", rows)
    from ftadvisor.data.text import example_text

    h = MinHasher()
    sh = [h.shingles(example_text(r, "sft", system=False)) for r in rows]
    truth = {(i + 1, j + 1) for i in range(len(rows)) for j in range(i + 1, len(rows)) if jaccard(sh[i], sh[j]) >= 0.8}
    assert len(truth) > 20
    found_groups = find_duplicates(path).groups
    group_of = {line: k for k, g in enumerate(found_groups) for line in g.lines}
    found = {(a, b) for a, b in truth if a in group_of and group_of.get(a) == group_of.get(b)}
    assert len(found) / len(truth) >= 0.95


def test_quality_labels_inconsistency_and_rules(tmp_path: Path) -> None:
    rows = [chat(f"Ticket {i} about billing", json.dumps({"category": "billing"})) for i in range(9)]
    rows += [chat("Ticket about login", json.dumps({"category": "account"}))]
    rows += [chat("Ticket about login", json.dumps({"category": "technical"}))]  # contradicts line 10
    rows += [chat("Ticket with bad answer", "not json")]
    path = write(tmp_path / "q.jsonl", rows)
    schema = tmp_path / "schema.json"
    schema.write_text(
        json.dumps(
            {
                "type": "object",
                "required": ["category"],
                "properties": {"category": {"enum": ["billing", "account", "technical"]}},
            }
        )
    )
    r = check_quality(path, label_field="category", require=[r"^\{"], json_schema=schema)
    assert r.labels is not None and r.labels.counts == {"billing": 9, "account": 1, "technical": 1}
    assert r.labels.imbalanced and r.labels.imbalance_ratio == 9 and r.labels.n_unlabelled == 1
    assert r.inconsistent == [[10, 11]]
    assert {(f.line, f.rule) for f in r.failures} == {(12, "require:^\\{"), (12, "json-schema")}


def test_check_cli_exit_codes(tmp_path: Path, run_cli) -> None:
    path = write(tmp_path / "ok.jsonl", [chat(q, "1. Do this.") for q in QUESTIONS])
    assert run_cli("data", "check", path, "--require", r"^1\. ").exit_code == 0
    bad = run_cli("data", "check", path, "--require", r"legal advice\.$")
    assert bad.exit_code == 1 and f"{path}:1: require:" in bad.output
    assert run_cli("data", "check", path, "--require", "(").exit_code == 2


def test_split_is_deterministic_stratified_and_keeps_groups(tmp_path: Path) -> None:
    a = split_file(SAMPLE, tmp_path / "a", stratify=True, label_field="category", seed=5)
    b = split_file(SAMPLE, tmp_path / "b", stratify=True, label_field="category", seed=5)
    for name in ("train", "validation", "test"):
        assert (tmp_path / "a" / f"{name}.jsonl").read_bytes() == (tmp_path / "b" / f"{name}.jsonl").read_bytes()
    assert a.counts == b.counts and sum(a.counts.values()) == 116
    assert abs(a.counts["train"] - 0.8 * 116) <= 4
    # every class is present in train in about its overall share
    assert a.label_counts["train"]["billing"] > a.label_counts["train"]["other"] > 0
    lines = {name: set((tmp_path / "a" / f"{name}.jsonl").read_text().splitlines()) for name in a.counts}
    src = SAMPLE.read_text().splitlines()
    for g in find_duplicates(SAMPLE).groups:
        homes = {name for name, content in lines.items() for line in g.lines if src[line - 1] in content}
        assert len(homes) == 1, g
    c = split_file(SAMPLE, tmp_path / "c", seed=6)
    assert (tmp_path / "c" / "train.jsonl").read_bytes() != (tmp_path / "a" / "train.jsonl").read_bytes()
    assert sum(c.counts.values()) == 116


def test_split_rejects_bad_ratios_and_free_text_stratify(tmp_path: Path, run_cli) -> None:
    r = run_cli("data", "split", SAMPLE, "--out", tmp_path, "--ratios", "0.8,0.3")
    assert r.exit_code == 2 and "add up to 1" in r.output
    path = write(tmp_path / "free.jsonl", [chat(q, f"A long unique answer {i}") for i, q in enumerate(QUESTIONS)])
    r = run_cli("data", "split", path, "--out", tmp_path / "s", "--stratify")
    assert r.exit_code == 2 and "--label-field" in r.output
    assert not (tmp_path / "s").exists() or not any((tmp_path / "s").iterdir())


def test_convert_alpaca_sharegpt_csv(tmp_path: Path) -> None:
    alpaca = tmp_path / "a.json"
    alpaca.write_text(
        json.dumps(
            [
                {"instruction": "Translate", "input": "bonjour", "output": "hello"},
                {"instruction": "Say hi", "input": "", "output": "hi"},
            ]
        )
    )
    out = tmp_path / "a.jsonl"
    assert convert_file(alpaca, out, system="Be brief.") == 2
    first = json.loads(out.read_text().splitlines()[0])
    assert first == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Translate\n\nbonjour"},
            {"role": "assistant", "content": "hello"},
        ]
    }
    share = write(
        tmp_path / "s.jsonl", [{"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}]
    )
    assert convert_file(share, tmp_path / "s_out.jsonl") == 1
    assert json.loads((tmp_path / "s_out.jsonl").read_text())["messages"][1] == {
        "role": "assistant",
        "content": "hello",
    }
    csv_path = tmp_path / "p.csv"
    csv_path.write_text('question,answer\n"What, exactly?","This."\nWhy,Because\n')
    assert convert_file(csv_path, tmp_path / "c.jsonl") == 2
    assert json.loads((tmp_path / "c.jsonl").read_text().splitlines()[0])["messages"][0]["content"] == "What, exactly?"


def test_convert_errors_name_the_line_and_leave_nothing(tmp_path: Path, run_cli) -> None:
    bad = write(tmp_path / "b.jsonl", [{"instruction": "x", "output": "y"}, {"instruction": "x", "output": 3}])
    out = tmp_path / "out.jsonl"
    with pytest.raises(InputError, match=r"b.jsonl:2: field 'output' must be a string"):
        convert_file(bad, out)
    assert not out.exists() and list(tmp_path.glob(".out.jsonl*")) == []
    r = run_cli("data", "convert", bad, "--out", out)
    assert r.exit_code == 2 and "b.jsonl:2" in r.output and not out.exists()
