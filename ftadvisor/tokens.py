"""Exact token accounting: model → encoding, and OpenAI-cookbook-compatible chat token counts.

Counting follows the cookbook's ``num_tokens_from_messages``: 3 tokens per message, the tokens of every
value, +1 when the key is ``name``, and +3 for the reply priming. Unlike the cookbook, ``weight`` is not
counted, ``None`` counts 0, and structured values (``tool_calls``, ``function_call``, content parts) are
serialised as compact JSON and counted instead of crashing. Special-token strings are counted as text.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import Any

from ftadvisor.errors import EncodingUnavailable, UnknownModel

TOKENS_PER_MESSAGE = 3
TOKENS_PER_NAME = 1
REPLY_PRIMING = 3
ENCODINGS = ("o200k_base", "cl100k_base")

# Checked in order; the first prefix that matches the bare base model wins.
_PREFIX_TO_ENCODING: tuple[tuple[str, str], ...] = (
    ("gpt-4o", "o200k_base"),
    ("chatgpt-4o", "o200k_base"),
    ("gpt-4.1", "o200k_base"),
    ("gpt-4.5", "o200k_base"),
    ("gpt-5", "o200k_base"),
    ("gpt-6", "o200k_base"),
    ("gpt-oss", "o200k_base"),
    ("o1", "o200k_base"),
    ("o3", "o200k_base"),
    ("o4", "o200k_base"),
    ("gpt-3.5", "cl100k_base"),
    ("gpt-35", "cl100k_base"),
    ("gpt-4", "cl100k_base"),
    ("davinci-002", "cl100k_base"),
    ("babbage-002", "cl100k_base"),
    ("text-embedding-3", "cl100k_base"),
    ("text-embedding-ada-002", "cl100k_base"),
)
_OUTPUT_KEYS = frozenset({"content", "tool_calls", "function_call"})
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{4})$")


def base_model(model: str) -> str:
    """The base model of a model id: ``ft:gpt-4.1-mini-2025-04-14:acme::abc`` → ``gpt-4.1-mini-2025-04-14``."""
    model = model.strip()
    if model.startswith("ft:"):
        model = model[3:].split(":", 1)[0]
    return model.split(".ft-", 1)[0]  # Azure names its fine-tunes <base>.ft-<id>


def is_fine_tune(model: str) -> bool:
    """Whether ``model`` names a fine-tuned model (``ft:...`` on OpenAI, ``<base>.ft-<id>`` on Azure)."""
    return base_model(model) != model.strip()


def model_family(model: str) -> str:
    """The base model without its snapshot date: ``gpt-4o-mini-2024-07-18`` → ``gpt-4o-mini``."""
    return _SNAPSHOT.sub("", base_model(model))


def encoding_name_for_model(model: str) -> str:
    """The tiktoken encoding a model uses. Unlike tiktoken's own table, ``ft:gpt-4.1*`` maps to o200k_base."""
    family = model_family(model).lower()
    for prefix, encoding in _PREFIX_TO_ENCODING:
        if family.startswith(prefix):
            return encoding
    raise UnknownModel(
        f"unknown model {model!r}: cannot tell its tokenizer; pass --encoding ({' or '.join(ENCODINGS)})"
    )


# Encodings shipped in ftadvisor/encodings (tiktoken's cache layout): exact counts with no network.
PACKAGED_ENCODINGS = ("cl100k_base", "o200k_base")


@contextmanager
def _packaged_cache() -> Iterator[None]:
    """Point tiktoken's cache at the packaged files while it loads one of them (it reads the variable at
    that moment and checks each file's SHA-256), then put the user's setting back."""
    from importlib import resources

    before = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(resources.files("ftadvisor") / "encodings")
    try:
        yield
    finally:
        if before is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = before


@cache
def get_encoding(name: str) -> Any:
    """Load a tiktoken encoding (the packaged file for the two the product uses, so no download is ever
    needed for them), turning an offline download failure for any other into one clear message."""
    import tiktoken

    try:
        if name in PACKAGED_ENCODINGS:
            with _packaged_cache():
                return tiktoken.get_encoding(name)
        return tiktoken.get_encoding(name)
    except ValueError as exc:  # unknown encoding name
        raise EncodingUnavailable(f"unknown encoding {name!r}: use one of {', '.join(ENCODINGS)}") from exc
    except Exception as exc:  # network errors come from requests/urllib3, with varied types
        where = os.environ.get("TIKTOKEN_CACHE_DIR") or "(TIKTOKEN_CACHE_DIR is not set)"
        raise EncodingUnavailable(
            f"tiktoken encoding {name!r} is not cached and could not be downloaded; set TIKTOKEN_CACHE_DIR "
            f"to a folder holding its cache file (looked in {where})"
        ) from exc


def serialise(value: Any) -> str:
    """The text counted for a structured (non-string) value: compact JSON."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


class TokenCounter:
    """Counts tokens with one encoding, counting each distinct text once (bounded cache)."""

    def __init__(self, encoding: str | Any, *, cache_size: int = 4096) -> None:
        self.encoding = get_encoding(encoding) if isinstance(encoding, str) else encoding
        self.encoding_name: str = self.encoding.name
        self._encode = self.encoding.encode_ordinary
        self._cache: dict[str, int] = {}
        self._cache_size = cache_size

    @classmethod
    def for_model(cls, model: str, encoding: str | None = None) -> TokenCounter:
        return cls(encoding or encoding_name_for_model(model))

    def text(self, text: str) -> int:
        """Tokens of a plain text, no chat framing."""
        n = self._cache.get(text)
        if n is None:
            n = len(self._encode(text))
            if len(self._cache) >= self._cache_size:
                self._cache.clear()
            self._cache[text] = n
        return n

    def value(self, value: Any) -> int:
        if value.__class__ is str:
            return self.text(value)
        if value is None:
            return 0
        return self.text(value if isinstance(value, str) else serialise(value))

    def message(self, message: Mapping[str, Any]) -> int:
        """Tokens of one message inside a chat, without the reply priming."""
        return self._message(message)[0]

    def _message(self, message: Mapping[str, Any]) -> tuple[int, int]:
        """(tokens of the message, tokens of its assistant output: content and tool calls)."""
        n = TOKENS_PER_MESSAGE
        out = 0
        is_assistant = message.get("role") == "assistant"
        value_tokens = self.value
        for key, value in message.items():
            if key == "weight":
                continue
            k = value_tokens(value)
            n += k
            if key == "name":
                n += TOKENS_PER_NAME
            elif is_assistant and key in _OUTPUT_KEYS:
                out += k
        return n, out

    def messages(self, messages: Iterable[Mapping[str, Any]]) -> int:
        """Tokens of a chat as the model sees it, reply priming included."""
        return self.chat(messages)[0]

    def chat(self, messages: Iterable[Mapping[str, Any]]) -> tuple[int, int]:
        """(chat tokens as in :meth:`messages`, assistant tokens as in :meth:`assistant`) in one pass."""
        total, assistant = REPLY_PRIMING, 0
        for m in messages:
            n, out = self._message(m)
            total += n
            assistant += out
        return total, assistant

    def assistant(self, messages: Iterable[Mapping[str, Any]]) -> int:
        """Tokens of assistant output (content and tool calls), no framing: the cookbook's assistant count."""
        return self.chat(messages)[1]


def count_chat_tokens(messages: Iterable[Mapping[str, Any]], model: str, encoding: str | None = None) -> int:
    """Tokens of a chat for ``model`` (or an explicit ``encoding``), cookbook method."""
    return TokenCounter.for_model(model, encoding).messages(messages)


def count_text_tokens(text: str, model: str, encoding: str | None = None) -> int:
    """Tokens of a plain text for ``model`` (or an explicit ``encoding``)."""
    return TokenCounter.for_model(model, encoding).text(text)
