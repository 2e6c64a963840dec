"""When the job's outputs must be saved, asked of this host's file-sync. Pure: no I/O.

A step's end is recorded only once everything its sandbox's workspace held then is stored or
rejected, so a job never ends before its outputs; and the job's disk is removed only after a
final sync (which also saves the execution log), so a cancelled job keeps what it produced.
"""

from __future__ import annotations

from jobyard_contracts import SyncOutputs
from jobyard_store import Change, JobDocument


def request_sync(job: JobDocument, step: int, host: str) -> Change | None:
    progress = job.files
    if progress.requested_step >= step or job.deleted_at is not None:
        return None
    asked = progress.model_copy(update={"requested_step": step})
    return Change(
        job.model_copy(update={"files": asked}), [SyncOutputs(host=host, step_index=step)]
    )


def request_final_sync(job: JobDocument, host: str) -> Change | None:
    progress = job.files
    if progress.final_requested or not job.status.is_terminal:
        return None
    asked = progress.model_copy(update={"final_requested": True})
    command = SyncOutputs(host=host, step_index=progress.requested_step, final=True)
    return Change(job.model_copy(update={"files": asked}), [command])


def step_saved(job: JobDocument, step: int) -> bool:
    """The step's outputs are saved, or no longer need to be waited for (the job ended or was
    deleted: the final sync takes over)."""
    return job.files.synced(step) or job.status.is_terminal or job.deleted_at is not None


def saved_at_end(job: JobDocument) -> bool:
    return job.files.final_synced or job.deleted_at is not None
