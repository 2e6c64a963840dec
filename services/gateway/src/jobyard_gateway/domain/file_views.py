"""What the API shows of a file (never its storage keys) and where an upload's bytes go."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, Field

from jobyard_contracts import FileKind, FileStatus, JobKind
from jobyard_store.files import FileRecord


class GeneratedBy(BaseModel):
    """The job that produced the file (the Files library's marker)."""

    kind: JobKind
    job_id: str
    job_name: str


class FileView(BaseModel):
    id: str
    job_id: str | None
    job_name: str | None
    path: str
    """Outputs: relative to /workspace; uploads: the file's name."""
    name: str
    size: int
    sha256: str | None
    content_type: str
    kind: FileKind
    status: FileStatus
    reason: str | None
    """Why it was rejected."""
    step_index: int | None
    version: int
    """The latest version's number (0 until one is stored)."""
    generated_by: GeneratedBy | None
    """None for uploads."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, record: FileRecord) -> FileView:
        producer = (
            GeneratedBy(kind=record.job_kind, job_id=record.job_id, job_name=record.job_name or "")
            if record.job_id is not None and record.job_kind is not None
            else None
        )
        return cls(
            id=record.id,
            job_id=record.job_id,
            job_name=record.job_name,
            path=record.path,
            name=record.name,
            size=record.size,
            sha256=record.sha256,
            content_type=record.content_type,
            kind=record.kind,
            status=record.status,
            reason=record.reason or None,
            step_index=record.step_index,
            version=record.version.number if record.version else 0,
            generated_by=producer,
            created_at=record.created_at,
            updated_at=record.updated_at,
        )


class FileDetail(FileView):
    download_url: str | None
    """A presigned link to the latest version, once the file is ready; the bytes come from
    storage directly."""
    url_expires_at: datetime | None

    @classmethod
    def with_link(
        cls, record: FileRecord, url: str | None, expires_at: datetime | None
    ) -> FileDetail:
        return cls(**dict(FileView.of(record)), download_url=url, url_expires_at=expires_at)


class FileList(BaseModel):
    files: list[FileView]
    limit: int


class PostTarget(BaseModel):
    """Send the file as one multipart/form-data POST to `url`: every one of `fields`, then the
    bytes as the field `file`."""

    method: Literal["post"] = "post"
    url: str
    fields: dict[str, str]
    expires_at: datetime


class PartTarget(BaseModel):
    number: int
    """Part n holds bytes [(n - 1) * part_size, n * part_size) of the file."""
    url: str


class MultipartTarget(BaseModel):
    """PUT each part's bytes to its `url` and keep the `ETag` header of the answer: completing
    the upload lists every part's number and ETag."""

    method: Literal["multipart"] = "multipart"
    part_size: int
    parts: list[PartTarget]
    expires_at: datetime


class UploadStarted(BaseModel):
    """The new file, `uploading`, and where its bytes go; then `POST /v1/files/{id}/complete`."""

    file: FileView
    upload: Annotated[PostTarget | MultipartTarget, Field(discriminator="method")]
