"""Regular expressions the user writes (``--require``, evaluation rules, regression prompts), run with a time
limit: a pattern such as ``(a+)+$`` can backtrack for hours on one answer, so each match gets
``TIMEOUT_S`` seconds (the ``regex`` package's timeout) and a pattern that exceeds it is named in one line."""

from __future__ import annotations

import regex

from ftadvisor.errors import InputError

TIMEOUT_S = 1.0


class UserPattern:
    """A compiled user pattern; ``where`` names the option or file it came from in every error."""

    def __init__(self, pattern: str, where: str, *, flags: int = 0) -> None:
        try:
            self.compiled = regex.compile(pattern, flags)
        except (regex.error, TypeError) as exc:
            raise InputError(f"{where} {pattern!r}: not a valid regular expression: {exc}") from exc
        self.pattern = pattern
        self.where = where

    def search(self, text: str) -> bool:
        try:
            return self.compiled.search(text, timeout=TIMEOUT_S) is not None
        except TimeoutError:
            raise InputError(
                f"{self.where} {self.pattern!r}: took more than {TIMEOUT_S:g} s on one text "
                "(catastrophic backtracking, as in (a+)+$); simplify the pattern"
            ) from None


MULTILINE = regex.M
IGNORECASE = regex.I
