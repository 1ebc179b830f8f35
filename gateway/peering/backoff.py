"""How long an outbound link waits after a failure: exponential backoff with jitter, like AS4's PROGRESSIVE retry."""

from __future__ import annotations

import random

from gateway.config import DeliverySettings


def retry_delay(settings: DeliverySettings, failures: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with +-jitter: initial * multiplier^(failures-1), capped at retry_max_s."""
    base = min(settings.retry_max_s, settings.retry_initial_s * settings.retry_multiplier ** max(failures - 1, 0))
    jitter = (rng or random).uniform(-settings.retry_jitter, settings.retry_jitter)
    return max(0.0, base * (1 + jitter))
