"""When the sandbox-manager asks file-sync to save a job's outputs, and what it waits for."""

from datetime import UTC, datetime

import pytest

from jobyard_contracts import JobStatus, SyncOutputs
from jobyard_sandbox_manager.domain import outputs
from jobyard_store.documents import OutputsProgress
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit


def test_a_step_end_asks_once_and_waits_until_saved() -> None:
    job = make_job(steps=2, status=JobStatus.RUNNING)
    change = outputs.request_sync(job, 0, "host-a")
    assert change is not None
    assert change.events == [SyncOutputs(host="host-a", step_index=0)]
    assert outputs.request_sync(change.job, 0, "host-a") is None  # asked already
    assert not outputs.step_saved(change.job, 0)
    synced = change.job.model_copy(update={"files": OutputsProgress(synced_step=0)})
    assert outputs.step_saved(synced, 0)
    assert not outputs.step_saved(synced, 1)


def test_an_ended_or_deleted_job_stops_the_wait() -> None:
    job = make_job(status=JobStatus.RUNNING)
    assert outputs.step_saved(job.model_copy(update={"status": JobStatus.CANCELLED}), 0)
    assert outputs.step_saved(job.model_copy(update={"deleted_at": datetime.now(UTC)}), 0)
    assert (
        outputs.request_sync(job.model_copy(update={"deleted_at": datetime.now(UTC)}), 0, "h")
        is None
    )


def test_the_final_sync_is_asked_once_the_job_is_over() -> None:
    running = make_job(status=JobStatus.RUNNING)
    assert outputs.request_final_sync(running, "host-a") is None
    over = running.model_copy(
        update={"status": JobStatus.CANCELLED, "files": OutputsProgress(requested_step=1)}
    )
    change = outputs.request_final_sync(over, "host-a")
    assert change is not None
    assert change.events == [SyncOutputs(host="host-a", step_index=1, final=True)]
    assert outputs.request_final_sync(change.job, "host-a") is None
    assert not outputs.saved_at_end(change.job)
    done = change.job.model_copy(update={"files": OutputsProgress(final_synced=True)})
    assert outputs.saved_at_end(done)
