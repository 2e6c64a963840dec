"""Uploads of input files: what a client may declare, where its bytes go (one presigned POST,
or presigned parts for large files) and what must hold before file-sync checks them. No I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobyard_contracts import FileKind, FileStatus
from jobyard_objects import FileLimits
from jobyard_store.files import FileRecord, PendingUpload, new_file_id

MAX_NAME_BYTES = 255
"""What most file systems allow for one name (the job finds it under /workspace/inputs/)."""
S3_MAX_PARTS = 10_000


class StartUpload(BaseModel):
    """Body of `POST /v1/files`: the file the client is about to send."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(
        description="File name (1..255 UTF-8 bytes, no `/`): the job finds it as "
        "/workspace/inputs/<name>."
    )
    size: int = Field(ge=0, description="Exact size in bytes.")
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="SHA-256 of the bytes, 64 lowercase hex digits."
    )
    content_type: str = Field(
        default="application/octet-stream",
        max_length=255,
        pattern=r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+( *;[ -~]*)?$",
        description="MIME type, e.g. `text/csv` or `text/csv; charset=utf-8`.",
    )

    @field_validator("name")
    @classmethod
    def _file_name(cls, name: str) -> str:
        if not 1 <= len(name.encode()) <= MAX_NAME_BYTES:
            raise ValueError(f"must be 1 to {MAX_NAME_BYTES} bytes in UTF-8")
        if "/" in name or "\0" in name:
            raise ValueError("a file name, not a path: no `/` and no NUL character")
        if name in (".", ".."):
            raise ValueError("`.` and `..` are not file names")
        return name


class PartETag(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: int = Field(ge=1, le=S3_MAX_PARTS)
    etag: str = Field(
        min_length=1, max_length=200, description="The `ETag` header storage answered the PUT with."
    )


class CompleteUpload(BaseModel):
    """Body of `POST /v1/files/{id}/complete`."""

    model_config = ConfigDict(extra="forbid")

    parts: list[PartETag] = Field(
        default_factory=list,
        max_length=S3_MAX_PARTS,
        description="Multipart uploads: every part's number and ETag (none for a POST upload).",
    )


def upload_violations(request: StartUpload, limits: FileLimits) -> dict[str, str]:
    if request.size > limits.max_file_bytes:
        return {"size": f"must be at most {limits.max_file_bytes} bytes (the largest file stored)"}
    return {}


def quota_problem(used: int, size: int, quota: int) -> str | None:
    """Why an upload of `size` bytes would not fit the user's quota (None when it does)."""
    if used + size <= quota:
        return None
    return (
        f"storage quota exceeded: your files take {used} bytes of your {quota}, and this upload "
        f"needs {size} more; delete some files first"
    )


@dataclass(frozen=True, slots=True)
class UploadPlan:
    part_size: int | None
    """None: one presigned POST of the whole file."""
    parts: int

    def pending(self, expires_at: datetime, multipart_id: str | None = None) -> PendingUpload:
        return PendingUpload(
            multipart_id=multipart_id,
            part_size=self.part_size,
            parts=self.parts,
            expires_at=expires_at,
        )


def plan_upload(size: int, part_bytes: int) -> UploadPlan:
    """Files up to one part go in one POST; larger ones in parts of `part_bytes` (the last one
    shorter), grown when S3's limit on the number of parts would be passed."""
    if size <= part_bytes:
        return UploadPlan(part_size=None, parts=1)
    part_size = max(part_bytes, -(-size // S3_MAX_PARTS))
    return UploadPlan(part_size=part_size, parts=-(-size // part_size))


def new_upload(request: StartUpload, user_id: str, upload: PendingUpload) -> FileRecord:
    now = datetime.now(UTC)
    return FileRecord(
        id=new_file_id(),
        user_id=user_id,
        kind=FileKind.INPUT,
        status=FileStatus.UPLOADING,
        path=request.name,
        name=request.name,
        size=request.size,
        sha256=request.sha256,
        content_type=request.content_type,
        upload=upload,
        created_at=now,
        updated_at=now,
    )


def parts_problem(upload: PendingUpload | None, parts: list[PartETag]) -> str | None:
    """What is wrong with the parts a client lists to complete its upload."""
    if upload is None or upload.multipart_id is None:
        return "this upload was one POST: complete it without parts" if parts else None
    if sorted(part.number for part in parts) != list(range(1, upload.parts + 1)):
        return f"give each of the {upload.parts} parts, numbered from 1, once with its ETag"
    return None


def size_mismatch(declared: int, arrived: int) -> str | None:
    if arrived == declared:
        return None
    return f"size mismatch: {arrived} bytes arrived, {declared} were declared"
