"""Moving a file's bytes between disk and object storage, shared by the sync and async clients:
what an upload declares and sends (size, SHA-256, parts), what storage answered, and downloads
written beside their destination, checked, then renamed. Disk only; the clients do the HTTP."""

from __future__ import annotations

import hashlib
import io
import mimetypes
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

import httpx

from jobyard.errors import (
    ChecksumMismatchError,
    ConflictError,
    JobyardError,
    StorageError,
    ValidationError,
)
from jobyard.models import File, MultipartUpload

CHUNK = 1024 * 1024

TransferProgress = Callable[[int, int], None]
"""Called with (bytes moved so far, bytes in all) as a transfer goes."""


def unwatched(done: int, total: int) -> None:
    """The progress of a transfer nobody watches."""


@dataclass(frozen=True)
class LocalFile:
    """A file to upload as the gateway is told about it."""

    path: Path
    name: str
    size: int
    sha256: str
    content_type: str | None


def local_file(path: Path, name: str | None, content_type: str | None) -> LocalFile:
    """Reads the whole file once: size and SHA-256 are those of the bytes read."""
    sha, size = hashlib.sha256(), 0
    with path.open("rb") as source:
        while chunk := source.read(CHUNK):
            sha.update(chunk)
            size += len(chunk)
    name = name or path.name
    content_type = content_type or mimetypes.guess_type(name)[0]
    return LocalFile(path, name, size, sha.hexdigest(), content_type)


class FormSource(io.FileIO):
    """The file as the form POST streams it, reporting how far it got (httpx seeks to 0
    before reading and sizes the body from the file itself)."""

    def __init__(self, local: LocalFile, progress: TransferProgress) -> None:
        super().__init__(local.path, "rb")
        self._size = local.size
        self._progress = progress

    def read(self, size: int | None = -1, /) -> bytes:
        chunk = super().read(size)
        self._progress(self.tell(), self._size)
        return chunk


@dataclass(frozen=True)
class Part:
    number: int
    url: str
    offset: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


def parts(upload: MultipartUpload, size: int) -> list[Part]:
    """Each part's bytes: `part_size` of them from (number - 1) * part_size, fewer in the last."""
    listed = []
    for part in sorted(upload.parts, key=lambda p: p.number):
        offset = (part.number - 1) * upload.part_size
        listed.append(Part(part.number, part.url, offset, min(upload.part_size, size - offset)))
    return listed


def read_part(local: LocalFile, part: Part) -> bytes:
    """One part in memory at a time: what bounds an upload's memory."""
    with local.path.open("rb") as source:
        source.seek(part.offset)
        data = source.read(part.length)
    if len(data) != part.length:
        raise JobyardError(f"{local.path} changed while it was uploaded")
    return data


def check_storage(response: httpx.Response) -> None:
    """StorageError unless storage accepted; the body must have been read."""
    if response.is_success:
        return
    # S3 answers in XML; its <Message> is the readable part ("Request has expired").
    found = re.search(r"<Message>(.*?)</Message>", response.text, re.DOTALL)
    detail = found.group(1) if found else response.text[:200] or response.reason_phrase
    raise StorageError(
        f"storage answered {response.status_code}: {detail}",
        status_code=response.status_code,
        body=response.text,
    )


def etag(response: httpx.Response, part: Part) -> str:
    """The ETag of a stored part, as storage wrote it (completing the upload needs it)."""
    check_storage(response)
    tag: str = response.headers.get("ETag", "")
    if not tag:
        raise StorageError(f"storage sent no ETag for part {part.number}")
    return tag


def settled(file: File) -> bool:
    """Whether the server is done checking an upload."""
    return file.status in ("ready", "rejected")


def accepted(file: File) -> File:
    """The settled upload, or ValidationError with the server's reason."""
    if file.status == "rejected":
        raise ValidationError(f"upload rejected: {file.reason}", body=file.model_dump(mode="json"))
    return file


def download_url(file: File) -> str:
    if file.download_url is None:
        raise ConflictError(f"file {file.id} is {file.status}, not ready to download")
    return file.download_url


def destination(file: File, path: str | Path | None) -> Path:
    """`path`, or the file's name inside it when it is a folder, or in the current folder.
    Only the name's last part is used: it comes from the server."""
    name = Path(file.name).name
    if name in ("", ".."):
        name = file.id
    if path is None:
        return Path(name)
    return Path(path) / name if Path(path).is_dir() else Path(path)


class Receiving:
    """A download written to a hidden file beside `path` and hashed as it comes. Leaving the
    block checks size and SHA-256 and renames it to `path`; after an error nothing is left."""

    _partial: Path
    _out: BinaryIO

    def __init__(self, file: File, path: Path, progress: TransferProgress) -> None:
        self.path = path
        self._file = file
        self._progress = progress
        self._sha = hashlib.sha256()
        self._received = 0

    def __enter__(self) -> Receiving:
        self._partial = self.path.with_name(f".{self.path.name}.{secrets.token_hex(4)}.partial")
        self._out = self._partial.open("xb")
        self._progress(0, self._file.size)
        return self

    def write(self, chunk: bytes) -> None:
        self._out.write(chunk)
        self._sha.update(chunk)
        self._received += len(chunk)
        self._progress(self._received, self._file.size)

    def __exit__(
        self,
        error_type: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._out.close()
        try:
            if error is None:
                self._check()
                self._partial.replace(self.path)
        finally:
            self._partial.unlink(missing_ok=True)

    def _check(self) -> None:
        received = (self._received, self._sha.hexdigest())
        # A file without a recorded SHA-256 (no ready one should lack it) is checked by size.
        expected = (self._file.size, self._file.sha256 or received[1])
        if received != expected:
            raise ChecksumMismatchError(
                f"file {self._file.id}: received {received[0]} bytes with SHA-256 "
                f"{received[1]}, expected {expected[0]} bytes with SHA-256 {expected[1]}"
            )
