"""The replayer check the e2e suite ends with: every job it made, re-folded from its history,
agrees with its stored document (`jobyard_store.replay`)."""

from __future__ import annotations

import asyncio
import time

from jobyard_settings import InfraSettings
from jobyard_store import EventLog, JobRepository, connect
from jobyard_store.replay import differences, fold, observe

CATCH_UP_SECONDS = 30.0
"""How long a job's event log may lag its document (an outbox entry waiting for a sweep)."""


async def replay_every_job(infra: InfraSettings) -> dict[str, list[str]]:
    """Each job whose history and document disagree, with the differences. A job is compared
    once its log holds every message its document announced, at one version of it."""
    mongo, db = connect(infra)
    jobs, events = JobRepository(db), EventLog(db)
    found: dict[str, list[str]] = {}
    deadline = time.monotonic() + CATCH_UP_SECONDS
    try:
        ids = [doc["_id"] async for doc in jobs.collection.find({}, projection={"_id": True})]
        for job_id in ids:
            while True:
                job = await jobs.get(job_id)
                if job is None:
                    break  # deleted and purged meanwhile
                history = await events.envelopes(job_id)
                again = await jobs.get(job_id)
                caught_up = bool(history) and history[-1]["sequence"] == job.sequence
                if again is not None and again.version == job.version and caught_up:
                    diff = differences(fold(history), observe(job))
                    if diff:
                        found[job_id] = diff
                    break
                if time.monotonic() > deadline:
                    found[job_id] = [f"its event log never caught up with sequence {job.sequence}"]
                    break
                await asyncio.sleep(0.2)
    finally:
        await mongo.close()
    return found
