"""`client.files`: the files of your jobs (outputs, scripts, logs) and those you upload,
blocking and asyncio.

Bytes go straight between this machine and object storage through presigned links, never
through the gateway, and never with the API key (storage has its own client without it).
Requests come from `_requests` and the transfer rules (hashing, parts, checked downloads) from
`_transfer`; both classes only send, stream and sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from jobyard import _requests as rq
from jobyard import _transfer
from jobyard._transfer import LocalFile, TransferProgress
from jobyard.models import File, FileUpload, PostUpload, UploadStarted


def listed_files(body: dict[str, Any]) -> list[File]:
    return [File.model_validate(file) for file in body["files"]]


def _start_upload(local: LocalFile) -> rq.Call:
    return rq.start_upload(local.name, local.size, local.sha256, local.content_type)


class Files:
    """`client.files` of `Jobyard`."""

    def __init__(self, send: Callable[[rq.Call], Any], storage: httpx.Client) -> None:
        self._send = send
        self._storage = storage

    def get(self, file_id: str, expires_in: int | None = None) -> File:
        """The file; once it is ready, with a `download_url` valid `expires_in` seconds (the
        server's default when None)."""
        return File.model_validate(self._send(rq.get_file(file_id, expires_in)))

    def download(
        self,
        file_id: str,
        path: str | Path | None = None,
        progress: TransferProgress | None = None,
    ) -> Path:
        """Save a ready file to `path` (a folder keeps the file's name; default: the file's
        name in the current folder) and return where. Its SHA-256 is checked while writing:
        ChecksumMismatchError leaves nothing behind. ConflictError if it is not ready."""
        file = self.get(file_id)
        target = _transfer.destination(file, path)
        with self._storage.stream("GET", _transfer.download_url(file)) as response:
            if response.is_error:
                response.read()
            _transfer.check_storage(response)
            with _transfer.Receiving(file, target, progress or _transfer.unwatched) as sink:
                for chunk in response.iter_bytes():
                    sink.write(chunk)
        return target

    def upload(
        self,
        path: str | Path,
        name: str | None = None,
        content_type: str | None = None,
        progress: TransferProgress | None = None,
        *,
        poll_interval: float = 1,
        timeout: float = 600,
    ) -> File:
        """Upload a local file (streamed, memory bounded by a part) and return it once the
        server has checked it (`ready`; waiting at most `timeout` seconds, else TimeoutError).
        Give its id to a job's `inputs`. ValidationError if it was rejected,
        QuotaExceededError if it does not fit your storage quota."""
        local = _transfer.local_file(Path(path), name, content_type)
        started = UploadStarted.model_validate(self._send(_start_upload(local)))
        etags = self._send_bytes(local, started.upload, progress or _transfer.unwatched)
        file = File.model_validate(self._send(rq.complete_upload(started.file.id, etags)))
        deadline = time.monotonic() + timeout
        while not _transfer.settled(file):
            if time.monotonic() >= deadline:
                raise TimeoutError(f"file {file.id} still {file.status} after {timeout}s")
            time.sleep(poll_interval)
            file = self.get(file.id)
        return _transfer.accepted(file)

    def _send_bytes(
        self, local: LocalFile, upload: FileUpload, progress: TransferProgress
    ) -> list[tuple[int, str]]:
        """Send the bytes where `upload` says; the parts' (number, ETag), none for a form."""
        if isinstance(upload, PostUpload):
            with _transfer.FormSource(local, progress) as source:
                response = self._storage.post(
                    upload.url,
                    data=upload.fields,
                    files={"file": (local.name, source, local.content_type)},
                )
            _transfer.check_storage(response)
            return []
        etags = []
        for part in _transfer.parts(upload, local.size):
            response = self._storage.put(part.url, content=_transfer.read_part(local, part))
            etags.append((part.number, _transfer.etag(response, part)))
            progress(part.end, local.size)
        return etags

    def delete(self, file_id: str) -> None:
        """Delete the file and its stored bytes."""
        self._send(rq.Call("DELETE", f"/v1/files/{file_id}"))

    def list(
        self,
        job_id: str | None = None,
        kind: str | None = None,
        q: str | None = None,
        limit: int = 100,
    ) -> list[File]:
        """Your files; `job_id` keeps one job's, `kind` one of output, input, script or log,
        `q` those whose name or path contains it."""
        return listed_files(self._send(rq.file_listing(job_id, kind, q, limit)))


class AsyncFiles:
    """`client.files` of `AsyncJobyard`: the same operations, awaited. Reading and hashing
    the local file run in a thread; downloads write each received chunk as it comes."""

    def __init__(
        self, send: Callable[[rq.Call], Awaitable[Any]], storage: httpx.AsyncClient
    ) -> None:
        self._send = send
        self._storage = storage

    async def get(self, file_id: str, expires_in: int | None = None) -> File:
        return File.model_validate(await self._send(rq.get_file(file_id, expires_in)))

    async def download(
        self,
        file_id: str,
        path: str | Path | None = None,
        progress: TransferProgress | None = None,
    ) -> Path:
        file = await self.get(file_id)
        target = _transfer.destination(file, path)
        async with self._storage.stream("GET", _transfer.download_url(file)) as response:
            if response.is_error:
                await response.aread()
            _transfer.check_storage(response)
            with _transfer.Receiving(file, target, progress or _transfer.unwatched) as sink:
                async for chunk in response.aiter_bytes():
                    sink.write(chunk)
        return target

    async def upload(
        self,
        path: str | Path,
        name: str | None = None,
        content_type: str | None = None,
        progress: TransferProgress | None = None,
        *,
        poll_interval: float = 1,
        timeout: float = 600,
    ) -> File:
        local = await asyncio.to_thread(_transfer.local_file, Path(path), name, content_type)
        started = UploadStarted.model_validate(await self._send(_start_upload(local)))
        etags = await self._send_bytes(local, started.upload, progress or _transfer.unwatched)
        file = File.model_validate(await self._send(rq.complete_upload(started.file.id, etags)))
        async with asyncio.timeout(timeout):
            while not _transfer.settled(file):
                await asyncio.sleep(poll_interval)
                file = await self.get(file.id)
        return _transfer.accepted(file)

    async def _send_bytes(
        self, local: LocalFile, upload: FileUpload, progress: TransferProgress
    ) -> list[tuple[int, str]]:
        if isinstance(upload, PostUpload):
            # A form is at most one part long; httpx reads it from the loop, 64 KiB at a time.
            with _transfer.FormSource(local, progress) as source:
                response = await self._storage.post(
                    upload.url,
                    data=upload.fields,
                    files={"file": (local.name, source, local.content_type)},
                )
            _transfer.check_storage(response)
            return []
        etags = []
        for part in _transfer.parts(upload, local.size):
            content = await asyncio.to_thread(_transfer.read_part, local, part)
            response = await self._storage.put(part.url, content=content)
            etags.append((part.number, _transfer.etag(response, part)))
            progress(part.end, local.size)
        return etags

    async def delete(self, file_id: str) -> None:
        await self._send(rq.Call("DELETE", f"/v1/files/{file_id}"))

    async def list(
        self,
        job_id: str | None = None,
        kind: str | None = None,
        q: str | None = None,
        limit: int = 100,
    ) -> list[File]:
        return listed_files(await self._send(rq.file_listing(job_id, kind, q, limit)))
