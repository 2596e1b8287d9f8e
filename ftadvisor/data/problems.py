"""A problem found in a dataset, located by line and message index."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]

# Categories that are only counted (stats, summaries), never listed line by line.
COUNTED_ONLY = frozenset({"missing_system", "missing_user"})

WARNINGS = frozenset(
    {
        "missing_system",
        "missing_user",
        "too_long",
        "dpo_identical_outputs",
        "rft_no_reference",
        "unmatched_tool_call_id",
    }
)


@dataclass(frozen=True, slots=True)
class Problem:
    """``line`` is 1-based (0 for the whole file); ``message`` the 0-based index in ``messages``."""

    line: int
    category: str
    explanation: str
    message: int | None = None

    @property
    def severity(self) -> Severity:
        return "warning" if self.category in WARNINGS else "error"

    def shifted(self, offset: int) -> Problem:
        return Problem(self.line + offset, self.category, self.explanation, self.message) if offset else self

    def format(self, filename: str) -> str:
        """``FILE:LINE[:message index]: category: explanation``; whole-file problems omit the line."""
        where = filename if self.line == 0 else f"{filename}:{self.line}"
        if self.message is not None:
            where += f":{self.message}"
        return f"{where}: {self.category}: {self.explanation}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "severity": self.severity}
