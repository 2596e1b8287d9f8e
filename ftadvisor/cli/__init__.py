"""The ``ftadvisor`` command line: thin click groups over the Python API, one module per noun."""

from __future__ import annotations

import click

from ftadvisor import __version__
from ftadvisor.cli.advise import advise
from ftadvisor.cli.backends import backends
from ftadvisor.cli.calc import calc
from ftadvisor.cli.cost import cost
from ftadvisor.cli.data import data
from ftadvisor.cli.demo import demo
from ftadvisor.cli.evaluate import eval_
from ftadvisor.cli.jobs import chat, export, jobs
from ftadvisor.cli.ledger import ledger
from ftadvisor.cli.lora import lora
from ftadvisor.cli.migrate import migrate
from ftadvisor.cli.prices import prices
from ftadvisor.cli.report import report
from ftadvisor.cli.serve import serve
from ftadvisor.cli.tokens import tokens
from ftadvisor.cli.train import train


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="ftadvisor")
def cli() -> None:
    """Decide whether and how to fine-tune a language model, with numbers.

    \b
    Examples:
      ftadvisor demo
      ftadvisor data validate train.jsonl --model gpt-4.1-mini-2025-04-14
      ftadvisor data stats train.jsonl --model gpt-4o-mini
      ftadvisor tokens count --model gpt-4o --text "Hello"
      ftadvisor cost breakeven --train-cost 50 --prompt-cost 0.0115 --ft-cost 0.00015 --requests-per-day 1000
      ftadvisor advise --task-type classification --examples 300 --prompt-compliance 0.85
    """


cli.add_command(advise)
cli.add_command(backends)
cli.add_command(calc)
cli.add_command(cost)
cli.add_command(data)
cli.add_command(ledger)
cli.add_command(lora)
cli.add_command(migrate)
cli.add_command(prices)
cli.add_command(report)
cli.add_command(serve)
cli.add_command(demo)
cli.add_command(eval_)
cli.add_command(jobs)
cli.add_command(chat)
cli.add_command(train)
cli.add_command(export)
cli.add_command(tokens)


def main() -> None:
    import signal
    import sys

    # SIGTERM ends like Ctrl-C: cleanup runs, so no half-written temporary file is left beside an output.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    cli(prog_name="ftadvisor")
