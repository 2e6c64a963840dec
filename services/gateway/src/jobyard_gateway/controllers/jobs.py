"""HTTP <-> job operations. Every lookup is scoped to the caller: another user's job is a 404."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
)
from pymongo import ASCENDING

from jobyard_contracts import ACTIVE_STATUSES, JobKind, JobStatus
from jobyard_gateway.adapters.chats import ChatBusyError, ChatRegistry
from jobyard_gateway.adapters.users import User
from jobyard_gateway.controllers.waiting import reread_until
from jobyard_gateway.domain.commands import (
    NotAllowedError,
    request_delete,
    request_pause,
    request_resume,
    request_stop,
)
from jobyard_gateway.domain.files import job_inputs, step_files_query
from jobyard_gateway.domain.job_requests import CreateJob, limit_violations, plan_job
from jobyard_gateway.domain.views import JobList, JobView, LogsView, SshView
from jobyard_gateway.errors import ConflictException, QuotaExceededException, invalid_fields
from jobyard_gateway.settings import JobLimits
from jobyard_messaging import OutboxRelay
from jobyard_store import Change, ImageRegistry, JobDocument, JobRepository, LogStore
from jobyard_store.files import LISTED, FileRecord, FileRepository

COMMAND_WAIT_SECONDS = 10.0
COMMAND_POLL_SECONDS = 0.05


async def owned_job(jobs: JobRepository, job_id: str, user: User) -> JobDocument:
    job = await jobs.get(job_id, user_id=user.id)
    if job is None:
        raise NotFoundException(f"job {job_id} not found")
    return job


async def command(
    jobs: JobRepository,
    relay: OutboxRelay,
    job_id: str,
    user: User,
    decide: Callable[[JobDocument], Change | None],
) -> JobDocument:
    """Record a user's request on their job; a request its state refuses is a 409."""
    job = await owned_job(jobs, job_id, user)
    try:
        return (await relay.change(job.id, decide)).job
    except NotAllowedError as exc:
        raise ConflictException(str(exc)) from None


async def settled(
    jobs: JobRepository, job: JobDocument, user: User, done: Callable[[JobDocument], bool]
) -> JobDocument:
    """The job once `done` holds, or as it is after a few seconds (the request stays recorded
    and is carried out all the same)."""
    return await reread_until(
        job,
        lambda: owned_job(jobs, job.id, user),
        done,
        seconds=COMMAND_WAIT_SECONDS,
        every=COMMAND_POLL_SECONDS,
    )


async def active_jobs(jobs: JobRepository, user: User) -> int:
    """The user's pending or running jobs: what their quota counts."""
    query = {"user_id": user.id, "deleted_at": None, "status": {"$in": list(ACTIVE_STATUSES)}}
    return await jobs.count(query)


def ensure_room_for_a_job(active: int, limits: JobLimits) -> None:
    """A user has at most so many pending or running jobs: one more is a 429 saying so."""
    if active >= limits.max_active_jobs_per_user:
        raise QuotaExceededException(
            f"you have {active} pending or running jobs, the most allowed is "
            f"{limits.max_active_jobs_per_user}; wait for some to finish or stop them"
        )


async def listed_inputs(files: FileRepository, user: User, ids: list[str]) -> list[FileRecord]:
    """The user's listed files among `ids` (the job's inputs)."""
    if not ids:
        return []
    return await files.find({"_id": {"$in": ids}, "user_id": user.id} | LISTED)


async def job_views(files: FileRepository, user: User, jobs: list[JobDocument]) -> list[JobView]:
    """The caller's jobs with each step's files, read in one query for all of them."""
    if not jobs:
        return []
    query = step_files_query(user.id, [job.id for job in jobs])
    by_job: defaultdict[str | None, list[FileRecord]] = defaultdict(list)
    for record in await files.find(query, sort=[("path", ASCENDING)]):
        by_job[record.job_id].append(record)
    return [JobView.of(job, by_job[job.id]) for job in jobs]


async def job_view(files: FileRepository, user: User, job: JobDocument) -> JobView:
    return (await job_views(files, user, [job]))[0]


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
        images: NamedDependency[ImageRegistry],
        chats: NamedDependency[ChatRegistry],
        files: NamedDependency[FileRepository],
    ) -> JobView:
        """Submit a script job or an agent job. It is stored `pending` and announced in the same
        write. An agent job in a chat that has an active job is a 409 naming that job."""
        problems = limit_violations(data, limits)
        # Read at once: the request's checks come before the quota's, whatever each found.
        image, found, active = await asyncio.gather(
            images.get(data.image),
            listed_inputs(files, request.user, data.inputs),
            active_jobs(jobs, request.user),
        )
        if image is None:
            offered = ", ".join(image.name for image in await images.available()) or "none yet"
            problems["image"] = f"unknown image {data.image!r}; available: {offered}"
        inputs, input_problems = job_inputs(data.inputs, {record.id: record for record in found})
        problems |= input_problems
        if problems:
            raise invalid_fields(problems)
        ensure_room_for_a_job(active, limits)
        job, submitted = plan_job(data, request.user.id, inputs)
        if job.chat_id is not None:
            try:
                await chats.claim(request.user.id, job.chat_id, job.id)
            except ChatBusyError as exc:
                raise ConflictException(str(exc)) from None
        applied = await jobs.create(job, [submitted])
        await relay.deliver(applied)
        return JobView.of(applied.job, [])  # a new job has no files yet

    @get("/")
    async def list_jobs(
        self,
        request: Request[User, Any, Any],
        jobs: NamedDependency[JobRepository],
        files: NamedDependency[FileRepository],
        status: Annotated[JobStatus | None, Parameter(description="Only this status.")] = None,
        name: Annotated[str | None, Parameter(description="Only jobs of this name.")] = None,
        kind: Annotated[JobKind | None, Parameter(description="Only this kind.")] = None,
        chat_id: Annotated[str | None, Parameter(description="Only this chat's jobs.")] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
        offset: Annotated[int, Parameter(ge=0)] = 0,
    ) -> JobList:
        """The caller's jobs, newest first."""
        query: dict[str, Any] = {"user_id": request.user.id, "deleted_at": None}
        if status is not None:
            query["status"] = status
        if name is not None:
            query["name"] = name
        if kind is not None:
            query["kind"] = kind
        if chat_id is not None:
            query["chat_id"] = chat_id
        found = await jobs.find(query, sort=[("created_at", -1)], limit=limit, skip=offset)
        views = await job_views(files, request.user, found)
        return JobList(jobs=views, limit=limit, offset=offset)

    @get("/{job_id:str}")
    async def get_job(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        jobs: NamedDependency[JobRepository],
        files: NamedDependency[FileRepository],
    ) -> JobView:
        return await job_view(files, request.user, await owned_job(jobs, job_id, request.user))

    @get("/{job_id:str}/logs")
    async def get_logs(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        jobs: NamedDependency[JobRepository],
        logs: NamedDependency[LogStore],
        tail: Annotated[int | None, Parameter(ge=0, description="Only the last N lines.")] = None,
        after_seq: Annotated[
            int | None, Parameter(ge=0, description="Only lines after this sequence (catch-up).")
        ] = None,
    ) -> LogsView:
        """stdout and stderr in the order they were written, each line numbered."""
        await owned_job(jobs, job_id, request.user)
        if after_seq is not None:
            return LogsView.of(job_id, await logs.after(job_id, after_seq), after_seq)
        return LogsView.of(job_id, await logs.tail(job_id, tail))

    @post("/{job_id:str}/stop", status_code=HTTP_200_OK)
    async def stop_job(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        jobs: NamedDependency[JobRepository],
        relay: NamedDependency[OutboxRelay],
        files: NamedDependency[FileRepository],
    ) -> JobView:
        """Stop a pending, running or paused job; answers once it is `stopped` (409 if over)."""
        job = await command(jobs, relay, job_id, request.user, request_stop)
        done = await settled(jobs, job, request.user, lambda j: j.status.is_terminal)
        return await job_view(files, request.user, done)

    @post("/{job_id:str}/cancel", status_code=HTTP_200_OK)
    async def cancel_job(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        jobs: NamedDependency[JobRepository],
        relay: NamedDependency[OutboxRelay],
        files: NamedDependency[FileRepository],
    ) -> JobView:
        """Cancel a job for good (the agent-job word for stop): every process is killed, the
        files produced so far stay. Answers once it is `cancelled` (409 if already over)."""
        job = await command(
            jobs, relay, job_id, request.user, lambda j: request_stop(j, cancel=True)
        )
        done = await settled(jobs, job, request.user, lambda j: j.status.is_terminal)
        return await job_view(files, request.user, done)

    @post("/{job_id:str}/pause", status_code=HTTP_200_OK)
    async def pause_job(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        jobs: NamedDependency[JobRepository],
        relay: NamedDependency[OutboxRelay],
        files: NamedDependency[FileRepository],
    ) -> JobView:
        """Freeze every process of a running job with its memory; answers once it is `paused`
        (409 unless it is running or already paused)."""
        job = await command(jobs, relay, job_id, request.user, request_pause)
        done = await settled(jobs, job, request.user, lambda j: j.status is not JobStatus.RUNNING)
        return await job_view(files, request.user, done)

    @post("/{job_id:str}/resume", status_code=HTTP_200_OK)
    async def resume_job(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        jobs: NamedDependency[JobRepository],
        relay: NamedDependency[OutboxRelay],
        files: NamedDependency[FileRepository],
    ) -> JobView:
        """Continue a paused job where it stopped; answers once it runs again, or with the job
        still `paused` and a `status_detail` saying its resume waits for a free slot."""
        job = await command(jobs, relay, job_id, request.user, request_resume)
        done = await settled(
            jobs,
            job,
            request.user,
            lambda j: j.status is not JobStatus.PAUSED or j.status_detail.startswith("resume q"),
        )
        return await job_view(files, request.user, done)

    @delete("/{job_id:str}", status_code=HTTP_200_OK)
    async def delete_job(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        jobs: NamedDependency[JobRepository],
        relay: NamedDependency[OutboxRelay],
        files: NamedDependency[FileRepository],
    ) -> dict[str, Any]:
        """Delete the job, its logs, container, workspace and files; from now on it is a
        404."""
        job = await owned_job(jobs, job_id, request.user)
        await relay.change(job.id, request_delete)
        # Gone from listings at once; file-sync removes the bytes (and marks the files again on
        # `job.deleted`, should this process die right here).
        await files.mark_deleted({"job_id": job.id, "user_id": request.user.id})
        return {"id": job_id, "deleted": True}

    @get("/{job_id:str}/ssh")
    async def ssh(
        self,
        request: Request[User, Any, Any],
        job_id: FromPath[str],
        jobs: NamedDependency[JobRepository],
    ) -> SshView:
        """SSH details of a running persistent job (409 while it is not reachable)."""
        job = await owned_job(jobs, job_id, request.user)
        if not job.persistent:
            raise ConflictException(
                f"job {job_id} is not persistent; only persistent jobs accept SSH"
            )
        if job.ssh is None or job.status is not JobStatus.RUNNING:
            raise ConflictException(f"job {job_id} is {job.status}; SSH is available while it runs")
        return SshView.of(job.ssh)
