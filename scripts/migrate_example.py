"""Reproduce the README's migration transcript without an OpenAI account.

The hosted side is tests/openai_standin.py, a local stand-in of OpenAI's API serving recorded responses, seeded
with one finished fine-tune of the built-in legal dataset (48 training examples, 1 epoch, batch 4,
learning-rate multiplier 5) whose answers are scripted to be the test set's reference answers: a hosted model
that is perfect on these examples. The replacement is real: SmolLM2-135M-Instruct trained with LoRA on this
machine by `ftadvisor migrate ... --to local`, then both answer the same 22 held-out questions.

Run: PYTHONPATH=. .venv/bin/python scripts/migrate_example.py   (about 4 minutes on 2 CPU cores)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import STANDIN_KEY  # noqa: E402
from tests.openai_fixtures import load  # noqa: E402
from tests.openai_standin import StandIn  # noqa: E402

LEGAL = ROOT / "ftadvisor" / "sample_data" / "legal"
FT = "ft:gpt-4.1-mini-2025-04-14:acme:legal:Lg7Qa2Xz"
DISCLAIMER = "This response does not constitute legal advice."


def main() -> None:
    train = "".join(LEGAL.joinpath("train.jsonl").read_text().splitlines(True)[:48]).encode()
    valid = "".join(LEGAL.joinpath("validation.jsonl").read_text().splitlines(True)[:8]).encode()
    hyper = {"n_epochs": 1, "batch_size": 4, "learning_rate_multiplier": 5.0}
    job = load("job_succeeded")
    job.update(
        id="ftjob-Lg7Qa2XzLegal0000000001",
        model="gpt-4.1-mini-2025-04-14",
        fine_tuned_model=FT,
        training_file="file-LegalTrain48",
        validation_file="file-LegalValid08",
        seed=7,
        hyperparameters=hyper,
        method={"type": "supervised", "supervised": {"hyperparameters": hyper}},
    )
    with StandIn() as s, tempfile.TemporaryDirectory() as home:
        s.seed_finished(job, {"file-LegalTrain48": train, "file-LegalValid08": valid})
        for line in LEGAL.joinpath("test.jsonl").read_text().splitlines():
            messages = json.loads(line)["messages"]
            s.state.answers[messages[-2]["content"]] = messages[-1]["content"]
        env = {**os.environ, "OPENAI_API_KEY": STANDIN_KEY, "OPENAI_BASE_URL": s.url, "FTADVISOR_HOME": home}
        cli = [
            str(ROOT / ".venv" / "bin" / "ftadvisor"),
            "migrate",
            FT,
            "--to",
            "local",
            "--base",
            "smollm2-135m-instruct",
            "-o",
            "max_length=512",
            "--test",
            str(LEGAL / "test.jsonl"),
            "--require",
            r"^1\. ",
            "--contains",
            DISCLAIMER,
            "--requests-per-day",
            "2000",
            "--poll",
            "3",
        ]
        print("$ ftadvisor migrate " + FT + " --to local --dry-run")
        subprocess.run([*cli, "--dry-run"], env=env, check=True)
        print(
            "\n$ ftadvisor migrate " + FT + " --to local --base smollm2-135m-instruct --test test.jsonl \\\n"
            "    --require '^1\\. ' --contains '" + DISCLAIMER + "' --requests-per-day 2000 --yes"
        )
        subprocess.run([*cli, "--yes", "--out", str(Path(home) / "report")], env=env, check=True)


if __name__ == "__main__":
    main()
