"""The jobs-by-status gauge, counted here because the scheduler owns admission and the queue:
the counts are the numbers it works by (pending: waiting for a slot; running, paused, ...), it
is a small, always-needed service, and one service counting keeps the store's load to one round
of counts per scheduler replica (each replica reports the same numbers)."""

from __future__ import annotations

from jobyard_contracts import JobStatus
from jobyard_metrics import JOBS
from jobyard_store import JobRepository

COUNT_SECONDS = 15.0
"""As often as a typical scrape: a count per status, each served by the status index."""


async def count_jobs(jobs: JobRepository) -> None:
    for status in JobStatus:
        JOBS.labels(status=status.value).set(await jobs.count({"status": status.value}))
