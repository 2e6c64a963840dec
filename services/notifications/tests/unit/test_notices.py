"""Which events tell the job's owner something in the app, once per event."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from jobyard_contracts import (
    FailureReason,
    InputRequested,
    JobCancelled,
    JobCompleted,
    JobFailed,
    JobPaused,
    JobResumed,
    JobStarted,
    JobStopped,
    PauseReason,
    Payload,
    envelope_for,
)
from jobyard_notifications.domain.notices import job_notice, may_notify, webhook_disabled_notice
from jobyard_store.notifications import NotificationKind
from jobyard_store.webhooks import WebhookEndpoint
from jobyard_testing.factories import make_job

pytestmark = pytest.mark.unit

AT = datetime(2026, 5, 1, 12, tzinfo=UTC)


def envelope(payload: Payload):
    return envelope_for(
        payload, job_id="job_1", user_id="usr_1", correlation_id=uuid4(), sequence=4, occurred_at=AT
    )


@pytest.mark.parametrize(
    ("payload", "kind", "title", "message"),
    [
        (JobCompleted(summary="42 lines"), NotificationKind.JOB_COMPLETED, "completed", "42 lines"),
        (
            JobFailed(reason=FailureReason.TIMEOUT, message="step 1 ran out of time"),
            NotificationKind.JOB_FAILED,
            "failed",
            "step 1 ran out of time",
        ),
        (
            JobFailed(reason=FailureReason.OUT_OF_MEMORY),
            NotificationKind.JOB_FAILED,
            "failed",
            "out of memory",
        ),
        (JobCancelled(), NotificationKind.JOB_CANCELLED, "cancelled", ""),
        (JobStopped(), NotificationKind.JOB_STOPPED, "stopped", ""),
        (
            InputRequested(prompt_id="p", question="Text or JSON?"),
            NotificationKind.INPUT_REQUIRED,
            "needs your answer",
            "Text or JSON?",
        ),
        (
            JobPaused(by="system", reason=PauseReason.SESSION_LIMIT, message="paused: used up"),
            NotificationKind.SESSION_LIMIT,
            "session time",
            "paused: used up",
        ),
    ],
)
def test_the_owner_is_told_of_endings_questions_and_the_session_limit(
    payload: Payload, kind: NotificationKind, title: str, message: str
) -> None:
    msg = envelope(payload)
    notice = job_notice(msg, make_job(name="report"))
    assert notice is not None
    assert (notice.kind, notice.user_id, notice.job_id) == (kind, "usr_1", "job_1")
    assert "report" in notice.title
    assert title in notice.title
    assert notice.message == message
    assert notice.read_at is None
    assert may_notify(payload)  # so the handler reads the job
    assert job_notice(msg, make_job(name="report")).id == notice.id  # one per event
    assert job_notice(envelope(payload), make_job()).id != notice.id


@pytest.mark.parametrize(
    "payload",
    [
        JobStarted(),
        JobResumed(session=2),
        JobPaused(by="user", reason=PauseReason.USER),
        JobPaused(by="agent", reason=PauseReason.INPUT),
    ],
)
def test_other_events_tell_nothing(payload: Payload) -> None:
    assert job_notice(envelope(payload), make_job()) is None
    assert not may_notify(payload)  # their job need not be read


def test_a_deleted_jobs_end_tells_nothing() -> None:
    msg = envelope(JobStopped())
    assert job_notice(msg, None) is None
    assert job_notice(msg, make_job(deleted_at=AT)) is None


def test_a_disabled_webhook_is_told_once_per_failing_streak_without_its_credentials() -> None:
    endpoint = WebhookEndpoint(
        id="whk_1",
        user_id="usr_1",
        url="https://user:secret@hooks.example.com/in",
        event_types=["job.completed"],
        secret="whsec_x",
        failing_since=AT,
        created_at=AT,
        updated_at=AT,
    )
    notice = webhook_disabled_notice(endpoint, "every attempt failed", AT)
    assert (notice.kind, notice.webhook_id, notice.user_id) == (
        NotificationKind.WEBHOOK_DISABLED,
        "whk_1",
        "usr_1",
    )
    assert "hooks.example.com" in notice.title
    assert "secret" not in notice.title + notice.message
    assert webhook_disabled_notice(endpoint, "again", AT).id == notice.id
    later = endpoint.model_copy(update={"failing_since": datetime(2026, 6, 1, tzinfo=UTC)})
    assert webhook_disabled_notice(later, "again", AT).id != notice.id
