import pytest

from jobyard_contracts import FailureReason, JobDeleted, JobStatus, JobStopped, StepStatus
from jobyard_scheduler.domain import lifecycle
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit


def running_job():
    job = make_job(status=JobStatus.RUNNING)
    step = job.step(0).model_copy(update={"status": StepStatus.RUNNING})
    return job.model_copy(update={"steps": [step]})


def test_stop_ends_a_running_job_and_its_step_once():
    change = lifecycle.stop(running_job())
    assert (change.job.status, change.job.reason) == (JobStatus.STOPPED, FailureReason.STOPPED)
    assert change.job.step(0).status is StepStatus.FAILED
    assert [type(e) for e in change.events] == [JobStopped]
    assert lifecycle.stop(change.job) is None


def test_stop_leaves_a_finished_job_alone():
    assert lifecycle.stop(make_job(status=JobStatus.COMPLETED)) is None


def test_deleting_a_running_job_stops_it_and_announces_the_deletion_once():
    change = lifecycle.delete(running_job().model_copy(update={"stateful": True}))
    assert change.job.status is JobStatus.STOPPED
    assert [type(e) for e in change.events] == [JobStopped, JobDeleted]
    assert change.events[1].stateful is True
    assert lifecycle.delete(change.job) is None


def test_deleting_a_finished_job_only_announces_the_deletion():
    change = lifecycle.delete(make_job(status=JobStatus.FAILED))
    assert change.job.status is JobStatus.FAILED
    assert [type(e) for e in change.events] == [JobDeleted]
