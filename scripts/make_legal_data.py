"""Generate the demo dataset: a legal-support assistant that answers in numbered action items, in formal
British English, ending with the line "This response does not constitute legal advice." (the seeds' example).

Questions are composed from practice areas, situations and client details; answers from each area's pool
of action items, so no two examples are alike. Deterministic (seeded). Writes ftadvisor/sample_data/legal/:
train/validation/test.jsonl, system_prompt.txt (the long prompt that prompting would need), few_shot.jsonl
and dpo.jsonl. Run: python scripts/make_legal_data.py
"""

from __future__ import annotations

import json
import random
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "ftadvisor" / "sample_data" / "legal"
DISCLAIMER = "This response does not constitute legal advice."
SHORT_SYSTEM = "You are a legal support assistant for a UK law firm."

AREAS: dict[str, dict[str, list[str]]] = {
    "demand letter": {
        "questions": [
            "Our client {who} has received a demand letter from {other} claiming {amount}. What should we do?",
            "{who_cap} has been sent a letter before action by {other} for {amount}. How should we respond?",
            "A solicitor acting for {other} has written to {who} demanding payment of {amount} within {days} days. "
            "What are the next steps?",
        ],
        "items": [
            "Acknowledge receipt of the letter in writing within {days} days, without admitting liability.",
            "Instruct the client to refrain from any direct communication with {other}.",
            "Obtain and review every document referred to in the letter, including invoices and correspondence.",
            "Assess the merits of the claim and the client's potential exposure, including interest and costs.",
            "Check whether the Pre-Action Protocol for Debt Claims applies and diarise its deadlines.",
            "Consider whether a without-prejudice offer or mediation would be proportionate.",
            "Schedule a consultation with the client to agree a strategy before the deadline expires.",
        ],
    },
    "contract breach": {
        "questions": [
            "{other} has failed to deliver the goods under its supply contract with {who}. What can our client do?",
            "Our client {who} believes {other} is in breach of a services agreement worth {amount}. How should we "
            "proceed?",
            "What is the limitation period for a breach of contract claim by {who} against {other}?",
        ],
        "items": [
            "Review the contract in full, including the termination, limitation of liability and notice clauses.",
            "Establish whether the contract is written or oral, as this affects the evidence available.",
            "Note that the limitation period is generally six years from the breach for a simple contract and "
            "twelve years for a deed.",
            "Gather evidence of the breach and of the loss suffered, such as correspondence and invoices.",
            "Advise the client to mitigate its loss and to keep a record of the steps taken.",
            "Prepare a letter before claim setting out the breach, the loss and the remedy sought.",
            "Consider whether the dispute resolution clause requires negotiation or arbitration first.",
        ],
    },
    "employment dismissal": {
        "questions": [
            "{who_cap} has been dismissed after {years} years of service without a meeting. What are their options?",
            "Our client, an employee of {other}, was dismissed last week. Can they bring an unfair dismissal claim?",
            "An employee of {who} claims they were dismissed for raising a health and safety concern. What should "
            "the employer do?",
        ],
        "items": [
            "Confirm the length of continuous employment, as two years is normally required for unfair dismissal.",
            "Note the deadline of three months less one day from dismissal to start ACAS early conciliation.",
            "Obtain the contract of employment, the staff handbook and any disciplinary correspondence.",
            "Check whether the ACAS Code of Practice on disciplinary procedures was followed.",
            "Consider whether the reason for dismissal is automatically unfair, for example whistleblowing.",
            "Calculate the likely basic and compensatory award to assess the value of the claim.",
            "Advise the client to keep a written record of events and to preserve all relevant emails.",
        ],
    },
    "residential tenancy": {
        "questions": [
            "Our client {who} is a landlord whose tenant is {months} months in arrears. How can they regain "
            "possession?",
            "{who_cap}'s landlord has not protected the tenancy deposit. What can the tenant do?",
            "A tenant of {who} reports damp and mould that the landlord has ignored for {months} months. What are "
            "the next steps?",
        ],
        "items": [
            "Obtain a copy of the tenancy agreement and confirm the type of tenancy and its start date.",
            "Check whether the deposit was protected in an authorised scheme within thirty days.",
            "Review the rent account and all correspondence about arrears or repairs.",
            "Consider which notice is appropriate and ensure it is served in the prescribed form.",
            "Advise on the landlord's repairing obligations and the Homes (Fitness for Human Habitation) Act 2018.",
            "Recommend that every report of disrepair is made in writing and dated.",
            "Explain the possible court timetable and the costs of possession proceedings.",
        ],
    },
    "data protection": {
        "questions": [
            "{who_cap} has suffered a data breach affecting {count} customers. What must it do?",
            "A former customer has made a subject access request to {who}. How should our client respond?",
            "{other} is sending marketing emails to our client {who} without consent. What can be done?",
        ],
        "items": [
            "Establish what personal data was involved, how many individuals are affected and when it happened.",
            "Note the obligation to report a notifiable breach to the ICO within 72 hours of becoming aware of it.",
            "Assess whether the affected individuals must be informed without undue delay.",
            "Confirm that a subject access request must normally be answered within one calendar month.",
            "Review the organisation's records of processing and its privacy notice.",
            "Preserve logs and other evidence, and record every decision taken in response.",
            "Consider whether the Privacy and Electronic Communications Regulations have been breached.",
        ],
    },
    "debt recovery": {
        "questions": [
            "{other} owes our client {who} {amount} for unpaid invoices. How can we recover the money?",
            "Our client {who} has obtained a county court judgment against {other} for {amount}, but it remains "
            "unpaid. What next?",
            "Can {who} charge interest on invoices that {other} has paid {days} days late?",
        ],
        "items": [
            "Confirm the amount due and gather the invoices, contract and any acknowledgement of the debt.",
            "Send a letter before action that complies with the Pre-Action Protocol for Debt Claims.",
            "Consider statutory interest and compensation under the Late Payment of Commercial Debts "
            "(Interest) Act 1998.",
            "Check the debtor's solvency through Companies House and the Insolvency Register.",
            "Explain the enforcement options, including a writ of control and a charging order.",
            "Advise on issuing a claim through Money Claim Online if the debt remains unpaid.",
            "Keep a clear record of every payment reminder sent to the debtor.",
        ],
    },
    "intellectual property": {
        "questions": [
            "{other} is selling products under a name very similar to our client {who}'s registered trade mark. What "
            "can be done?",
            "Our client {who} found its website copy reproduced word for word by {other}. How should we proceed?",
            "{who_cap} wants to protect a new product name before launch. What should it do?",
        ],
        "items": [
            "Confirm the ownership, registration number and classes of the client's trade mark.",
            "Gather dated evidence of the infringing use, such as screenshots and test purchases.",
            "Assess the likelihood of confusion and any defences available to the other party.",
            "Consider sending a carefully worded cease and desist letter, avoiding unjustified threats.",
            "Search the UK IPO register for conflicting marks before filing a new application.",
            "Check who owns the copyright in the material and whether any licence was granted.",
            "Discuss the remedies available, including an injunction, damages or an account of profits.",
        ],
    },
    "consumer complaint": {
        "questions": [
            "A customer of our client {who} demands a full refund for a faulty product bought {days} days ago. Must "
            "our client pay?",
            "Our client {who} bought a car from {other} that broke down after {days} days. What rights does it have?",
            "How should {who} respond to a complaint that its online service was not provided with reasonable care?",
        ],
        "items": [
            "Establish the date of purchase, the price paid and the nature of the fault.",
            "Note the short-term right to reject within thirty days under the Consumer Rights Act 2015.",
            "Explain the right to a repair or replacement and, if that fails, a price reduction or final rejection.",
            "Check whether the contract was made at a distance, as the cancellation rules then apply.",
            "Review the terms and conditions for any term that may be unfair or unenforceable.",
            "Advise on keeping all receipts, photographs and correspondence about the complaint.",
            "Consider whether an alternative dispute resolution scheme is available to the parties.",
        ],
    },
}
WHO = [
    "Harrow Logistics Ltd",
    "Mrs Patel",
    "Brightwater Foods Ltd",
    "Mr Okafor",
    "Kestrel Design LLP",
    "Ms Lindqvist",
    "Thornbury Dental Practice",
    "Mr and Mrs Evans",
    "Northgate Software Ltd",
    "Dr Adeyemi",
]
OTHER = [
    "Castlegate Supplies Ltd",
    "a former business partner",
    "Meridian Finance plc",
    "a competitor",
    "a national retailer",
    "Albion Property Management",
    "a software vendor",
    "a marketing agency",
]
AMOUNTS = ["£4,500", "£12,800", "£27,350", "£63,000", "£1,950", "£148,000", "£8,725"]
PARAPHRASES = [
    "",
    " Please set out the steps.",
    " We need a clear plan for the client.",
    " The client is anxious to act quickly.",
    " What would you recommend?",
]


def fill(text: str, rng: random.Random, slots: dict[str, str]) -> str:
    return text.format(**slots)


def slots_for(rng: random.Random) -> dict[str, str]:
    who = rng.choice(WHO)
    return {
        "who": who,
        "who_cap": who[0].upper() + who[1:],
        "other": rng.choice(OTHER),
        "amount": rng.choice(AMOUNTS),
        "days": str(rng.choice([7, 10, 14, 21, 28])),
        "years": str(rng.randint(1, 12)),
        "months": str(rng.randint(2, 9)),
        "count": f"{rng.randint(2, 90) * 100:,}",
    }


def answer(area: str, rng: random.Random, slots: dict[str, str]) -> str:
    items = rng.sample(AREAS[area]["items"], rng.randint(3, 5))
    lines = [f"{i}. {fill(item, rng, slots)}" for i, item in enumerate(items, 1)]
    return "\n".join(lines) + f"\n\n{DISCLAIMER}"


def example(area: str, rng: random.Random, system: str) -> dict:
    slots = slots_for(rng)
    question = fill(rng.choice(AREAS[area]["questions"]), rng, slots) + rng.choice(PARAPHRASES)
    return {
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": question},
            {"role": "assistant", "content": answer(area, rng, slots)},
        ]
    }


def long_prompt() -> str:
    return "\n".join(
        [
            "You are a legal support assistant for Whitmore & Hale LLP, a law firm in England and Wales.",
            "Every answer must follow these rules without exception:",
            "1. Respond only with numbered action items (1., 2., 3., ...), one per line, three to five items.",
            "2. Write in formal British English: British spelling (organisation, authorise, colour), no contractions,",
            "   no slang, no exclamation marks, and refer to 'the client' rather than 'you'.",
            "3. Each item starts with a verb in the imperative (Acknowledge, Obtain, Review, Consider, Advise ...).",
            "4. Cite statutes and protocols by their full short title (e.g. Consumer Rights Act 2015).",
            "5. Never promise an outcome, never estimate a percentage chance of success.",
            "6. After the last item, leave one blank line, then end with exactly this line:",
            f"   {DISCLAIMER}",
            "7. Do not add headings, summaries, greetings or sign-offs.",
            "8. If the question falls outside English law, say so in the first item and advise local counsel.",
        ]
    )


def main() -> None:
    rng = random.Random(2026)
    OUT.mkdir(parents=True, exist_ok=True)
    areas = list(AREAS)
    rows, seen = [], set()
    while len(rows) < 220:
        area = areas[len(rows) % len(areas)]
        ex = example(area, rng, SHORT_SYSTEM)
        key = ex["messages"][1]["content"]
        if key not in seen:
            seen.add(key)
            rows.append(ex)
    rng.shuffle(rows)
    splits = {"train": rows[:176], "validation": rows[176:198], "test": rows[198:]}
    for name, part in splits.items():
        (OUT / f"{name}.jsonl").write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8"
        )
    (OUT / "system_prompt.txt").write_text(long_prompt() + "\n", encoding="utf-8")
    shots = [example(a, random.Random(i), SHORT_SYSTEM) for i, a in enumerate(areas[:3])]
    (OUT / "few_shot.jsonl").write_text(
        "".join(json.dumps({"messages": s["messages"][1:]}, ensure_ascii=False) + "\n" for s in shots), encoding="utf-8"
    )
    prefs = []
    for r in rows[:40]:
        good = r["messages"][2]["content"]
        bad = (
            "Well, you should probably write back to them and see what happens! Maybe get a lawyer if it gets serious."
        )
        prefs.append(
            {
                "input": {"messages": r["messages"][:2]},
                "preferred_output": [{"role": "assistant", "content": good}],
                "non_preferred_output": [{"role": "assistant", "content": bad}],
            }
        )
    (OUT / "dpo.jsonl").write_text("".join(json.dumps(p, ensure_ascii=False) + "\n" for p in prefs), encoding="utf-8")
    print({k: len(v) for k, v in splits.items()}, "dpo", len(prefs))


if __name__ == "__main__":
    main()
