"""HTTP <-> job operations. Every lookup is scoped to the caller: another user's job is a 404."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import HTTP_201_CREATED

from jobyard_gateway.adapters.users import User
from jobyard_gateway.domain.job_requests import CreateJob, limit_violations, plan_script_job
from jobyard_gateway.domain.views import JobView, LogsView
from jobyard_gateway.errors import invalid_fields
from jobyard_gateway.settings import JobLimits
from jobyard_messaging import OutboxRelay
from jobyard_store import JobDocument, JobRepository, LogStore


async def owned_job(
    jobs: NamedDependency[JobRepository], job_id: FromPath[str], user: User
) -> JobDocument:
    job = await jobs.get(job_id, user_id=user.id)
    if job is None:
        raise NotFoundException(f"job {job_id} not found")
    return job


class JobController(Controller):
    path = "/v1/jobs"
    tags = ["jobs"]

    @post("/", status_code=HTTP_201_CREATED)
    async def create_job(
        self,
        request: Request[User, Any, Any],
        data: JSONBody[CreateJob],
        jobs: NamedDependency[JobRepository],
        relay: NamedDependency[OutboxRelay],
        limits: NamedDependency[JobLimits],
    ) -> JobView:
        """Submit a script job. It is stored `pending` and announced in the same write."""
        problems = limit_violations(data, limits)
        if problems:
            raise invalid_fields(problems)
        job, submitted = plan_script_job(data, request.user.id, limits)
        applied = await jobs.create(job, [submitted])
        await relay.deliver(applied)
        return JobView.of(applied.job)

    @get("/{job_id:str}")
    async def get_job(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        jobs: NamedDependency[JobRepository],
    ) -> JobView:
        return JobView.of(await owned_job(jobs, job_id, request.user))

    @get("/{job_id:str}/logs")
    async def get_logs(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        jobs: NamedDependency[JobRepository],
        logs: NamedDependency[LogStore],
        tail: int | None = Parameter(default=None, ge=0, description="Only the last N lines."),
        after_seq: int | None = Parameter(
            default=None, ge=0, description="Only lines after this sequence number (catch-up)."
        ),
    ) -> LogsView:
        """stdout and stderr in the order they were written, each line numbered."""
        await owned_job(jobs, job_id, request.user)
        if after_seq is not None:
            return LogsView.of(job_id, await logs.after(job_id, after_seq), after_seq)
        return LogsView.of(job_id, await logs.tail(job_id, tail))
