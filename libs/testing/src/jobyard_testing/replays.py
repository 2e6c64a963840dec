"""The replayer check the e2e suite ends with: every job it made, replayed through the
services' rules from its history, comes out as recorded and as stored (`jobyard_ops.replayer`)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from jobyard_agent.domain.planning import Budgets
from jobyard_agent.settings import PlannerSettings
from jobyard_ops.replay_rules import Inputs
from jobyard_ops.replayer import replay, replay_inputs
from jobyard_settings import InfraSettings
from jobyard_store import EventLog, JobDocument, JobRepository, LogStore, connect

CATCH_UP_SECONDS = 30.0
"""How long a job's event log may lag its document (an outbox entry waiting for a sweep)."""


def planner_budgets(env: Mapping[str, str]) -> Budgets:
    """The budgets an agent started with `env` plans with."""
    prefix = "JOBYARD_LLM_"
    given = {k.removeprefix(prefix).lower(): v for k, v in env.items() if k.startswith(prefix)}
    return PlannerSettings.model_validate(given).budgets


KEEP_HISTORIES = "JOBYARD_TEST_KEEP_HISTORIES"
"""A directory: the suite keeps there each job it replayed (what the replayer's unit tests
replay again, so an old history that no longer replays fails the build)."""


def kept_history(job: JobDocument, history: list[dict[str, Any]], inputs: Inputs) -> str:
    """A job as `load_kept` reads it back: document, history and the replay's inputs."""
    kept = {
        "document": job.model_dump(mode="json", by_alias=True),
        "history": history,
        "budgets": asdict(inputs.budgets),
        "observations": {str(k): v for k, v in inputs.observations.items()},
    }
    return json.dumps(kept, indent=1, sort_keys=True)


def load_kept(path: Path) -> tuple[JobDocument, list[dict[str, Any]], Inputs]:
    kept = json.loads(path.read_text())
    inputs = Inputs(
        budgets=Budgets(**kept["budgets"]),
        observations={int(k): v for k, v in kept["observations"].items()},
    )
    return JobDocument.model_validate(kept["document"]), kept["history"], inputs


async def replay_every_job(
    infra: InfraSettings, budgets: Budgets | None = None, keep: Path | None = None
) -> dict[str, list[str]]:
    """Each job whose replay disagrees with its history or document, with the differences. A
    job is replayed once its log holds every message its document announced, at one version
    of it. `budgets`: the agent's (its defaults when not given); `keep`: where to keep each
    job replayed clean (`kept_history`)."""
    budgets = budgets or PlannerSettings().budgets
    mongo, db = connect(infra)
    jobs, events, logs = JobRepository(db), EventLog(db), LogStore(db)
    found: dict[str, list[str]] = {}
    try:
        ids = [doc["_id"] async for doc in jobs.collection.find({}, projection={"_id": True})]
        for job_id in ids:
            deadline = time.monotonic() + CATCH_UP_SECONDS
            while True:
                job = await jobs.get(job_id)
                if job is None:
                    break  # deleted and purged meanwhile
                history = await events.envelopes(job_id)
                again = await jobs.get(job_id)
                caught_up = bool(history) and history[-1]["sequence"] == job.sequence
                if again is not None and again.version == job.version and caught_up:
                    inputs = await replay_inputs(logs, job, history, budgets)
                    try:
                        diff = replay(job, history, inputs).differences
                    except Exception as exc:  # e.g. a message no upcaster reads: this job's
                        diff = [f"the replay failed: {exc!r}"]
                    if diff:
                        found[job_id] = diff
                    elif keep is not None:
                        (keep / f"{job_id}.json").write_text(kept_history(job, history, inputs))
                    break
                if time.monotonic() > deadline:
                    found[job_id] = [f"its event log never caught up with sequence {job.sequence}"]
                    break
                await asyncio.sleep(0.2)
    finally:
        await mongo.close()
    return found
