"""What the dashboard's pages show, as pure rules: the jobs page's query and pages, which of a
job's buttons its state allows (the API's own rules decide), and how numbers read."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from jobyard_contracts import JobKind, JobStatus
from jobyard_gateway.domain.commands import NotAllowedError, request_pause, request_resume
from jobyard_store import Change, JobDocument

JOBS_PER_PAGE = 25
STATUS_LABELS = {
    JobStatus.PENDING: "pending",
    JobStatus.PLANNING: "planning",
    JobStatus.RUNNING: "running",
    JobStatus.PAUSED: "paused",
    JobStatus.WAITING_FOR_INPUT: "waiting for input",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
    JobStatus.STOPPED: "stopped",
    JobStatus.CANCELLED: "cancelled",
}


@dataclass(frozen=True)
class JobFilter:
    """The jobs page's filters, as its query string gives them."""

    status: JobStatus | None = None
    kind: JobKind | None = None
    search: str = ""
    page: int = 1

    def query(self, user_id: str) -> dict[str, Any]:
        """The caller's jobs that pass: `search` is text (not a pattern) found in the name or
        the instruction, in any case."""
        query: dict[str, Any] = {"user_id": user_id, "deleted_at": None}
        if self.status is not None:
            query["status"] = self.status
        if self.kind is not None:
            query["kind"] = self.kind
        if self.search.strip():
            pattern = {"$regex": re.escape(self.search.strip()), "$options": "i"}
            query["$or"] = [{"name": pattern}, {"instruction": pattern}]
        return query

    @property
    def skip(self) -> int:
        return (self.page - 1) * JOBS_PER_PAGE

    def link(self, page: int) -> str:
        """The query string of another page of the same filters."""
        parts = {
            "status": self.status or "",
            "kind": self.kind or "",
            "q": self.search,
            "page": str(page),
        }
        return urlencode({key: value for key, value in parts.items() if value})


@dataclass(frozen=True)
class Paging:
    page: int
    pages: int
    total: int

    @classmethod
    def of(cls, page: int, total: int) -> Paging:
        return cls(page=page, pages=max(1, -(-total // JOBS_PER_PAGE)), total=total)


@dataclass(frozen=True)
class JobActions:
    """The panel's buttons a job's state allows, decided by the rules the API applies."""

    pause: bool
    resume: bool
    end: bool
    end_label: str
    """`Cancel` for agent jobs, `Stop` for script jobs: the word its API takes."""

    @classmethod
    def of(cls, job: JobDocument) -> JobActions:
        return cls(
            pause=job.status is JobStatus.RUNNING and _allows(request_pause, job),
            resume=job.status is JobStatus.PAUSED and _allows(request_resume, job),
            end=not job.status.is_terminal,
            end_label="Cancel" if job.kind is JobKind.AGENT else "Stop",
        )


def _allows(decide: Callable[[JobDocument], Change | None], job: JobDocument) -> bool:
    try:
        decide(job)
    except NotAllowedError:
        return False
    return True


def file_size(size: int) -> str:
    """1536 -> "1.5 KB": what a person reads at a glance."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def duration(seconds: float | None) -> str:
    """65.2 -> "1m 05s"; None -> "—"."""
    if seconds is None:
        return "—"
    whole = int(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    if minutes:
        return f"{minutes}m {secs:02d}s"
    return f"{seconds:.1f}s" if seconds < 10 else f"{secs}s"
