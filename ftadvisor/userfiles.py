"""Reading files the user names, with one clear line (file and reason) instead of a traceback."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ftadvisor.errors import InputError


def read_text(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of ``path`` (a BOM is dropped)."""
    p = Path(path)
    try:
        return p.read_text(encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InputError(f"{p}: no such {what}") from exc
    except IsADirectoryError as exc:
        raise InputError(f"{p}: is a folder, not a {what}") from exc
    except OSError as exc:
        raise InputError(f"{p}: cannot read the {what}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: the {what} is not valid UTF-8 (byte {exc.start + 1})") from exc


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """The parsed JSON of ``path``."""
    try:
        return json.loads(read_text(path, what))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
