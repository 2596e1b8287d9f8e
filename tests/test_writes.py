"""Writes that cannot destroy (shared/review/reliability.md, section B): an output never replaces an input,
a symlink's target is written and the link kept, devices, FIFOs and folders are refused, permissions follow
the umask or the file being replaced, and no input line disappears without a word."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

LINE = {"messages": [{"role": "user", "content": "q{}"}, {"role": "assistant", "content": "a{}"}]}


def dataset(path: Path, n: int = 12, bad: tuple[int, ...] = ()) -> Path:
    lines = []
    for i in range(1, n + 1):
        if i in bad:
            lines.append("{not json" if i % 2 else "null")
        else:
            lines.append(json.dumps(LINE).replace("{}", f" number {i} " + "word " * i))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_split_into_the_folder_of_its_input_never_replaces_it(run_cli, tmp_path: Path) -> None:
    """out:split_over_input: `data split d/train.jsonl --out d` replaced the input with its train split."""
    src = dataset(tmp_path / "train.jsonl", bad=(3, 8))
    before = src.read_bytes()
    r = run_cli("data", "split", src, "--out", tmp_path)
    assert r.exit_code == 2 and "is also an input" in r.output and "Traceback" not in r.output
    assert src.read_bytes() == before
    assert not (tmp_path / "validation.jsonl").exists()


def test_split_reports_the_lines_it_leaves_out(run_cli, tmp_path: Path) -> None:
    src = dataset(tmp_path / "data.jsonl", bad=(3, 8))
    r = run_cli("data", "split", src, "--out", tmp_path / "s", "--json")
    assert r.exit_code == 0, r.output
    report = json.loads(r.stdout)
    assert report["left_out"] == [3, 8] and sum(report["counts"].values()) == 10
    assert "2 line(s) are not JSON objects and are in no split (lines 3, 8)" in r.stderr


@pytest.mark.parametrize("ratios", ["nan,0.5,0.5", "0.9,nan,0.1", "inf,0,0"])
def test_split_ratios_must_be_finite(run_cli, tmp_path: Path, ratios: str) -> None:
    r = run_cli("data", "split", dataset(tmp_path / "d.jsonl"), "--out", tmp_path / "s", "--ratios", ratios)
    assert r.exit_code == 2 and "--ratios" in r.output


def test_dedup_and_convert_refuse_to_write_over_their_input(run_cli, tmp_path: Path) -> None:
    src = dataset(tmp_path / "d.jsonl")
    before = src.read_bytes()
    assert run_cli("data", "dedup", src, "--write", src).exit_code == 2
    link = tmp_path / "link.jsonl"
    link.symlink_to(src)
    r = run_cli("data", "dedup", src, "--write", link)  # the same file through a link
    assert r.exit_code == 2 and "is also an input" in r.output
    sharegpt = tmp_path / "sg.jsonl"
    sharegpt.write_text(
        json.dumps({"conversations": [{"from": "human", "value": "hi"}, {"from": "gpt", "value": "hello"}]}) + "\n"
    )
    assert run_cli("data", "convert", sharegpt, "--out", sharegpt, "--from", "sharegpt").exit_code == 2
    assert src.read_bytes() == before


def test_a_symlink_output_writes_its_target_and_stays_a_link(run_cli, tmp_path: Path) -> None:
    """out:convert_symlink: the link was replaced by a regular file and its target never written."""
    real = tmp_path / "real.jsonl"
    real.write_text("old\n")
    link = tmp_path / "link.jsonl"
    link.symlink_to(real)
    r = run_cli("data", "dedup", dataset(tmp_path / "d.jsonl"), "--write", link)
    assert r.exit_code == 0, r.output
    assert link.is_symlink() and real.read_text().count("\n") == 12


@pytest.mark.parametrize("kind", ["fifo", "chardev", "folder"])
def test_devices_fifos_and_folders_are_refused(run_cli, tmp_path: Path, kind: str) -> None:
    """out:convert_devnode, out:dedup_stdout_link, out:dedup_dir."""
    target = tmp_path / "target"
    if kind == "fifo":
        os.mkfifo(target)
    elif kind == "chardev":
        if os.geteuid() != 0:
            pytest.skip("mknod of a device needs root")
        os.mknod(target, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # a copy of /dev/null
    else:
        target.mkdir()
    r = run_cli("data", "dedup", dataset(tmp_path / "d.jsonl"), "--write", target)
    assert r.exit_code == 2 and "Traceback" not in r.output
    assert "not a regular file" in r.output or "folder" in r.output
    mode = os.lstat(target).st_mode
    assert {"fifo": stat.S_ISFIFO, "chardev": stat.S_ISCHR, "folder": stat.S_ISDIR}[kind](mode)


def test_permissions_follow_the_umask_or_the_replaced_file(run_cli, tmp_path: Path) -> None:
    """out:perms: every file came out 0600."""
    old = os.umask(0o022)
    try:
        r = run_cli("data", "split", dataset(tmp_path / "d.jsonl"), "--out", tmp_path / "s")
        assert r.exit_code == 0, r.output
        assert {stat.S_IMODE(p.stat().st_mode) for p in (tmp_path / "s").iterdir()} == {0o644}
        existing = tmp_path / "kept.jsonl"
        existing.write_text("x\n")
        existing.chmod(0o640)
        assert run_cli("data", "dedup", tmp_path / "d.jsonl", "--write", existing).exit_code == 0
        assert stat.S_IMODE(existing.stat().st_mode) == 0o640
    finally:
        os.umask(old)


def test_an_output_under_a_file_is_one_line(run_cli, tmp_path: Path) -> None:
    """out:split_outfile: `--out good.jsonl` gave FileExistsError."""
    src = dataset(tmp_path / "d.jsonl")
    r = run_cli("data", "split", src, "--out", src)
    assert r.exit_code == 2 and "Traceback" not in r.output
