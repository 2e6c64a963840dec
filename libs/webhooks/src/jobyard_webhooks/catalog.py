"""The webhook events users subscribe to, and the JSON body each delivery carries.

Public event types are a stable API of their own: they are mapped from internal messages here,
and only the fields listed per type reach a receiver, so internal messages can change (new
versions, new fields) without changing what customers parse.

Every body has the Standard Webhooks shape:

    {"type": "job.completed",                  # one of WebhookEventType
     "timestamp": "2026-05-01T12:00:00.123Z",  # when it happened (UTC)
     "data": {"event_id": "…",                 # the internal event's id (one per event)
              "sequence": 12,                  # the job's event sequence number
              "job": {"id": "…", "name": "…", "kind": "script", "status": "completed"},
              …the type's own fields}}

`job.status` is the status the job had right after the event (`file.ready`: when the delivery
was made); `name` and `kind` are null only if the job was deleted before its event was handled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from jobyard_contracts import (
    Envelope,
    FileReady,
    InputRequested,
    JobCancelled,
    JobCompleted,
    JobFailed,
    JobPaused,
    JobResumed,
    JobStarted,
    JobStatus,
    JobStopped,
    JobSubmitted,
    PauseReason,
    Payload,
    StepFinished,
)
from jobyard_store import JobDocument


class WebhookEventType(StrEnum):
    JOB_CREATED = "job.created"
    JOB_STARTED = "job.started"
    STEP_FINISHED = "job.step.finished"
    INPUT_REQUIRED = "job.input.required"
    JOB_PAUSED = "job.paused"
    JOB_RESUMED = "job.resumed"
    JOB_COMPLETED = "job.completed"
    JOB_FAILED = "job.failed"
    JOB_CANCELLED = "job.cancelled"
    JOB_STOPPED = "job.stopped"
    FILE_READY = "file.ready"


@dataclass(frozen=True)
class PublicEvent:
    message: type[Payload]
    type: WebhookEventType
    fields: tuple[str, ...] = ()
    """The internal payload's fields a receiver gets in `data`."""
    status: JobStatus | None = None
    """The job's status right after the event; None: the job document's."""


CATALOG: tuple[PublicEvent, ...] = (
    PublicEvent(
        JobSubmitted, WebhookEventType.JOB_CREATED, ("instruction", "chat_id"), JobStatus.PENDING
    ),
    PublicEvent(JobStarted, WebhookEventType.JOB_STARTED, (), JobStatus.RUNNING),
    PublicEvent(
        StepFinished,
        WebhookEventType.STEP_FINISHED,
        ("step_index", "succeeded", "exit_code", "reason", "message"),
        JobStatus.RUNNING,
    ),
    PublicEvent(
        InputRequested,
        WebhookEventType.INPUT_REQUIRED,
        ("prompt_id", "question", "choices"),
        JobStatus.WAITING_FOR_INPUT,
    ),
    PublicEvent(JobPaused, WebhookEventType.JOB_PAUSED, ("by", "reason"), JobStatus.PAUSED),
    PublicEvent(
        JobResumed, WebhookEventType.JOB_RESUMED, ("session", "hibernated"), JobStatus.RUNNING
    ),
    PublicEvent(JobCompleted, WebhookEventType.JOB_COMPLETED, ("summary",), JobStatus.COMPLETED),
    PublicEvent(
        JobFailed, WebhookEventType.JOB_FAILED, ("exit_code", "reason", "message"), JobStatus.FAILED
    ),
    PublicEvent(JobCancelled, WebhookEventType.JOB_CANCELLED, (), JobStatus.CANCELLED),
    PublicEvent(JobStopped, WebhookEventType.JOB_STOPPED, (), JobStatus.STOPPED),
    PublicEvent(
        FileReady,
        WebhookEventType.FILE_READY,
        ("file_id", "path", "kind", "size", "sha256", "version", "step_index"),
    ),
)

BY_MESSAGE: dict[str, PublicEvent] = {event.message.TYPE: event for event in CATALOG}
PUBLISHED_MESSAGES: tuple[type[Payload], ...] = tuple(event.message for event in CATALOG)
"""The internal messages that become webhook events."""


def public_event(message_type: str) -> PublicEvent | None:
    """The webhook event an internal message becomes, if any."""
    return BY_MESSAGE.get(message_type)


def status_after(event: PublicEvent, msg: Envelope[Payload], job: JobDocument | None) -> str | None:
    # A sandbox frozen while the job waits for its owner's answer leaves it waiting for input.
    if isinstance(msg.payload, JobPaused) and msg.payload.reason is PauseReason.INPUT:
        return JobStatus.WAITING_FOR_INPUT.value
    if event.status is not None:
        return event.status.value
    return job.status.value if job is not None else None


def webhook_body(event: PublicEvent, msg: Envelope[Payload], job: JobDocument | None) -> str:
    """The exact bytes (as text) every attempt of the event's deliveries sends."""
    payload = msg.payload.model_dump(mode="json")
    data: dict[str, Any] = {
        "event_id": str(msg.id),
        "sequence": msg.sequence,
        "job": {
            "id": msg.job_id,
            "name": job.name if job is not None else None,
            "kind": job.kind.value if job is not None else None,
            "status": status_after(event, msg, job),
        },
    }
    data |= {field: payload.get(field) for field in event.fields}
    body = {
        "type": event.type.value,
        "timestamp": msg.occurred_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "data": data,
    }
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)
