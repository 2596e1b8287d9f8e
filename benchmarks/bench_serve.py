"""Serving throughput of `ftadvisor serve`: requests/s and tokens/s with 1, 4 and 16 concurrent clients, batched
(requests that arrive together are generated together) against one-by-one serving, on SmolLM2-135M-Instruct.

Usage: python benchmarks/bench_serve.py [--requests 16] [--max-tokens 32] [--rounds 3]
Each round runs every (clients, mode) pair once, alternating the modes; the figures are medians over rounds.
Both servers run in this process over the same loaded model (one uvicorn each, on 127.0.0.1), driven by the
official `openai` client from threads; every client asks its share of `--requests` distinct questions at
temperature 0 with `max_tokens`.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import openai
import uvicorn

from ftadvisor.server.app import ServerConfig, create_app
from local_backend import LocalBackend

MODEL = "smollm2-135m-instruct"


def start(backend: LocalBackend, max_batch: int) -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    app = create_app(ServerConfig(max_batch=max_batch), backend)
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=srv.run, daemon=True).start()
    while not srv.started:
        time.sleep(0.05)
    return f"http://127.0.0.1:{port}/v1"


def run(url: str, clients: int, requests: int, max_tokens: int) -> tuple[float, float]:
    """(requests/s, completion tokens/s) for ``requests`` chats spread over ``clients`` threads."""
    per_client = max(1, requests // clients)

    def one_client(i: int) -> int:
        c = openai.OpenAI(base_url=url, api_key="-", max_retries=0)
        tokens = 0
        for k in range(per_client):
            r = c.chat.completions.create(
                model=MODEL,
                max_tokens=max_tokens,
                temperature=0,
                messages=[{"role": "user", "content": f"Write one sentence about the number {i * 100 + k}."}],
            )
            tokens += r.usage.completion_tokens
        return tokens

    start_t = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        tokens = sum(pool.map(one_client, range(clients)))
    wall = time.perf_counter() - start_t
    return clients * per_client / wall, tokens / wall


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=16)
    ap.add_argument("--max-tokens", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as store:
        backend = LocalBackend(Path(store), max_running=1)
        backend.complete(MODEL, [{"role": "user", "content": "hi"}], max_tokens=1)  # load (and convert) once
        urls = {"batched": start(backend, 16), "one-by-one": start(backend, 1)}
        results: dict[tuple[int, str], list[tuple[float, float]]] = {}
        for r in range(args.rounds):
            for clients in (1, 4, 16):
                modes = list(urls) if r % 2 == 0 else list(urls)[::-1]  # alternate which goes first
                for mode in modes:
                    results.setdefault((clients, mode), []).append(
                        run(urls[mode], clients, args.requests, args.max_tokens)
                    )
    print(f"{args.requests} chats of up to {args.max_tokens} tokens, median of {args.rounds} rounds")
    for clients in (1, 4, 16):
        line = []
        for mode in urls:
            rps = statistics.median(x[0] for x in results[(clients, mode)])
            tps = statistics.median(x[1] for x in results[(clients, mode)])
            line.append(f"{mode}: {rps:.2f} req/s, {tps:.0f} tok/s")
        ratio = statistics.median(x[0] for x in results[(clients, "batched")]) / statistics.median(
            x[0] for x in results[(clients, "one-by-one")]
        )
        print(f"{clients:>2} clients: " + "; ".join(line) + f"; batched/one-by-one {ratio:.2f}x")


if __name__ == "__main__":
    main()
