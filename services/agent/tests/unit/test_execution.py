import pytest

from jobyard_agent.domain.execution import record_step_exited, record_step_started, start_plan
from jobyard_contracts import (
    FailureReason,
    JobCompleted,
    JobFailed,
    JobStarted,
    JobStatus,
    RunStep,
    SandboxExited,
    SandboxStarted,
    StepDispatched,
    StepFinished,
    StepStarted,
    StepStatus,
)
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit


def started(job, index=0):
    return record_step_started(job, SandboxStarted(step_index=index, host="h", container="c")).job


def exited(job, index=0, code=0, reason=None, tail=""):
    return record_step_exited(
        job, SandboxExited(step_index=index, exit_code=code, reason=reason, stderr_tail=tail)
    )


def test_admission_dispatches_the_first_step_once():
    change = start_plan(make_job())
    assert change.job.step(0).status is StepStatus.DISPATCHED
    assert [type(e) for e in change.events] == [StepDispatched, RunStep]
    assert change.events[1].script == "echo 0"
    assert start_plan(change.job) is None


def test_first_running_step_starts_the_job_and_a_duplicate_is_ignored():
    job = start_plan(make_job()).job
    change = record_step_started(job, SandboxStarted(step_index=0, host="h", container="c"))
    assert change.job.status is JobStatus.RUNNING
    assert [type(e) for e in change.events] == [JobStarted, StepStarted]
    assert (
        record_step_started(change.job, SandboxStarted(step_index=0, host="h", container="c"))
        is None
    )


def test_a_clean_exit_of_the_last_step_completes_the_job():
    change = exited(started(start_plan(make_job()).job))
    assert change.job.status is JobStatus.COMPLETED
    assert change.job.exit_code == 0
    assert [type(e) for e in change.events] == [StepFinished, JobCompleted]
    assert exited(change.job) is None


def test_a_clean_exit_of_a_middle_step_dispatches_the_next():
    change = exited(started(start_plan(make_job(steps=2)).job))
    assert change.job.status is JobStatus.RUNNING
    assert change.job.step(1).status is StepStatus.DISPATCHED
    assert [type(e) for e in change.events] == [StepFinished, StepDispatched, RunStep]


def test_a_non_zero_exit_fails_the_job_with_code_reason_and_stderr_tail():
    change = exited(started(start_plan(make_job(steps=2)).job), code=3, tail="no such file")
    job = change.job
    assert (job.status, job.exit_code, job.reason) == (JobStatus.FAILED, 3, FailureReason.EXIT_CODE)
    assert job.stderr_tail == "no such file"
    assert job.step(1).status is StepStatus.PENDING
    assert [type(e) for e in change.events] == [StepFinished, JobFailed]


def test_timeout_is_a_failure_even_when_the_exit_looks_clean():
    change = exited(started(start_plan(make_job()).job), code=0, reason=FailureReason.TIMEOUT)
    assert (change.job.status, change.job.reason) == (JobStatus.FAILED, FailureReason.TIMEOUT)


def test_exit_before_start_was_recorded_still_finishes_the_step():
    change = exited(start_plan(make_job()).job, code=0)
    assert change.job.status is JobStatus.COMPLETED
    assert change.job.started_at is not None


def test_a_fork_starts_at_its_first_step_not_done_and_only_once():
    job = make_job(steps=3)
    job = job.with_step(0, status=StepStatus.COMPLETED, exit_code=0)
    change = start_plan(job)
    assert [s.status for s in change.job.steps] == [
        StepStatus.COMPLETED,
        StepStatus.DISPATCHED,
        StepStatus.PENDING,
    ]
    assert change.events[1].step_index == 1
    assert start_plan(change.job) is None


def test_a_step_whose_end_comes_before_its_start_still_starts_the_job_in_its_history():
    job = start_plan(make_job(steps=2)).job
    change = exited(job)  # the sandbox's `started` not handled yet
    assert change.job.status is JobStatus.RUNNING
    assert change.job.started_at is not None
    assert [type(e) for e in change.events][:2] == [JobStarted, StepFinished]
    assert (
        record_step_started(change.job, SandboxStarted(step_index=0, host="h", container="c"))
        is None
    )
