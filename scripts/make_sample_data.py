"""Generate the built-in sample dataset: support-ticket triage with JSON answers.

Deterministic (seeded). It deliberately carries what the toolkit should catch: class imbalance,
a few exact and near-duplicate tickets, and two tickets whose label contradicts an identical twin.
Run: python scripts/make_sample_data.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "support_tickets.jsonl"
SYSTEM = (
    "You triage customer support tickets for Northwind Software. Reply with one JSON object: "
    '{"category": billing|technical|account|shipping|other, "priority": low|normal|high}.'
)

TEMPLATES = {
    "billing": [
        "I was charged twice for my {plan} subscription this month.",
        "The invoice {ref} shows the wrong VAT number for our company.",
        "Can I get a refund for the {plan} plan? I cancelled within {n} days.",
        "My card was declined but the money left my account ({ref}).",
        "Why did my bill go up by {n} percent without notice?",
        "Please send a copy of invoice {ref} to our accounts team.",
    ],
    "technical": [
        "The desktop app crashes when I open a file larger than {n} MB.",
        "Sync has been stuck at {n} percent since this morning.",
        "After the update to version {ver} the export button does nothing.",
        "I get error code {ref} whenever I try to log in from the mobile app.",
        "The API returns 500 for every request to /reports since {ver}.",
    ],
    "account": [
        "Please change the email address on my account to the new {company} domain.",
        "I need to add {n} more seats to our {plan} workspace.",
        "How do I transfer ownership of the {company} workspace to a colleague?",
        "I locked myself out after {n} failed password attempts.",
    ],
    "shipping": [
        "The hardware token I ordered ({ref}) has not arrived after {n} days.",
        "The parcel {ref} arrived damaged; the box was crushed.",
    ],
    "other": [
        "Do you have a student discount on the {plan} plan?",
        "Who should I talk to about a partnership with {company}?",
        "Is there a way to send you feedback about the {plan} onboarding?",
    ],
}
OPENERS = ["", "Hi,", "Hello team,", "Good morning,", "Hey there,", "Dear support,", "Hi Northwind,"]
DETAILS = {
    "billing": [
        "Our finance team noticed it during the monthly close.",
        "I have attached the statement.",
        "This happened right after we upgraded.",
        "The amount was {n} euros.",
    ],
    "technical": [
        "I already tried reinstalling and clearing the cache.",
        "It happens on Windows and macOS.",
        "Three colleagues see the same thing.",
        "The log says something about a timeout.",
    ],
    "account": [
        "I am the workspace administrator.",
        "Our IT policy requires this by Friday.",
        "My manager approved the change.",
        "We are reorganising our teams.",
    ],
    "shipping": [
        "The tracking page has not changed for a week.",
        "We need it for a new starter on Monday.",
        "The delivery address is our Leeds office.",
    ],
    "other": ["Just curious.", "A friend recommended you.", "I could not find it on your website."],
}
CLOSINGS = ["", "Thanks.", "Thank you!", "Regards, {name}", "Cheers, {name}", "Best, {name}", "Kind regards."]
NAMES = ["Priya", "Tom", "Aiko", "Lars", "Fatima", "Diego", "Chloe", "Ben", "Ngozi", "Mateo"]
WEIGHTS = {"billing": 40, "technical": 30, "account": 22, "shipping": 12, "other": 8}
URGENT = ("Please treat this as urgent.", "We need this fixed today.", "Production is down for us.")


def ticket(rng: random.Random, category: str) -> tuple[str, str]:
    parts = [rng.choice(OPENERS), rng.choice(TEMPLATES[category])]
    if rng.random() < 0.7:
        parts.append(rng.choice(DETAILS[category]))
    priority = "normal"
    if rng.random() < 0.25:
        parts.append(rng.choice(URGENT))
        priority = "high"
    elif rng.random() < 0.2:
        parts.append("No rush.")
        priority = "low"
    parts.append(rng.choice(CLOSINGS))
    text = " ".join(p for p in parts if p).format(
        name=rng.choice(NAMES),
        plan=rng.choice(["Starter", "Team", "Business", "Enterprise"]),
        ref=f"#{rng.randint(10000, 99999)}",
        n=rng.randint(2, 90),
        ver=f"{rng.randint(3, 5)}.{rng.randint(0, 12)}",
        company=rng.choice(["Acme", "Globex", "Initech", "Umbrella", "Hooli", "Vandelay"]),
    )
    return text, priority


def example(text: str, category: str, priority: str) -> dict:
    answer = json.dumps({"category": category, "priority": priority})
    return {
        "messages": [
            {"role": "system", "content": SYSTEM},
            {"role": "user", "content": text},
            {"role": "assistant", "content": answer},
        ]
    }


def main() -> None:
    rng = random.Random(7)
    rows, seen = [], set()
    for category, count in WEIGHTS.items():
        while sum(r[2] == category for r in rows) < count:
            text, priority = ticket(rng, category)
            if text not in seen:
                seen.add(text)
                rows.append((text, priority, category))
    rng.shuffle(rows)
    examples = [example(text, category, priority) for text, priority, category in rows]
    # Exact duplicates, a near-duplicate (one word changed), and a contradicting twin.
    examples.insert(20, examples[3])
    examples.insert(45, examples[10])
    near = json.loads(json.dumps(examples[5]))
    near["messages"][1]["content"] += " Thanks."
    examples.insert(60, near)
    twin = json.loads(json.dumps(examples[7]))
    twin["messages"][2]["content"] = json.dumps({"category": "other", "priority": "normal"})
    examples.insert(90, twin)
    OUT.write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in examples), encoding="utf-8")
    print(f"{len(examples)} examples -> {OUT}")


if __name__ == "__main__":
    main()
