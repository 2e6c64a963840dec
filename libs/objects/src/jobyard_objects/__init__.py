"""Object storage (S3, MinIO, or the moto stand-in) through the `minio` SDK.

Uploads stream from disk in parts (memory bounded by the part size whatever the file's size)
and hash what they send, so the SHA-256 recorded is that of the stored bytes. Links for
clients are presigned with the public endpoint: bytes go between client and storage directly.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, urlsplit

from minio import Minio
from minio.datatypes import Part, PostPolicy
from minio.error import S3Error
from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_settings import InfraSettings

MiB = 1024 * 1024


class ObjectSettings(BaseSettings):
    """Where files are stored, from `JOBYARD_S3_*` (or `S3_ENDPOINT`, `S3_ACCESS_KEY`, ...)."""

    model_config = SettingsConfigDict(
        env_prefix="JOBYARD_S3_", extra="ignore", populate_by_name=True
    )

    endpoint: str = Field(
        default="http://127.0.0.1:9000",
        validation_alias=AliasChoices("JOBYARD_S3_ENDPOINT", "S3_ENDPOINT"),
        description="S3 API URL the services use.",
    )
    public_endpoint: str | None = Field(
        default=None, description="S3 URL clients reach, for presigned links (default: endpoint)."
    )
    access_key: str = Field(
        default="jobyard", validation_alias=AliasChoices("JOBYARD_S3_ACCESS_KEY", "S3_ACCESS_KEY")
    )
    secret_key: SecretStr = Field(
        default=SecretStr("jobyard-secret"),
        validation_alias=AliasChoices("JOBYARD_S3_SECRET_KEY", "S3_SECRET_KEY"),
    )
    region: str = Field(default="us-east-1", description="Set, so signing needs no lookup.")
    bucket: str | None = Field(default=None, description="Default: `<namespace>-files`.")
    # 5 MiB x 3, as `fput_object` does for a 1 GiB file: the same throughput, and file-sync's
    # memory stays near 120 MiB (16 MiB x 2 reached 150); up to 48 GiB in 10,000 parts.
    part_size_mb: int = Field(
        default=5, ge=5, le=5120, description="Streamed uploads send parts of this size."
    )
    parallel_parts: int = Field(default=3, ge=1, le=16, description="Parts sent at once.")

    def bucket_for(self, infra: InfraSettings) -> str:
        return self.bucket or f"{infra.namespace}-files"


class FileLimits(BaseSettings):
    """What users may store, from `JOBYARD_FILES_*`: read by the gateway (uploads) and by
    file-sync (outputs), so both refuse the same things."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_FILES_", extra="ignore")

    max_file_bytes: int = Field(
        default=5 * 1024**3, ge=1, description="Largest file stored (outputs and uploads)."
    )
    quota_bytes: int = Field(
        default=50 * 1024**3, ge=0, description="What one user's files may take in all."
    )
    download_link_seconds: int = Field(
        default=900, ge=1, le=604800, description="Default validity of a download link."
    )
    upload_link_seconds: int = Field(
        default=3600, ge=60, le=604800, description="Validity of upload targets."
    )
    multipart_part_mb: int = Field(
        default=64, ge=5, le=5120, description="Uploads larger than this go in parts this size."
    )


@dataclass(frozen=True, slots=True)
class Stored:
    size: int
    sha256: str


@dataclass(frozen=True, slots=True)
class PresignedPost:
    url: str
    fields: dict[str, str]


class ChangedWhileReadingError(RuntimeError):
    """The file's size changed while it was uploaded: the caller tries again later."""


class ObjectStore:
    def __init__(self, settings: ObjectSettings, bucket: str) -> None:
        self.bucket = bucket
        self._part_size = settings.part_size_mb * MiB
        self._parallel = settings.parallel_parts
        self._client = _client(settings.endpoint, settings)
        self._public = _client(settings.public_endpoint or settings.endpoint, settings)

    def ensure_bucket(self) -> None:
        try:
            if not self._client.bucket_exists(self.bucket):
                self._client.make_bucket(self.bucket)
        except S3Error as exc:  # another service made it at the same time
            if exc.code not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
                raise

    def upload_stream(self, key: str, source: BinaryIO, size: int, content_type: str) -> Stored:
        """Stream `size` bytes from `source` in parts; the object appears only once complete."""
        reader = _HashingReader(source, size)
        self._client.put_object(
            self.bucket,
            key,
            reader,  # type: ignore[arg-type]
            size,
            content_type=content_type,
            part_size=self._part_size,
            num_parallel_uploads=self._parallel,
        )
        if reader.read_bytes != size:
            raise ChangedWhileReadingError(f"{key}: the source shrank while it was uploaded")
        return Stored(size=size, sha256=reader.hexdigest())

    def abort_unfinished(self, key: str, size: int) -> int:
        """Abort what an earlier upload of `key` left unfinished (its process was killed
        mid-way): parts nobody lists but storage keeps. Only a streamed upload of more than
        one part can leave any; how many were aborted."""
        if size <= self._part_size:
            return 0
        listed = self._client._list_multipart_uploads(self.bucket, prefix=key)
        unfinished = [u for u in listed.uploads if u.object_name == key and u.upload_id]
        for upload in unfinished:
            self.abort_multipart(key, str(upload.upload_id))
        return len(unfinished)

    def upload_bytes(self, key: str, data: bytes, content_type: str) -> Stored:
        self._client.put_object(self.bucket, key, BytesIO(data), len(data), content_type)
        return Stored(size=len(data), sha256=hashlib.sha256(data).hexdigest())

    def download_file(self, key: str, path: Path) -> None:
        """Into `path` through a new temporary file beside it (created exclusively, so a link
        planted there is never written through), renamed at the end: no partial file."""
        partial = path.with_name(f".{path.name}.partial")
        partial.unlink(missing_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        response = self._client.get_object(self.bucket, key)
        try:
            with os.fdopen(os.open(partial, flags, 0o644), "wb") as target:
                for chunk in response.stream(MiB):
                    target.write(chunk)
        finally:
            response.close()
            response.release_conn()
        partial.replace(path)

    def digest(self, key: str) -> Stored | None:
        """Size and SHA-256 of a stored object, read in parts (None when there is none)."""
        try:
            response = self._client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code == "NoSuchKey":
                return None
            raise
        sha, size = hashlib.sha256(), 0
        try:
            for chunk in response.stream(MiB):
                sha.update(chunk)
                size += len(chunk)
        finally:
            response.close()
            response.release_conn()
        return Stored(size=size, sha256=sha.hexdigest())

    def size_of(self, key: str) -> int | None:
        try:
            stat = self._client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NotFound"):
                return None
            raise
        return int(stat.size or 0)

    def remove(self, keys: list[str]) -> None:
        for key in keys:
            self._client.remove_object(self.bucket, key)

    def keys(self, prefix: str = "") -> Iterator[str]:
        for item in self._client.list_objects(self.bucket, prefix=prefix, recursive=True):
            if item.object_name:
                yield item.object_name

    # Links for clients: bytes between the client and storage, never through a service.

    def download_url(self, key: str, expires: timedelta, filename: str) -> str:
        disposition = f"attachment; filename*=UTF-8''{quote(filename, safe='')}"
        return self._public.presigned_get_object(
            self.bucket,
            key,
            expires=expires,
            response_headers={"response-content-disposition": disposition},
        )

    def upload_form(self, key: str, size: int, expires: timedelta) -> PresignedPost:
        """A presigned POST accepting exactly `size` bytes for `key`."""
        policy = PostPolicy(self.bucket, datetime.now(UTC) + expires)
        policy.add_equals_condition("key", key)
        policy.add_content_length_range_condition(size, size)
        fields = self._public.presigned_post_policy(policy)
        base = self._public._base_url
        url = f"{'https' if base.is_https else 'http'}://{base.host}/{self.bucket}"
        return PresignedPost(url=url, fields={"key": key, **fields})

    def start_multipart(self, key: str, content_type: str) -> str:
        return self._client._create_multipart_upload(
            self.bucket, key, {"Content-Type": content_type}
        )

    def part_url(self, key: str, upload_id: str, number: int, expires: timedelta) -> str:
        return self._public.get_presigned_url(
            "PUT",
            self.bucket,
            key,
            expires=expires,
            extra_query_params={"partNumber": str(number), "uploadId": upload_id},
        )

    def complete_multipart(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> None:
        listed = [Part(number, etag.strip('"')) for number, etag in sorted(parts)]
        self._client._complete_multipart_upload(self.bucket, key, upload_id, listed)

    def abort_multipart(self, key: str, upload_id: str) -> None:
        try:
            self._client._abort_multipart_upload(self.bucket, key, upload_id)
        except S3Error as exc:
            if exc.code != "NoSuchUpload":
                raise


def _client(endpoint: str, settings: ObjectSettings) -> Minio:
    url = urlsplit(endpoint)
    return Minio(
        url.netloc,
        access_key=settings.access_key,
        secret_key=settings.secret_key.get_secret_value(),
        secure=url.scheme == "https",
        region=settings.region,
    )


class _HashingReader:
    """What minio reads from: the file, hashed as it goes, never past `limit` bytes."""

    def __init__(self, source: BinaryIO, limit: int) -> None:
        self._source = source
        self._left = limit
        self._sha = hashlib.sha256()
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        if size < 0 or size > self._left:
            size = self._left
        chunk = self._source.read(size)
        self._sha.update(chunk)
        self._left -= len(chunk)
        self.read_bytes += len(chunk)
        return chunk

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


__all__ = [
    "ChangedWhileReadingError",
    "FileLimits",
    "ObjectSettings",
    "ObjectStore",
    "PresignedPost",
    "S3Error",
    "Stored",
]
