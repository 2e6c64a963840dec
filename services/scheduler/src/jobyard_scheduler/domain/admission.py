"""Admission and placement: a job may start once its owner holds a concurrency slot for it and
a host has room for its sandbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from jobyard_contracts import ACTIVE_STATUSES, JobAdmitted
from jobyard_store import Change, HostReport, JobDocument


def admit(job: JobDocument, host: str) -> Change | None:
    """Mark the job admitted on `host`, once; a finished or already admitted job is left alone."""
    if job.admitted_at is not None or job.status.is_terminal:
        return None
    admitted = job.model_copy(
        update={"admitted_at": datetime.now(UTC), "host": host, "status_detail": ""}
    )
    return Change(admitted, [JobAdmitted(host=host)])


def place(
    job: JobDocument, hosts: Sequence[HostReport], placed: Sequence[JobDocument]
) -> str | None:
    """The host with room for the job (its image, cpus, memory and a sandbox free), the least
    busy first; None when no host can take it now.

    `placed`: the active jobs already placed, whose resources their hosts have promised.
    """
    best: tuple[tuple[int, int], str] | None = None
    for host in hosts:
        if job.image not in host.images:
            continue
        mine = [other for other in placed if other.host == host.id and other.id != job.id]
        memory = sum(other.resources.memory_mb for other in mine) + job.resources.memory_mb
        cpus = sum(min(other.resources.vcpus, host.cpus) for other in mine)
        if len(mine) >= host.max_sandboxes or memory > host.memory_mb:
            continue
        # Least loaded first: fewest promised cores, then most memory left.
        load = (cpus, memory - host.memory_mb)
        if best is None or load < best[0]:
            best = (load, host.id)
    return best[1] if best else None


def workspace_host_query(job: JobDocument) -> dict[str, object]:
    """Earlier placed jobs of a stateful job's owner and name: the host they ran on has the
    workspace, so the job must run there too."""
    return {
        "user_id": job.user_id,
        "name": job.name,
        "stateful": True,
        "deleted_at": None,
        "host": {"$ne": None},
        "_id": {"$ne": job.id},
    }


def waiting_for_slot_query(user_id: str | None = None) -> dict[str, object]:
    """Jobs submitted but not admitted yet, i.e. queued behind their owner's limit."""
    query: dict[str, object] = {"status": "pending", "admitted_at": None}
    if user_id is not None:
        query["user_id"] = user_id
    return query


def waiting_to_resume_query(user_id: str | None = None) -> dict[str, object]:
    """Paused jobs whose owner asked to resume them while no slot was free."""
    query: dict[str, object] = {"status": "paused", "resume_requested_at": {"$ne": None}}
    if user_id is not None:
        query["user_id"] = user_id
    return query


ACTIVE_PLACED_QUERY: dict[str, object] = {
    "status": {"$in": [status.value for status in ACTIVE_STATUSES]},
    "host": {"$ne": None},
}
