"""`POST /v1/jobs/{id}/fork`: a new job of the caller's, started from one of their job's events
(the rules: `jobyard_store.forks`)."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, post
from litestar.di import NamedDependency
from litestar.params import FromPath, Parameter
from litestar.status_codes import HTTP_201_CREATED

from jobyard_gateway.adapters.users import User
from jobyard_gateway.controllers.jobs import active_jobs, ensure_room_for_a_job, owned_job
from jobyard_gateway.domain.views import JobView
from jobyard_gateway.errors import invalid_fields
from jobyard_gateway.settings import JobLimits
from jobyard_messaging import OutboxRelay
from jobyard_store import EventLog, JobRepository
from jobyard_store.files import FileRepository
from jobyard_store.forks import ForkRefusedError, fork_job, restored_files


@post("/v1/jobs/{job_id:str}/fork", status_code=HTTP_201_CREATED, tags=["jobs"])
async def fork(
    request: Request[User, Any, Any],
    job_id: FromPath[str],
    jobs: NamedDependency[JobRepository],
    events: NamedDependency[EventLog],
    files: NamedDependency[FileRepository],
    relay: NamedDependency[OutboxRelay],
    limits: NamedDependency[JobLimits],
    from_seq: Annotated[
        int | None,
        Parameter(
            ge=1, description="The last event of the job the fork keeps (default: its last)."
        ),
    ] = None,
) -> JobView:
    """A new job, owned by the caller, that starts where their job was at event `from_seq`:
    the steps done by then stay done, the rest run in a fresh sandbox whose workspace holds
    the files saved by then. The original is untouched."""
    original = await owned_job(jobs, job_id, request.user)
    history = await events.envelopes(original.id)
    at = from_seq if from_seq is not None else (history[-1]["sequence"] if history else 0)
    try:
        restored = await restored_files(files, request.user.id, history, at)
        job, submitted = fork_job(original, history, at, restored)
    except ForkRefusedError as exc:
        raise invalid_fields({exc.field: str(exc)}) from None
    ensure_room_for_a_job(await active_jobs(jobs, request.user), limits)
    applied = await jobs.create(job, [submitted])
    await relay.deliver(applied)
    return JobView.of(applied.job, [])
