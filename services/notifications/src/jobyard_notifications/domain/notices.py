"""What a user is told in the app, and when: their job completed, failed, was cancelled or
stopped, needs their input, or paused at the session limit; or a webhook of theirs was
disabled. Pure rules: one notification per cause, whose id is derived from it."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlsplit

from jobyard_contracts import (
    Envelope,
    InputRequested,
    JobCancelled,
    JobCompleted,
    JobFailed,
    JobPaused,
    JobStopped,
    PauseReason,
    Payload,
)
from jobyard_store import JobDocument
from jobyard_store.notifications import Notification, NotificationKind, notification_id
from jobyard_store.webhooks import WebhookEndpoint


def job_notice(msg: Envelope[Payload], job: JobDocument | None) -> Notification | None:
    """The notification an event of the job makes, if any (none for a deleted job)."""
    if job is None or job.deleted_at is not None:
        return None
    name = job.name
    match msg.payload:
        case JobCompleted(summary=summary):
            found = NotificationKind.JOB_COMPLETED, f"Job {name} completed", summary
        case JobFailed(reason=reason, message=message):
            found = NotificationKind.JOB_FAILED, f"Job {name} failed", message or reason.value
        case JobCancelled():
            found = NotificationKind.JOB_CANCELLED, f"Job {name} was cancelled", ""
        case JobStopped():
            found = NotificationKind.JOB_STOPPED, f"Job {name} was stopped", ""
        case InputRequested(question=question):
            found = NotificationKind.INPUT_REQUIRED, f"Job {name} needs your answer", question
        case JobPaused(reason=PauseReason.SESSION_LIMIT, message=message):
            title = f"Job {name} paused: its session time is used up"
            found = NotificationKind.SESSION_LIMIT, title, message or "resume it to go on"
        case _:
            return None
    kind, title, text = found
    return Notification(
        id=notification_id(str(msg.id)),
        user_id=msg.user_id,
        kind=kind,
        title=title,
        message=text,
        job_id=msg.job_id,
        created_at=msg.occurred_at,
    )


def webhook_disabled_notice(endpoint: WebhookEndpoint, reason: str, at: datetime) -> Notification:
    """One notice per failing streak that ended in the endpoint being disabled."""
    since = endpoint.failing_since.isoformat() if endpoint.failing_since else ""
    host = urlsplit(endpoint.url).hostname  # the URL may carry credentials: not shown
    return Notification(
        id=notification_id(f"{endpoint.id}:disabled:{since}"),
        user_id=endpoint.user_id,
        kind=NotificationKind.WEBHOOK_DISABLED,
        title=f"Webhook {endpoint.id} to {host} disabled",
        message=f"{reason}. Fix the receiver, enable the webhook again (PATCH "
        f"/v1/webhooks/{endpoint.id} with enabled: true) and replay what it missed.",
        webhook_id=endpoint.id,
        created_at=at,
    )
