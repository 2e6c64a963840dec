"""Which files are a job's outputs, when one needs uploading, and what a saved file records.
Pure: no file system, no storage, no broker.

The output rule: every regular file under /workspace that the job created or changed (for a
stateful workspace: changed since the job was admitted), matching the job's `include` globs and
none of its `exclude` globs nor the default caches (`__pycache__`, `.cache`, `.git`, ...), and
not one of its inputs as they were copied in. Symlinks are never followed nor uploaded.
"""

from __future__ import annotations

import glob
import mimetypes
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from pathlib import PurePosixPath

from jobyard_contracts import FileKind, FileReady, FileRejected, FileStatus, OutputsSynced
from jobyard_store import Change, JobDocument
from jobyard_store.documents import DEFAULT_OUTPUT_EXCLUDES
from jobyard_store.files import FileRecord, FileVersion, SourceStat, output_file_id
from jobyard_store.workspaces import input_mtime_ns

STATEFUL_CLOCK_SLACK = timedelta(seconds=2)
"""Files of a stateful workspace changed this long before admission still count (clocks of
the host and the store may differ a little)."""


@dataclass(frozen=True, slots=True)
class FileStat:
    """A regular file in the workspace as the host sees it."""

    path: str
    """Relative to the workspace, `/`-separated."""
    size: int
    mtime_ns: int

    @property
    def source(self) -> SourceStat:
        return SourceStat(size=self.size, mtime_ns=self.mtime_ns)


@lru_cache(maxsize=512)
def _glob(pattern: str) -> re.Pattern[str]:
    """Shell-style, relative to /workspace: `*` stays within a folder, `**/` spans folders."""
    return re.compile(glob.translate(pattern, recursive=True, include_hidden=True))


def matches(path: str, pattern: str) -> bool:
    return _glob(pattern).match(path) is not None


def is_output(job: JobDocument, stat: FileStat) -> bool:
    path = stat.path
    if any(matches(path, p) for p in (*DEFAULT_OUTPUT_EXCLUDES, *job.outputs.exclude)):
        return False
    if not any(matches(path, p) for p in job.outputs.include):
        return False
    if _is_copied_input(job, stat):
        return False
    if job.stateful and job.admitted_at is not None:
        return stat.mtime_ns >= (job.admitted_at - STATEFUL_CLOCK_SLACK).timestamp() * 1e9
    return True


def _is_copied_input(job: JobDocument, stat: FileStat) -> bool:
    """An input (or a fork's restored file) as the host copied it in, unchanged."""
    return any(
        i.workspace_path == stat.path
        and i.size == stat.size
        and stat.mtime_ns == input_mtime_ns(job)
        for i in job.inputs
    )


def unsaved(
    job: JobDocument, stats: Iterable[FileStat], seen_saved: Mapping[str, FileStat]
) -> list[FileStat]:
    """The job's outputs that changed since they were last seen saved: the files waiting to be
    saved (after a restart nothing was seen, so every output waits until the store is asked)."""
    return [stat for stat in stats if seen_saved.get(stat.path) != stat and is_output(job, stat)]


def settled(stat: FileStat, now: datetime, settle: timedelta) -> bool:
    """Unchanged for the settle time: most likely complete (a job still writing it changes
    its mtime; a later change is uploaded again as a new version)."""
    return now.timestamp() * 1e9 - stat.mtime_ns >= settle.total_seconds() * 1e9


def needs_saving(record: FileRecord | None, stat: FileStat) -> bool:
    """Nothing new when the file looks as it did at its last version or rejection."""
    return record is None or record.source != stat.source


def content_type(path: str) -> str:
    guessed, _ = mimetypes.guess_type(path, strict=False)
    return guessed or "application/octet-stream"


def new_record(job: JobDocument, kind: FileKind, path: str, now: datetime) -> FileRecord:
    return FileRecord(
        id=output_file_id(job.id, kind, path),
        user_id=job.user_id,
        kind=kind,
        status=FileStatus.READY,
        path=path,
        name=PurePosixPath(path).name,
        content_type=content_type(path),
        job_id=job.id,
        job_name=job.name,
        job_kind=job.kind,
        created_at=now,
        updated_at=now,
    )


def with_version(
    record: FileRecord,
    version: FileVersion,
    source: SourceStat | None,
    max_versions: int,
) -> tuple[FileRecord, list[str]]:
    """The record pointing at its new version, and the objects of versions no longer kept."""
    versions = [*record.versions, version]
    dropped = versions[:-max_versions] if len(versions) > max_versions else []
    saved = record.model_copy(
        update={
            "status": FileStatus.READY,
            "size": version.size,
            "sha256": version.sha256,
            "step_index": version.step_index,
            "reason": "",
            "versions": versions[-max_versions:],
            "source": source,
            "updated_at": version.created_at,
        }
    )
    return saved, [v.object_key for v in dropped]


def rejected(record: FileRecord, stat: FileStat, reason: str, now: datetime) -> FileRecord:
    """Not stored; the record says why (the file's earlier versions, if any, stay listed)."""
    status = FileStatus.READY if record.versions else FileStatus.REJECTED
    return record.model_copy(
        update={
            "status": status,
            "reason": reason,
            "size": record.size if record.versions else stat.size,
            "source": stat.source,
            "updated_at": now,
        }
    )


def too_big_reason(size: int, limit: int) -> str:
    return f"{_gib(size)} is over the {_gib(limit)} limit per file"


def over_quota_reason(used: int, size: int, quota: int) -> str:
    return f"storage quota: {_gib(used)} of {_gib(quota)} used, this file needs {_gib(size)}"


def _gib(size: int) -> str:
    return f"{size / 1024**3:.2f} GiB" if size >= 1024**3 else f"{size / 1024**2:.1f} MiB"


def ready_event(record: FileRecord) -> FileReady:
    version = record.version
    assert version is not None
    return FileReady(
        file_id=record.id,
        path=record.path,
        kind=record.kind,
        size=version.size,
        sha256=version.sha256,
        version=version.number,
        step_index=version.step_index,
    )


def rejected_event(record: FileRecord, stat: FileStat) -> FileRejected:
    return FileRejected(file_id=record.id, path=record.path, size=stat.size, reason=record.reason)


def announce(job: JobDocument, events: list[FileEvent]) -> Change | None:
    """The job's events for files saved meanwhile (the job itself does not change)."""
    if not events:
        return None
    return Change(job, events)


def sync_wanted(job: JobDocument) -> bool:
    """The sandbox-manager asked for a sync (a step's or the job's end) not yet done."""
    progress = job.files
    return progress.requested_step > progress.synced_step or (
        progress.final_requested and not progress.final_synced
    )


def synced(job: JobDocument, step: int, final: bool, files: int, total_bytes: int) -> Change | None:
    """Everything the workspace held when the step (or the job) ended is stored or rejected."""
    progress = job.files
    if progress.synced(step) and (progress.final_synced or not final):
        return None
    updated = progress.model_copy(
        update={
            "synced_step": max(progress.synced_step, step),
            "final_synced": progress.final_synced or final,
            "files": files,
            "bytes": total_bytes,
        }
    )
    event = OutputsSynced(step_index=step, final=final, files=files, bytes=total_bytes)
    return Change(job.model_copy(update={"files": updated}), [event])


def script_path(job: JobDocument, step: int) -> str:
    title = re.sub(r"[^A-Za-z0-9._-]+", "-", job.step(step).title).strip("-")[:60] or "step"
    return f"steps/{step + 1:02d}-{title}.sh"


def script_text(job: JobDocument, step: int) -> str:
    """What the step ran: the planner's command for a model's step, else the step's script."""
    state = job.step(step)
    return state.command or state.script


LOG_PATH = "logs/output.log"
FileEvent = FileReady | FileRejected
