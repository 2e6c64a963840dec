"""File records: what the Files library lists. The bytes live in object storage, never here.

Ownership: file-sync writes the records of what jobs produce (outputs, scripts, logs) and checks
uploaded inputs; the gateway creates input records, answers listings and marks records deleted;
file-sync removes a deleted record's objects, then the record.

A host-produced file's id is derived from (job, kind, path), so a file-sync that restarts
mid-upload finds the same record again; each change of the file is a new version (its own
object), and a record only points at a version once that object is complete, so a partial
upload is never listed.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase

from jobyard_contracts import FileKind, FileStatus, JobKind
from jobyard_store.leases import claim_first, lease_free

MAX_VERSIONS = 10
"""Versions kept per file; older versions' objects are removed."""


class FileVersion(BaseModel):
    number: int
    object_key: str
    size: int
    sha256: str
    step_index: int | None = None
    created_at: datetime


class SourceStat(BaseModel):
    """What the file on the host looked like when it was read for its last version (or its
    rejection): the same size and mtime mean nothing new to upload."""

    size: int
    mtime_ns: int


class PendingUpload(BaseModel):
    """An input the client is sending straight to storage."""

    multipart_id: str | None = Field(default=None, description="S3 multipart upload id.")
    part_size: int | None = None
    parts: int = 1
    expires_at: datetime


class FileRecord(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(alias="_id")
    user_id: str
    kind: FileKind
    status: FileStatus
    path: str = Field(description="Outputs: relative to /workspace; inputs: the file's name.")
    name: str
    size: int = 0
    sha256: str | None = None
    content_type: str = "application/octet-stream"
    job_id: str | None = None
    job_name: str | None = None
    job_kind: JobKind | None = None
    step_index: int | None = Field(default=None, description="The step that last changed it.")
    reason: str = Field(default="", description="Why it was rejected.")
    versions: list[FileVersion] = Field(default_factory=list)
    source: SourceStat | None = None
    upload: PendingUpload | None = None
    lease_until: datetime | None = Field(default=None, description="Checked by file-sync now.")
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None = None

    @property
    def version(self) -> FileVersion | None:
        return self.versions[-1] if self.versions else None

    def object_key(self, number: int) -> str:
        return f"users/{self.user_id}/files/{self.id}/v{number}"


def output_file_id(job_id: str, kind: FileKind, path: str) -> str:
    """The same file of the same job always has the same record (restarts find it again)."""
    digest = hashlib.sha256(f"{job_id}\0{kind.value}\0{path}".encode()).hexdigest()
    return f"file-{digest[:24]}"


def new_file_id() -> str:
    return f"file-{uuid.uuid4().hex[:24]}"


LISTED = {"deleted_at": None}


class FileRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["files"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("user_id", ASCENDING), ("created_at", DESCENDING)])
        await self.collection.create_index([("job_id", ASCENDING), ("path", ASCENDING)])
        await self.collection.create_index([("status", ASCENDING), ("lease_until", ASCENDING)])
        await self.collection.create_index([("deleted_at", ASCENDING)])

    async def get(self, file_id: str, *, user_id: str | None = None) -> FileRecord | None:
        """The record; with `user_id`, only that user's and only while not deleted."""
        query: dict[str, Any] = {"_id": file_id}
        if user_id is not None:
            query |= {"user_id": user_id} | LISTED
        doc = await self.collection.find_one(query)
        return FileRecord.model_validate(doc) if doc else None

    async def find(
        self,
        query: dict[str, Any],
        *,
        sort: list[tuple[str, int]] | None = None,
        limit: int = 0,
    ) -> list[FileRecord]:
        cursor = self.collection.find(query, sort=sort or [("created_at", DESCENDING)], limit=limit)
        return [FileRecord.model_validate(doc) async for doc in cursor]

    async def save(self, record: FileRecord) -> None:
        doc = record.model_dump(mode="python", by_alias=True)
        await self.collection.replace_one({"_id": record.id}, doc, upsert=True)

    async def insert(self, record: FileRecord) -> None:
        await self.collection.insert_one(record.model_dump(mode="python", by_alias=True))

    async def set_status(
        self, file_id: str, expected: FileStatus, **changes: Any
    ) -> FileRecord | None:
        """Move a record on from `expected` (None when it is no longer there: someone else did)."""
        doc = await self.collection.find_one_and_update(
            {"_id": file_id, "status": expected.value} | LISTED,
            {"$set": changes | {"updated_at": datetime.now(UTC)}},
            return_document=ReturnDocument.AFTER,
        )
        return FileRecord.model_validate(doc) if doc else None

    async def claim(self, status: FileStatus, lease: timedelta) -> FileRecord | None:
        """One record in `status` that no one else works on now (a lease, so a crashed
        worker's record is taken up again once it expires)."""
        now = datetime.now(UTC)
        doc = await claim_first(
            self.collection,
            {"status": status.value} | lease_free("lease_until", now) | LISTED,
            {"$set": {"lease_until": now + lease}},
            return_document=ReturnDocument.AFTER,
        )
        return FileRecord.model_validate(doc) if doc else None

    async def mark_deleted(self, query: dict[str, Any]) -> int:
        result = await self.collection.update_many(
            query | LISTED, {"$set": {"deleted_at": datetime.now(UTC)}}
        )
        return int(result.modified_count)

    async def deleted(self, limit: int = 100) -> list[FileRecord]:
        return await self.find({"deleted_at": {"$ne": None}}, limit=limit)

    async def purge(self, file_id: str) -> None:
        await self.collection.delete_one({"_id": file_id, "deleted_at": {"$ne": None}})

    async def used_bytes(self, user_id: str) -> int:
        """What the user's files take: every kept version, and uploads under way."""
        pending = (FileStatus.UPLOADING.value, FileStatus.VERIFYING.value)
        total = 0
        cursor = self.collection.find(
            {"user_id": user_id} | LISTED, {"versions.size": 1, "size": 1, "status": 1}
        )
        async for doc in cursor:
            total += sum(int(v.get("size", 0)) for v in doc.get("versions", []))
            if doc.get("status") in pending:  # an upload under way holds its declared size
                total += int(doc.get("size", 0))
        return total
