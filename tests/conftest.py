from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"

_shared = ROOT.parent / "shared" / "tiktoken"
if not os.environ.get("TIKTOKEN_CACHE_DIR") and _shared.is_dir():
    os.environ["TIKTOKEN_CACHE_DIR"] = str(_shared)
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Llama with a ChatML tokenizer (``local_backend.tiny``), built once per session; tests read
    it and never change it."""
    pytest.importorskip("transformers")
    from local_backend.tiny import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny") / "model")


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own config/data folder, so no user file leaks in."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("FTADVISOR_HOME", str(home))
    return home


@pytest.fixture
def standin_env(monkeypatch: pytest.MonkeyPatch):
    """Start a local stand-in of OpenAI's API with the given faults and point the SDK at it."""
    from tests.openai_standin import Faults, StandIn

    started: list[StandIn] = []

    def start(faults: Faults | None = None) -> StandIn:
        s = StandIn(faults).__enter__()
        monkeypatch.setenv("OPENAI_API_KEY", STANDIN_KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", s.url)
        started.append(s)
        return s

    yield start
    for s in started:
        s.__exit__(None, None, None)


STANDIN_KEY = "sk-test-standin-0123456789abcdef"


@pytest.fixture
def run_cli():
    """Invoke the CLI in-process; returns click's Result (stdout and stderr separate)."""
    from click.testing import CliRunner

    from ftadvisor.cli import cli

    def run(*args: str):
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=True)

    return run
