from datetime import UTC, datetime, timedelta

import pytest

from jobyard_contracts import DeleteJob, JobStatus, PauseSandbox, ResumeJob, StopJob
from jobyard_gateway.domain.commands import (
    PAUSE_REQUEST_EXPIRES,
    NotAllowedError,
    request_delete,
    request_pause,
    request_resume,
    request_stop,
)
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit


def test_stop_is_requested_once_and_refused_for_a_finished_job():
    change = request_stop(make_job(status=JobStatus.RUNNING))
    assert change.job.stop_requested_at is not None
    assert [type(e) for e in change.events] == [StopJob]
    assert request_stop(change.job) is None
    with pytest.raises(NotAllowedError, match="already completed"):
        request_stop(make_job(status=JobStatus.COMPLETED))


def test_delete_is_requested_once():
    change = request_delete(make_job(status=JobStatus.COMPLETED))
    assert change.job.deleted_at is not None
    assert [type(e) for e in change.events] == [DeleteJob]
    assert request_delete(change.job) is None


def test_pause_goes_to_the_jobs_host_once_and_may_be_repeated_if_never_carried_out():
    job = make_job(status=JobStatus.RUNNING, host="host-a")
    now = datetime.now(UTC)
    change = request_pause(job, now)
    assert change.events == [PauseSandbox(host="host-a")]
    assert request_pause(change.job, now + timedelta(seconds=5)) is None  # under way
    again = request_pause(change.job, now + PAUSE_REQUEST_EXPIRES + timedelta(seconds=1))
    assert again.events == [PauseSandbox(host="host-a")]  # e.g. the first was dead-lettered
    assert request_pause(make_job(status=JobStatus.PAUSED, host="host-a")) is None
    with pytest.raises(NotAllowedError, match="is pending; pause needs a job that is running"):
        request_pause(make_job(status=JobStatus.PENDING))


def test_resume_is_asked_of_the_scheduler_once_and_only_for_a_paused_job():
    change = request_resume(make_job(status=JobStatus.PAUSED, host="host-a"))
    assert change.events == [ResumeJob()]
    assert request_resume(change.job) is None
    assert request_resume(make_job(status=JobStatus.RUNNING)) is None  # already running
    with pytest.raises(NotAllowedError, match="already cancelled"):
        request_resume(make_job(status=JobStatus.CANCELLED))
