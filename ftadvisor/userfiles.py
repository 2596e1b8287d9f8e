"""Reading files the user names, with one clear line (file and reason) instead of a traceback."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

from ftadvisor.errors import InputError


def require_regular_file(path: str | Path, what: str = "file") -> Path:
    """``path`` if it is a regular file; a folder, FIFO, device or socket is refused before it is opened (a FIFO
    without a writer would block forever)."""
    p = Path(path)
    try:
        mode = p.stat().st_mode
    except FileNotFoundError as exc:
        raise InputError(f"{p}: no such {what}") from exc
    except OSError as exc:
        raise InputError(f"{p}: cannot read the {what}: {exc.strerror}") from exc
    if stat.S_ISDIR(mode):
        raise InputError(f"{p}: is a folder, not a {what}")
    if not stat.S_ISREG(mode):
        raise InputError(f"{p}: is not a regular file (a FIFO, device or socket); give a {what} on disk")
    return p


def read_text(path: str | Path, what: str = "file") -> str:
    """The UTF-8 text of ``path`` (a BOM is dropped)."""
    p = require_regular_file(path, what)
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
    except RecursionError:
        raise InputError(f"{path}: nested too deeply to be a {what}") from None
    except ValueError as exc:  # e.g. an integer of more than 4,300 digits
        raise InputError(f"{path}: not a usable {what}: {exc}") from None
