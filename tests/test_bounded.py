"""Bounded work (shared/review/reliability.md, sections D and H): a user regex cannot hang a command, a FIFO
or device is refused before it is opened, and near-duplicate search is exact and near-linear on the short
templated lines that made it quadratic."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftadvisor.data.dedup import _prefix_pairs, find_duplicates


def test_a_catastrophic_regex_is_stopped_and_named(run_cli, tmp_path: Path) -> None:
    """check:redos: `--require '(a+)+$'` hung on an answer of a's ending in b."""
    data = tmp_path / "redos.jsonl"
    data.write_text(
        json.dumps({"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a" * 40 + "b"}]})
        + "\n"
    )
    started = time.monotonic()
    r = run_cli("data", "check", data, "--require", "(a+)+$")  # the regex engine no longer backtracks on this one
    assert r.exit_code == 1 and "does not match" in r.output
    r = run_cli("data", "check", data, "--require", "(a|aa)+$")  # this one it does: stopped after 1 s
    assert r.exit_code == 2 and "took more than" in r.output and "(a|aa)+$" in r.output
    assert time.monotonic() - started < 20


@pytest.mark.parametrize(
    "command",
    [
        ["data", "validate"],
        ["data", "stats"],
        ["data", "dedup"],
        ["data", "check"],
        ["data", "split", "--out", "s"],
        ["data", "convert", "--out", "o.jsonl"],
        ["cost", "training", "-m", "gpt-4o-mini"],
    ],
)
def test_a_fifo_is_refused_before_it_is_opened(run_cli, tmp_path: Path, command: list[str]) -> None:
    """fs:fifo_nowriter: a FIFO without a writer blocked forever in open()."""
    fifo = tmp_path / "f.jsonl"
    os.mkfifo(fifo)
    r = run_cli(*command[:2], fifo, *command[2:])
    assert r.exit_code == 2 and "not a regular file" in r.output and "Traceback" not in r.output


def test_a_name_too_long_is_one_line(run_cli, tmp_path: Path) -> None:
    r = run_cli("data", "validate", tmp_path / ("x" * 300 + ".jsonl"))
    assert r.exit_code == 2 and "Traceback" not in r.output


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.sets(st.integers(0, 40), min_size=1, max_size=30), min_size=2, max_size=25),
    st.sampled_from([0.5, 0.7, 0.8, 0.9, 1.0]),
)
def test_prefix_filtering_finds_exactly_the_pairs_brute_force_finds(sets: list[set[int]], threshold: float) -> None:
    arrays = [np.array(sorted(s), dtype=np.uint64) for s in sets]
    found = {(a, b): sim for a, b, sim in _prefix_pairs(arrays, threshold)}
    truth = {}
    for j in range(len(sets)):
        for i in range(j + 1, len(sets)):
            sim = len(sets[i] & sets[j]) / len(sets[i] | sets[j])
            if sim >= threshold:
                truth[(j, i)] = sim
    assert found.keys() == truth.keys()
    assert all(found[k] == pytest.approx(truth[k]) for k in truth)


def test_prefix_filtering_is_exact_on_templated_lines() -> None:
    """Brute force over 2,000 templated lines, whose 5-gram sets overlap heavily (random small sets did not
    catch a wrong `assume_unique` in the vectorised check)."""
    from ftadvisor.data.dedup import MinHasher
    from ftadvisor.data.text import example_text

    h = MinHasher()
    sets = [
        h.shingles(
            example_text(
                {"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]},
                "sft",
                system=False,
            )
        )
        for i in range(2000)
    ]
    plain = [set(x.tolist()) for x in sets]
    truth = {
        (i, j)
        for i in range(len(plain))
        for j in range(i + 1, len(plain))
        if len(plain[i] & plain[j]) / len(plain[i] | plain[j]) >= 0.8
    }
    assert {(a, b) for a, b, _ in _prefix_pairs(sets, 0.8)} == truth


def test_templated_lines_stay_near_linear(tmp_path: Path) -> None:
    """big:dedup:m200k: 40k templated lines took 55 s and 200k did not finish in 300 s. The full figures
    (100k and 1M lines) are in benchmarks/bench_dedup.py; here: same groups as before, and 4x the lines
    costs well under 16x the time."""

    def make(n: int) -> Path:
        path = tmp_path / f"m{n}.jsonl"
        path.write_text(
            "".join(
                json.dumps({"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": "a"}]})
                + "\n"
                for i in range(n)
            )
        )
        return path

    small, large = make(5_000), make(20_000)
    t = time.perf_counter()
    report = find_duplicates(small)
    t_small = time.perf_counter() - t
    assert len(report.groups) == 4 and report.n_removable == 4  # as the review's m5000 run found
    t = time.perf_counter()
    report = find_duplicates(large)
    t_large = time.perf_counter() - t
    assert len(report.groups) == 36 and report.n_removable == 37  # as the review's m20000 run found
    assert t_large < 8 * t_small + 2
