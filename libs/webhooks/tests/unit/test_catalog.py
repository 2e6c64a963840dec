"""Which internal events become which public webhook events, and the body they carry."""

import json
from datetime import UTC, datetime
from uuid import uuid4

import pytest

from jobyard_contracts import (
    MESSAGES,
    FailureReason,
    FileKind,
    FileReady,
    InputRequested,
    JobCompleted,
    JobFailed,
    JobKind,
    JobPaused,
    JobStatus,
    JobSubmitted,
    PauseReason,
    Payload,
    Resources,
    envelope_for,
)
from jobyard_store.webhooks import WebhookEndpoint
from jobyard_testing.factories import make_job
from jobyard_webhooks import CATALOG, WebhookEventType, new_deliveries, public_event, webhook_body

pytestmark = pytest.mark.unit

AT = datetime(2026, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


def envelope(payload: Payload, sequence: int = 3):
    return envelope_for(
        payload,
        job_id="job_1",
        user_id="usr_1",
        correlation_id=uuid4(),
        sequence=sequence,
        occurred_at=AT,
    )


def endpoint(*types: WebhookEventType, endpoint_id: str = "whk_1") -> WebhookEndpoint:
    return WebhookEndpoint(
        id=endpoint_id,
        user_id="usr_1",
        url="https://example.com/hook",
        event_types=[t.value for t in types],
        secret="whsec_x",
        created_at=AT,
        updated_at=AT,
    )


@pytest.mark.parametrize(
    ("internal", "public"),
    [
        ("job.submitted", "job.created"),
        ("job.started", "job.started"),
        ("job.step.finished", "job.step.finished"),
        ("job.input.requested", "job.input.required"),
        ("job.paused", "job.paused"),
        ("job.resumed", "job.resumed"),
        ("job.completed", "job.completed"),
        ("job.failed", "job.failed"),
        ("job.cancelled", "job.cancelled"),
        ("job.stopped", "job.stopped"),
        ("file.ready", "file.ready"),
    ],
)
def test_internal_events_map_to_public_types(internal: str, public: str) -> None:
    event = public_event(internal)
    assert event is not None
    assert event.type == public


@pytest.mark.parametrize(
    "internal", ["job.admitted", "sandbox.exited", "agent.decided", "files.sync", "job.deleted"]
)
def test_internal_mechanics_and_commands_are_not_published(internal: str) -> None:
    assert public_event(internal) is None


def test_every_public_type_comes_from_a_known_message_with_the_listed_fields() -> None:
    assert {e.type for e in CATALOG} == set(WebhookEventType)
    for event in CATALOG:
        assert event.message in MESSAGES
        assert set(event.fields) <= set(event.message.model_fields), event.type


def test_a_body_has_the_standard_shape_with_the_job_and_the_type_fields() -> None:
    job = make_job(_id="job_1", name="report", kind=JobKind.AGENT, status=JobStatus.RUNNING)
    msg = envelope(
        JobFailed(exit_code=2, reason=FailureReason.EXIT_CODE, message="boom", stderr_tail="x")
    )
    body = json.loads(webhook_body(public_event("job.failed"), msg, job))
    assert body == {
        "type": "job.failed",
        "timestamp": "2026-05-01T12:00:00.123Z",
        "data": {
            "event_id": str(msg.id),
            "sequence": 3,
            "job": {"id": "job_1", "name": "report", "kind": "agent", "status": "failed"},
            "exit_code": 2,
            "reason": "non-zero exit code",
            "message": "boom",
        },
    }


def test_status_is_the_events_own_except_a_file_and_a_pause_for_input() -> None:
    job = make_job(status=JobStatus.COMPLETED)
    file = FileReady(
        file_id="f", path="a.txt", kind=FileKind.OUTPUT, size=1, sha256="0" * 64, version=1
    )
    frozen = JobPaused(by="agent", reason=PauseReason.INPUT)
    by_user = JobPaused(by="user", reason=PauseReason.USER)
    statuses = {
        name: json.loads(webhook_body(public_event(p.TYPE), envelope(p), job))["data"]["job"][
            "status"
        ]
        for name, p in [("file", file), ("frozen", frozen), ("user", by_user)]
    }
    assert statuses == {"file": "completed", "frozen": "waiting_for_input", "user": "paused"}


def test_a_deleted_jobs_event_still_has_its_id_and_nulls() -> None:
    msg = envelope(InputRequested(prompt_id="p1", question="Text or JSON?", choices=("a", "b")))
    data = json.loads(webhook_body(public_event(msg.type), msg, None))["data"]
    assert data["job"] == {"id": "job_1", "name": None, "kind": None, "status": "waiting_for_input"}
    assert (data["prompt_id"], data["question"], data["choices"]) == (
        "p1",
        "Text or JSON?",
        ["a", "b"],
    )


def test_deliveries_go_to_subscribed_endpoints_with_ids_fixed_by_endpoint_and_event() -> None:
    msg = envelope(JobCompleted(summary="done"))
    wanted = endpoint(WebhookEventType.JOB_COMPLETED, endpoint_id="whk_a")
    other = endpoint(WebhookEventType.JOB_FAILED, endpoint_id="whk_b")
    both = endpoint(*WebhookEventType, endpoint_id="whk_c")
    made = new_deliveries(msg, make_job(), [wanted, other, both], AT)
    assert [d.endpoint_id for d in made] == ["whk_a", "whk_c"]
    again = new_deliveries(msg, make_job(), [wanted, both], AT)
    assert [d.id for d in again] == [d.id for d in made]
    assert made[0].id != made[1].id
    assert made[0].body == made[1].body
    assert new_deliveries(envelope(JobCompleted()), make_job(), [wanted], AT)[0].id != made[0].id


def test_a_submission_is_job_created_and_keeps_no_script() -> None:
    submitted = JobSubmitted(
        name="n",
        kind=JobKind.SCRIPT,
        image="base",
        resources=Resources(vcpus=1, memory_mb=64),
        steps=(),
    )
    body = json.loads(webhook_body(public_event(submitted.TYPE), envelope(submitted), None))
    assert body["type"] == "job.created"
    assert set(body["data"]) == {"event_id", "sequence", "job", "instruction", "chat_id"}
