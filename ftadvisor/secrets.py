"""Keep API keys out of everything we print, log, store or raise."""

from __future__ import annotations

import os
import re

_KEY_PATTERN = re.compile(r"\b(sk-[A-Za-z0-9_\-*]{6,}|sess-[A-Za-z0-9]{10,}|Bearer\s+[A-Za-z0-9_\-.*]{8,})")
_ENV_SECRETS = ("OPENAI_API_KEY", "OPENAI_ADMIN_KEY", "OPENAI_WEBHOOK_SECRET")


def redact(text: str, *secrets: str | None) -> str:
    """``text`` with the given secrets, the known secret env vars and anything key-shaped replaced."""
    for secret in (*secrets, *(os.environ.get(name) for name in _ENV_SECRETS)):
        if secret and len(secret) >= 6:
            text = text.replace(secret, "[REDACTED]")
    return _KEY_PATTERN.sub("[REDACTED]", text)
