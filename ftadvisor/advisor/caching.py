"""OpenAI's automatic prompt caching, as it bills: which part of a request's prefix is cached, and how often.

Rules (OpenAI prompt-caching guide): only prompts of 1,024 tokens or more are cached; a hit covers the
longest cached prefix in 128-token steps (1,024, 1,152, 1,280, ...), never more than the shared prefix;
cached tokens are billed at the model's cached-input price, base and fine-tuned models alike; there is no
write surcharge. A cached prefix is evicted after 5-10 minutes without a request (up to an hour off-peak).

The share of requests that hit is not knowable in advance, so the default is derived from the volume:
with requests arriving at random (Poisson) at the average rate, a request hits when another one came
within the cache lifetime before it: ``1 - exp(-rate * lifetime)``, with the guide's conservative
5-minute lifetime. 1,000 requests/day gives 97 %; 100/day gives 29 %; no volume assumes every request hits
(the case least favourable to a fine-tune). ``--cache-hit-rate`` replaces the estimate; ``--no-cache``
turns caching off for both sides.
"""

from __future__ import annotations

import math

from pydantic import BaseModel, Field

MIN_CACHED_PREFIX = 1024
CACHE_STEP = 128
CACHE_LIFETIME_MINUTES = 5.0


def cached_prefix_tokens(prefix_tokens: float) -> int:
    """Tokens billed as cached on a hit, for a shared prefix of ``prefix_tokens``: 0 below 1,024, else the
    largest 1,024 + 128k not above the prefix."""
    if prefix_tokens < MIN_CACHED_PREFIX:
        return 0
    return MIN_CACHED_PREFIX + int((prefix_tokens - MIN_CACHED_PREFIX) // CACHE_STEP) * CACHE_STEP


def derived_hit_rate(requests_per_day: float | None) -> float:
    """Share of requests that find the prefix still cached, from the average request rate."""
    if requests_per_day is None:
        return 1.0
    per_minute = requests_per_day / (24 * 60)
    return 1.0 - math.exp(-per_minute * CACHE_LIFETIME_MINUTES)


class Caching(BaseModel):
    """How caching is assumed: off, a given hit rate, or one derived from the volume."""

    enabled: bool = True
    hit_rate: float | None = Field(default=None, ge=0, le=1)  # None: derived from requests per day

    def rate(self, requests_per_day: float | None) -> float:
        if not self.enabled:
            return 0.0
        return self.hit_rate if self.hit_rate is not None else derived_hit_rate(requests_per_day)

    def describe(self, requests_per_day: float | None) -> str:
        """The assumption in words, for every output that prices a request."""
        if not self.enabled:
            return "prompt caching off (--no-cache)"
        r = self.rate(requests_per_day)
        if self.hit_rate is not None:
            how = "given"
        elif requests_per_day is None:
            how = "no volume given: every request assumed to hit"
        else:
            how = (
                f"estimated from {requests_per_day:,.0f} requests/day and a {CACHE_LIFETIME_MINUTES:g}-minute "
                "cache lifetime"
            )
        return (
            f"prompt caching: {r:.0%} of requests hit ({how}); prefixes of {MIN_CACHED_PREFIX:,}+ tokens "
            f"are cached in {CACHE_STEP}-token steps"
        )
