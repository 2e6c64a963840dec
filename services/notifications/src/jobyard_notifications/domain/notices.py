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
    found = _notice_text(msg.payload, job.name)
    if found is None:
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


def may_notify(payload: Payload) -> bool:
    """Whether an event of this kind makes a notification (then its job is needed)."""
    return _notice_text(payload, "") is not None


def _notice_text(payload: Payload, name: str) -> tuple[NotificationKind, str, str] | None:
    match payload:
        case JobCompleted(summary=summary):
            return NotificationKind.JOB_COMPLETED, f"Job {name} completed", summary
        case JobFailed(reason=reason, message=message):
            return NotificationKind.JOB_FAILED, f"Job {name} failed", message or reason.value
        case JobCancelled():
            return NotificationKind.JOB_CANCELLED, f"Job {name} was cancelled", ""
        case JobStopped():
            return NotificationKind.JOB_STOPPED, f"Job {name} was stopped", ""
        case InputRequested(question=question):
            return NotificationKind.INPUT_REQUIRED, f"Job {name} needs your answer", question
        case JobPaused(reason=PauseReason.SESSION_LIMIT, message=message):
            title = f"Job {name} paused: its session time is used up"
            return NotificationKind.SESSION_LIMIT, title, message or "resume it to go on"
        case _:
            return None


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
