"""Step durations are observed once per step, from the change that records its end."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from prometheus_client import REGISTRY

from jobyard_agent.step_metrics import observe_finished_steps
from jobyard_contracts import JobKind, Payload, StepFinished, StepStarted, envelope_for
from jobyard_store import Applied, JobDocument
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit

START = datetime(2026, 1, 1, tzinfo=UTC)


def applied(job: JobDocument, *events: Payload) -> Applied:
    envelopes = tuple(
        envelope_for(
            event,
            job_id=job.id,
            user_id=job.user_id,
            correlation_id=UUID(job.correlation_id),
            sequence=n,
        )
        for n, event in enumerate(events, start=1)
    )
    return Applied(job, envelopes)


def observed(job_kind: str, step_kind: str, outcome: str, sample: str = "count") -> float:
    labels = {"job_kind": job_kind, "step_kind": step_kind, "outcome": outcome}
    return REGISTRY.get_sample_value(f"jobyard_step_duration_seconds_{sample}", labels) or 0.0


def finished(job: JobDocument, index: int, seconds: float) -> JobDocument:
    return job.with_step(index, started_at=START, finished_at=START + timedelta(seconds=seconds))


def test_a_finished_script_step_is_observed_with_its_duration_and_outcome():
    job = finished(make_job(steps=2), 1, 42.5)
    count, total = (
        observed("script", "script", "failed"),
        observed("script", "script", "failed", "sum"),
    )
    observe_finished_steps(
        applied(
            job,
            StepFinished(step_index=1, succeeded=False, exit_code=3),
            StepStarted(step_index=0, title="x"),
        )
    )
    assert observed("script", "script", "failed") == count + 1
    assert observed("script", "script", "failed", "sum") == pytest.approx(total + 42.5)


def test_ask_and_model_command_steps_are_told_apart():
    job = make_job(steps=2, kind=JobKind.AGENT)
    job = finished(job.with_step(0, ask="Text or JSON?", script=""), 0, 300)
    job = finished(job.with_step(1, command="ls -l", script="ls -l"), 1, 0.2)
    asks, commands = (
        observed("agent", "ask", "succeeded"),
        observed("agent", "command", "succeeded"),
    )
    observe_finished_steps(
        applied(
            job,
            StepFinished(step_index=0, succeeded=True, exit_code=0),
            StepFinished(step_index=1, succeeded=True, exit_code=0),
        )
    )
    assert observed("agent", "ask", "succeeded") == asks + 1
    assert observed("agent", "command", "succeeded") == commands + 1


def test_a_change_that_announced_nothing_observes_nothing():
    """A redelivered `sandbox.exited` finds the step finished: no events, no second sample."""
    job = finished(make_job(), 0, 1)
    before = observed("script", "script", "succeeded")
    observe_finished_steps(applied(job))
    observe_finished_steps(None)  # the job was gone
    assert observed("script", "script", "succeeded") == before
