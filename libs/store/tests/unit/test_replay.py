"""Re-folding a history: what each message means, where a fold stops, and how a
disagreement with the document reads."""

from uuid import uuid4

import pytest

from jobyard_contracts import (
    FailureReason,
    InputRequested,
    JobAdmitted,
    JobCancelled,
    JobKind,
    JobPaused,
    JobResumed,
    JobStarted,
    JobStatus,
    JobSubmitted,
    PauseReason,
    Payload,
    Resources,
    RunStep,
    StepDispatched,
    StepFinished,
    StepSpec,
    StepStarted,
    StepStatus,
    envelope_for,
)
from jobyard_store.replay import JobFacts, StepFacts, differences, fold, observe
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit

RESOURCES = Resources(vcpus=1, memory_mb=256)


def history(*payloads: Payload) -> list[dict]:
    correlation = uuid4()
    return [
        envelope_for(
            p, job_id="job_1", user_id="usr_1", correlation_id=correlation, sequence=n
        ).model_dump(mode="json")
        for n, p in enumerate(payloads, start=1)
    ]


def submitted(steps: int, kind: JobKind = JobKind.AGENT) -> JobSubmitted:
    specs = tuple(StepSpec(index=i, title=f"s{i}", script="true") for i in range(steps))
    return JobSubmitted(name="n", kind=kind, image="img", resources=RESOURCES, steps=specs)


def test_a_plan_run_to_a_pause_folds_into_its_status_steps_and_session():
    events = history(
        submitted(2),
        JobAdmitted(host="host-a"),
        StepDispatched(step_index=0),
        RunStep(step_index=0, image="img", script="true", resources=RESOURCES, host="host-a"),
        JobStarted(),
        StepStarted(step_index=0),
        StepFinished(step_index=0, succeeded=True, exit_code=0),
        StepDispatched(step_index=1),
        JobPaused(by="system", reason=PauseReason.SESSION_LIMIT),
        JobResumed(session=2),
    )
    facts = fold(events)
    assert facts.status is JobStatus.RUNNING
    assert facts.host == "host-a"
    assert facts.steps == (StepFacts(StepStatus.COMPLETED, 0), StepFacts(StepStatus.DISPATCHED))
    assert (facts.session, facts.pause, facts.sequence, facts.started) == (2, None, 10, True)
    assert fold(events, up_to=3).status is JobStatus.PLANNING
    assert fold(events, up_to=9).status is JobStatus.PAUSED


def test_cancelling_fails_the_step_under_way_and_an_ask_step_runs_while_it_waits():
    events = history(
        submitted(2),
        JobAdmitted(host="h"),
        InputRequested(prompt_id="prompt-0", question="?", step_index=0),
        JobPaused(by="agent", reason=PauseReason.INPUT),
    )
    waiting = fold(events)
    assert (waiting.status, waiting.prompt, waiting.pause) == (
        JobStatus.WAITING_FOR_INPUT,
        "prompt-0",
        PauseReason.INPUT,
    )
    assert waiting.steps[0].status is StepStatus.RUNNING
    cancelled = fold([*events, _next(events, JobCancelled())])
    assert cancelled.status is JobStatus.CANCELLED
    assert cancelled.reason is FailureReason.CANCELLED
    assert [s.status for s in cancelled.steps] == [StepStatus.FAILED, StepStatus.PENDING]


def _next(events: list[dict], payload: Payload) -> dict:
    last = events[-1]
    return envelope_for(
        payload,
        job_id=last["job_id"],
        user_id=last["user_id"],
        correlation_id=uuid4(),
        sequence=last["sequence"] + 1,
    ).model_dump(mode="json")


def test_an_old_version_of_a_message_is_upcast_before_it_is_folded():
    events = history(submitted(1, JobKind.SCRIPT), JobPaused(by="user", reason=PauseReason.USER))
    events[1] = events[1] | {"version": 1}
    assert fold(events).status is JobStatus.PAUSED


def test_differences_name_each_fact_with_both_values():
    job = make_job(steps=1, status=JobStatus.COMPLETED, exit_code=0, sequence=4)
    stored = observe(job)
    history_facts = JobFacts(sequence=4, status=JobStatus.FAILED, exit_code=0, steps=(StepFacts(),))
    assert differences(history_facts, stored) == [
        "status: history says <JobStatus.FAILED: 'failed'>, "
        "document says <JobStatus.COMPLETED: 'completed'>"
    ]
    assert differences(stored, stored) == []
