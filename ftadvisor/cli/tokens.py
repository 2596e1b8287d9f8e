"""``ftadvisor tokens``: exact token counts for a model."""

from __future__ import annotations

from pathlib import Path

import click

from ftadvisor.cli.common import json_option, out, print_json, user_errors
from ftadvisor.errors import InputError
from ftadvisor.tokens import ENCODINGS, TokenCounter, encoding_name_for_model
from ftadvisor.userfiles import read_json


@click.group()
def tokens() -> None:
    """Count tokens exactly, with the model's own encoding."""


def _load_messages(path: Path) -> list[dict]:
    data = read_json(path, "messages file")
    if isinstance(data, dict):
        data = data.get("messages")
    if not isinstance(data, list) or not all(isinstance(m, dict) for m in data):
        raise InputError(f"{path}: expected a JSON array of messages or an object with a 'messages' array")
    return data


@tokens.command("count")
@click.option("--model", "-m", help="Model whose tokenizer to use; ft: ids work. Example: --model gpt-4.1-mini")
@click.option(
    "--messages",
    "messages_file",
    type=click.Path(path_type=Path),
    help='JSON file with a messages array (or {"messages": [...]}); counts the chat with framing. '
    "Example: --messages chat.json",
)
@click.option("--text", help="Plain text to count, no chat framing. Example: --text 'Hello world'")
@click.option(
    "--encoding",
    type=click.Choice(ENCODINGS),
    help="Use this encoding instead of the model's. Example: --encoding cl100k_base",
)
@json_option
@user_errors
def count(model: str | None, messages_file: Path | None, text: str | None, encoding: str | None, as_json: bool) -> None:
    """Count the tokens of a chat (cookbook method) or of a plain text.

    \b
    Examples:
      ftadvisor tokens count --model gpt-4o-mini --messages chat.json
      ftadvisor tokens count --model ft:gpt-4.1-mini-2025-04-14:acme::x1 --text "Hi" --json
    """
    if (messages_file is None) == (text is None):
        raise click.UsageError("give exactly one of --messages FILE or --text TEXT")
    if model is None and encoding is None:
        raise click.UsageError("give --model (or --encoding)")
    name = encoding or encoding_name_for_model(model or "")
    counter = TokenCounter(name)
    if messages_file is not None:
        n = counter.messages(_load_messages(messages_file))
    else:
        n = counter.text(text or "")
    if as_json:
        print_json({"tokens": n, "encoding": name, "model": model})
    else:
        out.print(f"{n} tokens ({name})")
