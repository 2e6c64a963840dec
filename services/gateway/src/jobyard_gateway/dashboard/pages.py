"""The dashboard's pages, rendered on the server from the same user-scoped reads the /v1 API
makes (another user's job or file is "not found"). `?fragment=` renders only the part a live
update replaces. Changes (start, pause, messages, deletes, retries) are made by the pages'
scripts through the /v1 API itself."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Annotated, Any

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_303_SEE_OTHER, HTTP_404_NOT_FOUND, HTTP_409_CONFLICT
from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from jobyard_contracts import FileKind, FileStatus, JobKind, JobStatus
from jobyard_gateway.controllers.files import owned_file
from jobyard_gateway.controllers.jobs import job_view, job_views
from jobyard_gateway.dashboard.access import Viewer
from jobyard_gateway.dashboard.presenters import (
    JOBS_PER_PAGE,
    STATUS_LABELS,
    JobActions,
    JobFilter,
    Paging,
)
from jobyard_gateway.domain.file_views import FileView
from jobyard_gateway.domain.files import library_query
from jobyard_gateway.domain.views import SshView
from jobyard_gateway.domain.webhooks import DeliveryView, WebhookView
from jobyard_objects import FileLimits, ObjectStore
from jobyard_store import ImageRegistry, JobRepository, LogStore
from jobyard_store.files import FileRepository
from jobyard_store.notifications import Notifications, NotificationView
from jobyard_store.webhooks import WebhookDeliveries, WebhookEndpoints

LOG_TAIL_LINES = 300
STEP_LOG_LINES = 5000
FILES_SHOWN = 200
DELIVERIES_SHOWN = 20


async def page(
    name: str,
    viewer: NamedDependency[Viewer],
    db: AsyncDatabase[dict[str, Any]],
    context: dict[str, Any],
    status_code: int = 200,
) -> Template:
    """A whole page: the header's bell needs the unread count."""
    unread = await Notifications(db).unread_count(viewer.user.id)
    return Template(
        name,
        context={"viewer": viewer, "unread": unread, **context},
        status_code=status_code,
    )


async def not_found(
    viewer: Viewer, db: AsyncDatabase[dict[str, Any]], what: str, fragment: str = ""
) -> Template:
    if fragment:
        return Template("_not_found.html", context={"what": what}, status_code=HTTP_404_NOT_FOUND)
    return await page("not_found.html", viewer, db, {"what": what}, HTTP_404_NOT_FOUND)


@get("/jobs")
async def jobs_page(
    viewer: NamedDependency[Viewer],
    db: NamedDependency[AsyncDatabase[dict[str, Any]]],
    jobs: NamedDependency[JobRepository],
    files: NamedDependency[FileRepository],
    status: FromQuery[str] = "",
    kind: FromQuery[str] = "",
    q: FromQuery[str] = "",
    page_number: Annotated[int, QueryParameter(name="page", ge=1)] = 1,
    fragment: FromQuery[str] = "",
) -> Template:
    """The caller's jobs, newest first, filtered and paged; `fragment=rows` is the list alone
    (what a live update replaces)."""
    chosen = JobFilter(
        status=JobStatus(status) if status in set(JobStatus) else None,
        kind=JobKind(kind) if kind in set(JobKind) else None,
        search=q[:200],
        page=page_number,
    )
    query = chosen.query(viewer.user.id)
    found, total = await asyncio.gather(
        jobs.find(query, sort=[("created_at", -1)], limit=JOBS_PER_PAGE, skip=chosen.skip),
        jobs.count(query),
    )
    context = {
        "jobs": await job_views(files, viewer.user, found),
        "filter": chosen,
        "paging": Paging.of(chosen.page, total),
        "statuses": STATUS_LABELS,
        "kinds": list(JobKind),
    }
    if fragment == "rows":
        return Template("_job_list.html", context=context)
    return await page("jobs.html", viewer, db, context)


@get("/jobs/new")
async def new_job_page(
    viewer: NamedDependency[Viewer],
    db: NamedDependency[AsyncDatabase[dict[str, Any]]],
    images: NamedDependency[ImageRegistry],
    kind: FromQuery[str] = "agent",
) -> Template:
    offered = [image.name for image in await images.available()]
    chosen = kind if kind in set(JobKind) else JobKind.AGENT
    return await page("new_job.html", viewer, db, {"images": offered, "kind": chosen})


@get("/jobs/{job_id:str}")
async def job_page(
    viewer: NamedDependency[Viewer],
    job_id: FromPath[str],
    db: NamedDependency[AsyncDatabase[dict[str, Any]]],
    jobs: NamedDependency[JobRepository],
    files: NamedDependency[FileRepository],
    logs: NamedDependency[LogStore],
    fragment: FromQuery[str] = "",
) -> Template:
    """The job panel; `fragment=panel` is the panel alone (what a live update replaces), the
    live output console stays."""
    job = await jobs.get(job_id, user_id=viewer.user.id)
    if job is None:
        return await not_found(viewer, db, f"job {job_id}", fragment)
    produced = await files.find(
        library_query(viewer.user.id, job_id=job.id, kind=None, q=None),
        sort=[("path", ASCENDING)],
        limit=FILES_SHOWN,
    )
    context = {
        "job": await job_view(files, viewer.user, job),
        "actions": JobActions.of(job),
        "statuses": STATUS_LABELS,
        "files": [FileView.of(record) for record in produced],
        "messages": job.messages,
        "ssh": SshView.of(job.ssh)
        if job.persistent and job.ssh and job.status is JobStatus.RUNNING
        else None,
        "csrf_token": viewer.csrf_token,
    }
    if fragment == "panel":
        return Template("_job_panel.html", context=context)
    lines = await logs.tail(job.id, LOG_TAIL_LINES)
    return await page(
        "job.html",
        viewer,
        db,
        context | {"lines": lines, "after_seq": job.sequence, "after_line": _last(lines)},
    )


def _last(lines: list[Any]) -> int:
    return int(lines[-1].seq) if lines else 0


@get("/jobs/{job_id:str}/steps/{index:int}/log")
async def step_log(
    viewer: NamedDependency[Viewer],
    job_id: FromPath[str],
    index: FromPath[int],
    db: NamedDependency[AsyncDatabase[dict[str, Any]]],
    jobs: NamedDependency[JobRepository],
    logs: NamedDependency[LogStore],
) -> Template:
    """A step's whole output (its last lines when it is very long), for the timeline."""
    job = await jobs.get(job_id, user_id=viewer.user.id)
    if job is None:
        return await not_found(viewer, db, f"job {job_id}", fragment="log")
    lines = await logs.tail(job.id, STEP_LOG_LINES, step=index)
    return Template("_step_log.html", context={"lines": lines, "cut": len(lines) == STEP_LOG_LINES})


@get("/files")
async def files_page(
    viewer: NamedDependency[Viewer],
    db: NamedDependency[AsyncDatabase[dict[str, Any]]],
    jobs: NamedDependency[JobRepository],
    files: NamedDependency[FileRepository],
    job_id: FromQuery[str] = "",
    kind: FromQuery[str] = "",
    q: FromQuery[str] = "",
    fragment: FromQuery[str] = "",
) -> Template:
    """The Files library: every file of the caller, newest first, with the job that made it."""
    chosen_kind = FileKind(kind) if kind in set(FileKind) else None
    query = library_query(
        viewer.user.id, job_id=job_id or None, kind=chosen_kind, q=q.strip()[:200] or None
    )
    found = await files.find(query, sort=[("created_at", DESCENDING)], limit=FILES_SHOWN)
    context = {
        "files": [FileView.of(record) for record in found],
        "job_id": job_id,
        "kind": chosen_kind,
        "q": q,
        "kinds": list(FileKind),
        "jobs": await jobs.find(
            {"user_id": viewer.user.id, "deleted_at": None}, sort=[("created_at", -1)], limit=100
        ),
    }
    if fragment == "list":
        return Template("_file_list.html", context=context)
    return await page("files.html", viewer, db, context)


@get("/files/{file_id:str}/download")
async def download_file(
    viewer: NamedDependency[Viewer],
    file_id: FromPath[str],
    db: NamedDependency[AsyncDatabase[dict[str, Any]]],
    files: NamedDependency[FileRepository],
    objects: NamedDependency[ObjectStore],
    file_limits: NamedDependency[FileLimits],
) -> Response[Any]:
    """To the file in storage, through a presigned link made now (a page left open for hours
    still downloads): the bytes never pass through the gateway."""
    try:
        record = await owned_file(files, file_id, viewer.user)
    except NotFoundException:
        return await not_found(viewer, db, f"file {file_id}")
    version = record.version
    if record.status is not FileStatus.READY or version is None:
        return await page(
            "not_found.html",
            viewer,
            db,
            {"what": f"{record.name} ({record.status})", "not_ready": True},
            HTTP_409_CONFLICT,
        )
    expires = timedelta(seconds=file_limits.download_link_seconds)
    url = await asyncio.to_thread(objects.download_url, version.object_key, expires, record.name)
    return Redirect(url, status_code=HTTP_303_SEE_OTHER)


@get("/notifications")
async def notifications_page(
    viewer: NamedDependency[Viewer],
    db: NamedDependency[AsyncDatabase[dict[str, Any]]],
    fragment: FromQuery[str] = "",
) -> Template:
    """In-app notifications, and each webhook endpoint with its latest deliveries."""
    user_id = viewer.user.id
    found = await Notifications(db).of_user(user_id, unread=False, limit=100)
    endpoints = await WebhookEndpoints(db).of_user(user_id)
    deliveries = WebhookDeliveries(db)
    recent = await asyncio.gather(
        *(deliveries.of_endpoint(e.id, status=None, limit=DELIVERIES_SHOWN) for e in endpoints)
    )
    context = {
        "notifications": [NotificationView.of(n) for n in found],
        "webhooks": [
            (WebhookView.of(endpoint), [DeliveryView.of(d) for d in sent])
            for endpoint, sent in zip(endpoints, recent, strict=True)
        ],
    }
    if fragment == "webhooks":
        return Template("_webhooks.html", context=context)
    return await page("notifications.html", viewer, db, context)
