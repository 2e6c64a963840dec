"""When a delivery is attempted again, and when its endpoint is given up on. Pure rules."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from jobyard_store.webhooks import DeliveryAttempt, DeliveryStatus


def after_attempt(
    attempt: DeliveryAttempt, tries: int, schedule: Sequence[float]
) -> tuple[DeliveryStatus, datetime | None]:
    """The delivery's status after its `tries`-th attempt (since it was queued) and when it is
    attempted next: `schedule[n]` seconds after the (n+1)-th failure, failed after the last."""
    if attempt.error is None:
        return DeliveryStatus.DELIVERED, None
    if tries > len(schedule):
        return DeliveryStatus.FAILED, None
    return DeliveryStatus.PENDING, attempt.at + timedelta(seconds=schedule[tries - 1])


def is_success(status_code: int) -> bool:
    return 200 <= status_code < 300


def should_disable(failing_since: datetime | None, now: datetime, after: timedelta) -> bool:
    """An endpoint is disabled once every attempt failed for `after` (one success resets it)."""
    return failing_since is not None and now - failing_since >= after
