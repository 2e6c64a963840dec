"""Replaying through the services' rules: a history the rules wrote replays clean; a rule
changed since, an event no rule announces, or a document changed without saying so is found."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from jobyard_agent.domain import execution, plans
from jobyard_agent.domain.planning import Budgets
from jobyard_contracts import (
    Envelope,
    JobStatus,
    JobSubmitted,
    Payload,
    SandboxExited,
    SandboxStarted,
    StepFinished,
    StepSpec,
    StepStatus,
    envelope_for,
)
from jobyard_gateway.domain import commands
from jobyard_ops.replay_rules import Inputs
from jobyard_ops.replayer import replay
from jobyard_scheduler.domain import admission, lifecycle
from jobyard_store import Change, JobDocument
from jobyard_store.forks import as_submitted
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit

INPUTS = Inputs(budgets=Budgets(model_calls=5, tokens=10_000, commands_per_step=3))


class Recorder:
    """Writes as the job store does: a change's events get the sequence numbers after the
    job's, and the id of the message that caused them."""

    def __init__(self, job: JobDocument, submitted: JobSubmitted) -> None:
        self.job = job
        self.history: list[dict[str, Any]] = []
        self.submission = self.write(Change(job, [submitted]))[0]

    def write(
        self, change: Change | None, cause: Envelope[Any] | None = None
    ) -> list[Envelope[Payload]]:
        assert change is not None
        written = [
            envelope_for(
                event,
                job_id=self.job.id,
                user_id=self.job.user_id,
                correlation_id=UUID(self.job.correlation_id),
                causation_id=cause.id if cause else None,
                sequence=self.job.sequence + n,
            )
            for n, event in enumerate(change.events, start=1)
        ]
        self.job = change.job.model_copy(update={"sequence": self.job.sequence + len(written)})
        self.history += [e.model_dump(mode="json") for e in written]
        return written

    def host_records(self, event: Payload) -> Envelope[Payload]:
        """A host's record of its sandbox (its own part of the document is not compared)."""
        return self.write(Change(self.job, [event]))[0]


def a_run(steps: int = 2, *, stop_after_first: bool = False) -> Recorder:
    """A script job run the way the services run it, rule by rule."""
    job = make_job(steps)
    submitted = JobSubmitted(
        name=job.name,
        kind=job.kind,
        image=job.image,
        resources=job.resources,
        steps=tuple(StepSpec(index=s.index, title=s.title, script=s.script) for s in job.steps),
    )
    run = Recorder(as_submitted(job, submitted), submitted)
    admitted = run.write(admission.admit(run.job, "host-a"), run.submission)[0]
    run.write(plans.start(run.job, INPUTS.budgets), admitted)
    for step in range(steps):
        started = run.host_records(
            SandboxStarted(step_index=step, host="host-a", container=f"c-{step}")
        )
        run.write(execution.record_step_started(run.job, started.payload), started)
        if stop_after_first:
            stop = run.write(commands.request_stop(run.job))[0]
            ended = run.write(lifecycle.stop(run.job), stop)[0]
            run.write(lifecycle.release_sandbox(run.job), ended)
            return run
        exited = run.host_records(SandboxExited(step_index=step, exit_code=0))
        written = run.write(plans.step_exited(run.job, exited.payload, "", INPUTS.budgets), exited)
    run.write(lifecycle.release_sandbox(run.job), written[-1])
    return run


def test_a_history_the_rules_wrote_replays_to_the_stored_state():
    run = a_run()
    assert run.job.status is JobStatus.COMPLETED
    replayed = replay(run.job, run.history, INPUTS)
    assert replayed.differences == []
    assert replayed.facts.status is JobStatus.COMPLETED
    assert replayed.job.release_requested_at is not None  # the scheduler's rule ran too


def test_a_stop_from_the_api_replays_through_the_gateway_and_the_scheduler():
    run = a_run(stop_after_first=True)
    replayed = replay(run.job, run.history, INPUTS)
    assert replayed.differences == []
    assert replayed.facts.status is JobStatus.STOPPED


def test_replaying_part_way_stops_after_the_write_holding_the_sequence():
    run = a_run()
    first_finished = next(e for e in run.history if e["type"] == StepFinished.TYPE)
    replayed = replay(run.job, run.history, INPUTS, up_to=first_finished["sequence"])
    assert replayed.differences == []  # and the document, further on, is not compared
    assert replayed.facts.status is JobStatus.RUNNING
    assert [s.status for s in replayed.facts.steps] == [StepStatus.COMPLETED, StepStatus.DISPATCHED]
    # The step's end was written with the next step's dispatch and its command: one write.
    assert replayed.job.sequence == first_finished["sequence"] + 2


def test_a_rule_changed_since_the_history_was_written_is_a_difference(
    monkeypatch: pytest.MonkeyPatch,
):
    run = a_run()
    monkeypatch.setattr(lifecycle, "release_sandbox", lambda job: None)
    found = replay(run.job, run.history, INPUTS).differences
    assert any("sandbox.release" in d and "announce nothing" in d for d in found), found


def test_an_event_no_rule_announces_is_a_difference():
    run = a_run()
    run.write(Change(run.job, [StepFinished(step_index=0, succeeded=True, exit_code=0)]))
    found = replay(run.job, run.history, INPUTS).differences
    assert any("job.step.finished" in d and "no rule" in d for d in found), found


def test_a_document_changed_without_announcing_it_is_a_difference():
    run = a_run()
    tampered = run.job.model_copy(update={"status": JobStatus.FAILED})
    found = replay(tampered, run.history, INPUTS).differences
    assert len(found) == 1
    assert found[0].startswith("status: history says <JobStatus.COMPLETED"), found
    assert found[0].endswith("document says <JobStatus.FAILED: 'failed'>"), found


def test_a_history_that_does_not_begin_with_the_submission_is_refused():
    run = a_run()
    assert replay(run.job, run.history[1:], INPUTS).differences == [
        "the history does not begin with the job's submission"
    ]
