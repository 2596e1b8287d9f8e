"""Who may still create a fine-tuning job on a model, and whether the model still answers, on a given day.

OpenAI winds its platform down in stages (catalogue ``job_rules``): organisations that never fine-tuned
are refused since 2026-05-07, those with no fine-tuned inference in the last 60 days since 2026-07-02,
and everyone from each model's job cut-off. A fine-tune the organisation cannot create is no option, so
every cost command marks such models and ``advise`` never recommends them. Azure trains the same models
until April 2027, but only for existing customers (``--azure-customer``).
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import BaseModel

from ftadvisor.pricing.catalogue import Catalogue, ModelEntry, OrgHistory

OrgHistoryAnswer = OrgHistory | Literal["unknown"]  # the catalogue's histories, or "we were not told"
# Azure: whether the subscription already deployed the model version (Microsoft's "existing customer").
CustomerAnswer = Literal["existing", "new", "unknown"]


class Availability(BaseModel):
    """``can_create_job`` is None when it depends on an organisation history we were not told."""

    model: str
    as_of: dt.date
    org_history: OrgHistoryAnswer
    customer: CustomerAnswer = "unknown"
    retired: bool
    past_job_cutoff: bool
    can_create_job: bool | None
    days_to_job_cutoff: int | None
    days_to_shutdown: int | None
    reasons: list[str]

    def warning(self) -> str | None:
        """One line for the terminal when the model cannot (or may not) be fine-tuned, else None."""
        if self.can_create_job is True:
            return None
        return f"{self.model}: " + "; ".join(self.reasons)


def availability(
    entry: ModelEntry,
    catalogue: Catalogue,
    *,
    today: dt.date,
    org_history: OrgHistoryAnswer = "unknown",
    customer: CustomerAnswer = "unknown",
) -> Availability:
    """Whether an organisation with ``org_history`` (OpenAI's rules) that is a ``customer`` of the model's
    provider (Azure's existing-customer rule) can create a job on ``entry`` on ``today``, and why not."""
    retired = entry.is_retired(today)
    past_cutoff = not entry.accepts_jobs(today)
    reasons: list[str] = []
    can: bool | None = True
    base_gone = entry.base_shutdown is not None and today >= entry.base_shutdown
    if retired:
        reasons.append(f"shut down on {entry.shutdown}: it answers no requests and takes no jobs")
        can = False
    elif past_cutoff:
        reasons.append(f"takes no new fine-tuning jobs since {entry.job_cutoff}")
        can = False
    elif entry.job_cutoff_existing_customers_only and base_gone:
        rule = (
            f"{entry.provider} trains {entry.id} until {entry.job_cutoff} for existing customers only (a "
            f"subscription that has deployed this model version); for others training ended on {entry.base_shutdown}"
        )
        if customer == "new":
            reasons.append(rule)
            can = False
        elif customer == "unknown":
            reasons.append(rule + f": say --{entry.provider}-customer existing if yours is one")
            can = None
    else:
        rules = catalogue.rules_for(entry.provider, today)
        blocking = [r.why for r in rules if org_history in r.blocked]
        if blocking:
            reasons.extend(blocking)
            can = False
        elif org_history == "unknown" and rules:
            reasons.append("; ".join(r.why for r in rules) + ": say --org-history active if yours may still")
            can = None
    return Availability(
        model=entry.id,
        as_of=today,
        org_history=org_history,
        customer=customer,
        retired=retired,
        past_job_cutoff=past_cutoff,
        can_create_job=can,
        days_to_job_cutoff=None if entry.job_cutoff is None else (entry.job_cutoff - today).days,
        days_to_shutdown=None if entry.shutdown is None else (entry.shutdown - today).days,
        reasons=reasons,
    )
