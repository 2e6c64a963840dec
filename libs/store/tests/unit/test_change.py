"""A change followed by another decision is one write with both's events, in order."""

from __future__ import annotations

from jobyard_contracts import JobStarted, JobStatus, StepStarted
from jobyard_store import Change, JobDocument
from jobyard_testing.factories import make_job


def running(job: JobDocument) -> Change:
    return Change(job.model_copy(update={"status": JobStatus.RUNNING}), [JobStarted()])


def test_then_applies_the_second_decision_to_the_first_ones_result():
    def step_started(job: JobDocument) -> Change | None:
        assert job.status is JobStatus.RUNNING  # it sees the first change's job
        return Change(job.model_copy(update={"summary": "s"}), [StepStarted(step_index=0)])

    both = running(make_job()).then(step_started)
    assert (both.job.status, both.job.summary) == (JobStatus.RUNNING, "s")
    assert [type(e) for e in both.events] == [JobStarted, StepStarted]


def test_then_with_nothing_more_to_do_is_the_first_change():
    first = running(make_job())
    assert first.then(lambda job: None) is first
