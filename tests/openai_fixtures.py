"""Helpers to serve the recorded OpenAI responses in fixtures/openai/ through httpx2-pytest."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.conftest import FIXTURES

API = "https://api.openai.com/v1"
TEST_KEY = "sk-test-not-a-real-key-0123456789abcdefKey1"


def load(name: str) -> Any:
    return json.loads((FIXTURES / "openai" / f"{name}.json").read_text())


def url(path: str) -> re.Pattern[str]:
    """Match API_BASE + path with any query string."""
    return re.compile(re.escape(API + path) + r"(\?.*)?$")


def respond(
    mock: Any,
    method: str,
    path: str,
    name: str,
    status: int = 200,
    headers: dict | None = None,
    reusable: bool = False,
    **changes: Any,
) -> None:
    body = load(name)
    body.update(changes)
    mock.add_response(
        method=method, url=url(path), json=body, status_code=status, headers=headers or {}, is_reusable=reusable
    )
