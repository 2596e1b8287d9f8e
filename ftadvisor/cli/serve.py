"""``ftadvisor serve``: the local backend behind OpenAI's HTTP API."""

from __future__ import annotations

import ipaddress

import click

from ftadvisor.cli.common import err, user_errors


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@click.command()
@click.option(
    "--host",
    default="127.0.0.1",
    show_default=True,
    help="Address to listen on; any other than loopback needs --api-key. Example: --host 0.0.0.0",
)
@click.option(
    "--port", type=click.IntRange(1, 65535), default=8000, show_default=True, help="Port. Example: --port 8000"
)
@click.option(
    "--api-key",
    "api_keys",
    multiple=True,
    help="A bearer key clients must send; repeatable (also "
    "FTADVISOR_SERVER_KEYS, comma-separated). Example: --api-key sk-local-team-a",
)
@click.option(
    "--keys-file",
    type=click.Path(exists=True, dir_okay=False),
    help="A file of bearer keys, one per line. Example: --keys-file keys.txt",
)
@click.option(
    "--model",
    "models",
    multiple=True,
    metavar="NAME=PATH",
    help="A base model clients may train and "
    "call, by name; repeatable (smollm2-135m-instruct is always there). Example: --model "
    "llama8b=/models/Llama-3.1-8B-Instruct",
)
@click.option(
    "--max-running",
    type=click.IntRange(min=1),
    help="Jobs trained at once; the others wait in a queue "
    "on disk (default: one per GPU, each on its own, or one on a CPU). Example: --max-running 2",
)
@click.option(
    "--max-queued",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Jobs that may wait; more are refused with 429. Example: --max-queued 10",
)
@click.option(
    "--max-upload-mb",
    type=click.IntRange(min=1),
    default=512,
    show_default=True,
    help="Largest file accepted. Example: --max-upload-mb 100",
)
@user_errors
def serve(
    host: str,
    port: int,
    api_keys: tuple[str, ...],
    keys_file: str | None,
    models: tuple[str, ...],
    max_running: int | None,
    max_queued: int,
    max_upload_mb: int,
) -> None:
    """Serve local fine-tuning and inference over OpenAI's API: code written for OpenAI keeps working with
    `base_url="http://HOST:PORT/v1"` (files, fine_tuning.jobs, models, chat.completions with streaming).

    \b
    Examples:
      ftadvisor serve --model tiny=/models/tiny
      ftadvisor serve --host 0.0.0.0 --api-key "$KEY" --model llama8b=/models/Llama-3.1-8B-Instruct
    """
    from ftadvisor.backends import get_backend
    from ftadvisor.errors import InputError

    try:
        import uvicorn

        from ftadvisor.server.app import ServerConfig, create_app, keys_from
    except ImportError as exc:
        raise InputError(f"`ftadvisor serve` needs the server extra: pip install 'ftadvisor[server]' ({exc})") from None
    keys = keys_from(api_keys, keys_file)
    if not keys and not _loopback(host):
        raise click.UsageError(f"refusing to listen on {host} without a key: pass --api-key (or serve on 127.0.0.1)")
    named = {}
    for pair in models:
        name, sep, path = pair.partition("=")
        if not sep or not name or not path:
            raise click.UsageError(f"--model {pair!r}: write NAME=PATH")
        named[name] = path
    app = create_app(
        ServerConfig(keys=keys, models=named, max_upload_bytes=max_upload_mb * 1024 * 1024, max_queued=max_queued),
        get_backend("local", max_running=max_running or "per-device"),
    )
    err.print(
        f"serving OpenAI's API on http://{host}:{port}/v1 ({len(keys)} key(s); models: "
        f"{', '.join(['smollm2-135m-instruct', *named])})"
    )
    uvicorn.run(app, host=host, port=port, log_level="warning")
