"""Errors that mean "the user gave us something we cannot use": printed as one line, never a traceback."""

from __future__ import annotations


class FtAdvisorError(Exception):
    """A user-facing error. ``exit_code`` 2 means bad usage or input, 1 means the checked thing failed."""

    exit_code = 2

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class InputError(FtAdvisorError):
    """A file or option the user passed cannot be read or understood."""


class EncodingUnavailable(FtAdvisorError):
    """A tiktoken encoding is not cached and cannot be downloaded."""


class UnknownModel(FtAdvisorError):
    """A model name we cannot map to an encoding or a catalogue row."""


class ProviderError(FtAdvisorError):
    """A provider failed or answered something unreadable (a 5xx, a dropped connection, a malformed body):
    often transient, so watchers retry it a few times before giving up."""

    exit_code = 1
