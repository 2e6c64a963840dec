"""Admission: a job may start once its owner holds a concurrency slot for it."""

from __future__ import annotations

from datetime import UTC, datetime

from jobyard_contracts import JobAdmitted
from jobyard_store import Change, JobDocument


def admit(job: JobDocument) -> Change | None:
    """Mark the job admitted, once; a finished or already admitted job is left alone."""
    if job.admitted_at is not None or job.status.is_terminal:
        return None
    return Change(job.model_copy(update={"admitted_at": datetime.now(UTC)}), [JobAdmitted()])


def waiting_for_slot_query(user_id: str | None = None) -> dict[str, object]:
    """Jobs submitted but not admitted yet, i.e. queued behind their owner's limit."""
    query: dict[str, object] = {"status": "pending", "admitted_at": None}
    if user_id is not None:
        query["user_id"] = user_id
    return query
