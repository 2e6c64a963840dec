"""HTTP <-> the Files library and uploads. Bytes never pass through the gateway: clients get
presigned links to object storage. Every lookup is scoped to the caller: another user's file is
a 404."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_202_ACCEPTED,
    HTTP_204_NO_CONTENT,
)
from pymongo import ASCENDING, DESCENDING

from jobyard_contracts import FileKind, FileStatus
from jobyard_gateway.adapters.users import User
from jobyard_gateway.controllers.jobs import owned_job
from jobyard_gateway.controllers.waiting import reread_until
from jobyard_gateway.domain.file_views import (
    FileDetail,
    FileList,
    FileView,
    MultipartTarget,
    PartTarget,
    PostTarget,
    UploadStarted,
)
from jobyard_gateway.domain.files import library_query
from jobyard_gateway.domain.uploads import (
    CompleteUpload,
    PartETag,
    StartUpload,
    new_upload,
    parts_problem,
    plan_upload,
    quota_problem,
    size_mismatch,
    upload_violations,
)
from jobyard_gateway.errors import (
    ConflictException,
    StorageQuotaExceededException,
    UploadRejectedException,
    invalid_fields,
)
from jobyard_objects import FileLimits, MiB, ObjectStore, S3Error
from jobyard_store import JobRepository
from jobyard_store.files import FileRecord, FileRepository

VERIFY_POLL_SECONDS = 0.1
MAX_LINK_SECONDS = 7 * 24 * 3600
"""The longest a presigned link may live (S3's limit)."""


async def owned_file(files: FileRepository, file_id: str, user: User) -> FileRecord:
    record = await files.get(file_id, user_id=user.id)
    if record is None:
        raise NotFoundException(f"file {file_id} not found")
    return record


async def open_upload(
    objects: ObjectStore, request: StartUpload, user: User, limits: FileLimits
) -> tuple[FileRecord, PostTarget | MultipartTarget]:
    """The new file's record and where its bytes go: one presigned POST, or a multipart upload
    started now with a presigned PUT per part."""
    plan = plan_upload(request.size, limits.multipart_part_mb * MiB)
    expires = timedelta(seconds=limits.upload_link_seconds)
    expires_at = datetime.now(UTC) + expires
    record = new_upload(request, user.id, plan.pending(expires_at))
    key = record.object_key(1)
    if plan.part_size is None:
        form = await asyncio.to_thread(objects.upload_form, key, request.size, expires)
        return record, PostTarget(url=form.url, fields=form.fields, expires_at=expires_at)
    upload_id = await asyncio.to_thread(objects.start_multipart, key, request.content_type)
    urls = await asyncio.to_thread(
        lambda: [objects.part_url(key, upload_id, n, expires) for n in range(1, plan.parts + 1)]
    )
    started = record.model_copy(update={"upload": plan.pending(expires_at, upload_id)})
    target = MultipartTarget(
        part_size=plan.part_size,
        parts=[PartTarget(number=n, url=url) for n, url in enumerate(urls, start=1)],
        expires_at=expires_at,
    )
    return started, target


async def finish_upload(
    files: FileRepository,
    objects: ObjectStore,
    record: FileRecord,
    parts: list[PartETag],
    user: User,
) -> FileRecord:
    """Close the client's upload and hand it to file-sync's check (`verifying`). An object of
    another size than declared is removed and the file rejected."""
    if (problem := parts_problem(record.upload, parts)) is not None:
        raise invalid_fields({"parts": problem})
    key = record.object_key(1)
    if record.upload is not None and record.upload.multipart_id is not None:
        listed = [(part.number, part.etag) for part in parts]
        try:
            await asyncio.to_thread(
                objects.complete_multipart, key, record.upload.multipart_id, listed
            )
        except S3Error as exc:
            # NoSuchUpload: an earlier call completed it; the size check below tells.
            if exc.code != "NoSuchUpload":
                raise invalid_fields({"parts": f"storage refused them: {exc.message}"}) from None
    arrived = await asyncio.to_thread(objects.size_of, key)
    if arrived is None:
        raise ConflictException(
            f"nothing has arrived for file {record.id} yet: send its bytes to the upload "
            "target first"
        )
    mismatch = size_mismatch(record.size, arrived)
    if mismatch is not None:
        await asyncio.to_thread(objects.remove, [key])
    outcome = (
        {"status": FileStatus.REJECTED, "reason": mismatch}
        if mismatch is not None
        else {"status": FileStatus.VERIFYING}
    )
    moved = await files.set_status(record.id, FileStatus.UPLOADING, upload=None, **outcome)
    # None: a concurrent call moved it on first; answer with what it did.
    return moved or await owned_file(files, record.id, user)


def verdict(record: FileRecord) -> Response[FileView]:
    if record.status is FileStatus.REJECTED:
        raise UploadRejectedException(
            f"file {record.id} ({record.name}) was rejected: {record.reason}"
        )
    done = record.status is FileStatus.READY
    return Response(FileView.of(record), status_code=HTTP_200_OK if done else HTTP_202_ACCEPTED)


class FileController(Controller):
    path = "/v1/files"
    tags = ["files"]

    @get("/")
    async def list_files(
        self,
        request: Request[User, Any, Any],
        files: NamedDependency[FileRepository],
        job_id: Annotated[str | None, Parameter(description="Only this job's files.")] = None,
        kind: Annotated[FileKind | None, Parameter(description="Only this kind.")] = None,
        q: Annotated[
            str | None,
            Parameter(
                min_length=1,
                max_length=200,
                description="Only files whose name or path contains this text (any case).",
            ),
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
    ) -> FileList:
        """The caller's files (the Files library), newest first."""
        query = library_query(request.user.id, job_id=job_id, kind=kind, q=q)
        found = await files.find(query, sort=[("created_at", DESCENDING)], limit=limit)
        return FileList(files=[FileView.of(record) for record in found], limit=limit)

    @post("/", status_code=HTTP_201_CREATED)
    async def start_upload(
        self,
        request: Request[User, Any, Any],
        data: JSONBody[StartUpload],
        files: NamedDependency[FileRepository],
        objects: NamedDependency[ObjectStore],
        file_limits: NamedDependency[FileLimits],
    ) -> UploadStarted:
        """Declare a file to upload; the answer says where to send its bytes, straight to
        storage. Then `POST /v1/files/{id}/complete`. A size over the limit is a 422 and one
        past the caller's quota a 413; neither stores anything."""
        if problems := upload_violations(data, file_limits):
            raise invalid_fields(problems)
        used = await files.used_bytes(request.user.id)
        if (problem := quota_problem(used, data.size, file_limits.quota_bytes)) is not None:
            raise StorageQuotaExceededException(problem)
        record, target = await open_upload(objects, data, request.user, file_limits)
        await files.insert(record)
        return UploadStarted(file=FileView.of(record), upload=target)

    @post("/{file_id:str}/complete", status_code=HTTP_200_OK)
    async def complete_upload(
        self,
        request: Request[User, Any, Any],
        file_id: FromPath[str],
        files: NamedDependency[FileRepository],
        objects: NamedDependency[ObjectStore],
        upload_verify_wait_seconds: NamedDependency[float],
        data: JSONBody[CompleteUpload | None] = None,
    ) -> Response[FileView]:
        """The bytes are sent. Their size must be the declared one; file-sync then checks
        their SHA-256: 200 once the file is ready, 422 with the reason when it was rejected,
        202 while the check goes on (look again with `GET /v1/files/{id}`). A repeat answers
        the same way."""
        record = await owned_file(files, file_id, request.user)
        if record.kind is not FileKind.INPUT:
            raise ConflictException(
                f"file {file_id} is a job's {record.kind}; only uploads are completed"
            )
        if record.status is FileStatus.UPLOADING:
            parts = data.parts if data is not None else []
            record = await finish_upload(files, objects, record, parts, request.user)
        record = await reread_until(
            record,
            lambda: owned_file(files, file_id, request.user),
            lambda r: r.status is not FileStatus.VERIFYING,
            seconds=upload_verify_wait_seconds,
            every=VERIFY_POLL_SECONDS,
        )
        return verdict(record)

    @get("/{file_id:str}")
    async def get_file(
        self,
        request: Request[User, Any, Any],
        file_id: FromPath[str],
        files: NamedDependency[FileRepository],
        objects: NamedDependency[ObjectStore],
        file_limits: NamedDependency[FileLimits],
        expires_in: Annotated[
            int | None,
            Parameter(
                ge=1,
                le=MAX_LINK_SECONDS,
                description="Seconds the download link stays valid (default: the configured "
                "`JOBYARD_FILES_DOWNLOAD_LINK_SECONDS`, 900).",
            ),
        ] = None,
    ) -> FileDetail:
        """The file, with a time-limited download link once it is ready."""
        record = await owned_file(files, file_id, request.user)
        version = record.version
        if record.status is not FileStatus.READY or version is None:
            return FileDetail.with_link(record, None, None)
        seconds = expires_in if expires_in is not None else file_limits.download_link_seconds
        expires = timedelta(seconds=seconds)
        expires_at = datetime.now(UTC) + expires
        url = await asyncio.to_thread(
            objects.download_url, version.object_key, expires, record.name
        )
        return FileDetail.with_link(record, url, expires_at)

    @delete("/{file_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def delete_file(
        self,
        request: Request[User, Any, Any],
        file_id: FromPath[str],
        files: NamedDependency[FileRepository],
    ) -> None:
        """Delete the file: from now on it is a 404 and listed nowhere; file-sync removes
        its stored bytes (and aborts an upload left unfinished) shortly after."""
        record = await owned_file(files, file_id, request.user)
        await files.mark_deleted({"_id": record.id, "user_id": request.user.id})


@get("/v1/jobs/{job_id:str}/files", tags=["files"])
async def list_job_files(
    request: Request[User, Any, Any],
    job_id: FromPath[str],
    jobs: NamedDependency[JobRepository],
    files: NamedDependency[FileRepository],
    limit: Annotated[int, Parameter(ge=1, le=1000)] = 1000,
) -> FileList:
    """The job's files (outputs, the scripts it ran, its log), by path."""
    await owned_job(jobs, job_id, request.user)
    query = library_query(request.user.id, job_id=job_id, kind=None, q=None)
    found = await files.find(query, sort=[("path", ASCENDING)], limit=limit)
    return FileList(files=[FileView.of(record) for record in found], limit=limit)
