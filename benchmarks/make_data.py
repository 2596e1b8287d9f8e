"""Generate benchmark datasets: unique texts, or one shared system prompt (the common case).

Usage: python benchmarks/make_data.py OUT.jsonl [--examples 100000] [--shared-system] [--near-dup-rate 0.1]
Texts are pseudo-English from a seeded generator, ~1.15 KB per example by default (~115 MB for 100,000).
"""

from __future__ import annotations

import argparse
import json
import random

SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ten",
    "ver",
    "sa",
    "pol",
    "ri",
    "dun",
    "ex",
    "or",
    "an",
    "qua",
    "zel",
    "fi",
    "mo",
    "tra",
    "gen",
    "ul",
    "bis",
    "cor",
    "den",
    "ef",
    "hal",
    "jor",
    "lin",
    "nu",
    "pre",
    "sto",
    "wy",
]


def vocabulary(rng: random.Random, size: int = 6000) -> list[str]:
    words = {"".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 4))) for _ in range(size * 2)}
    return sorted(words)[:size]


def sentence(rng: random.Random, vocab: list[str], n_words: int) -> str:
    words = [rng.choice(vocab) for _ in range(n_words)]
    words[0] = words[0].capitalize()
    return " ".join(words) + rng.choice([".", "?", "!", "."])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--examples", type=int, default=100_000)
    ap.add_argument("--shared-system", action="store_true")
    ap.add_argument("--near-dup-rate", type=float, default=0.0)
    args = ap.parse_args()
    rng = random.Random(11)
    vocab = vocabulary(rng)
    shared = " ".join(sentence(rng, vocab, 12) for _ in range(4))
    prev_user = prev_answer = None
    with open(args.out, "w", encoding="utf-8") as f:
        for i in range(args.examples):
            system = shared if args.shared_system else " ".join(sentence(rng, vocab, 10) for _ in range(2))
            if prev_user and prev_answer and rng.random() < args.near_dup_rate:
                # a near-duplicate of the previous example: one word of the question changed, same answer
                words = prev_user.split()
                words[rng.randrange(len(words))] = rng.choice(vocab)
                user, answer = " ".join(words), prev_answer
            else:
                user = " ".join(sentence(rng, vocab, 14) for _ in range(5)) + f" Ref {i}."
                answer = " ".join(sentence(rng, vocab, 12) for _ in range(3))
            prev_user, prev_answer = user, answer
            row = {
                "messages": [
                    {"role": "system", "content": system},
                    {"role": "user", "content": user},
                    {"role": "assistant", "content": answer},
                ]
            }
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
