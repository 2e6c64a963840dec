"""Webhook endpoints as the API takes and shows them, and which stored events a replay resends.
No I/O (destination addresses are checked by the controller, which resolves them)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobyard_store.events import StoredEvent
from jobyard_store.webhooks import (
    DeliveryAttempt,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    new_endpoint_id,
)
from jobyard_webhooks import WebhookEventType, new_secret, public_event, url_problem
from jobyard_webhooks.destinations import MAX_URL_LENGTH

MAX_DESCRIPTION = 500

URL_DESCRIPTION = (
    "Where deliveries are POSTed: http(s), reaching a public address (addresses an operator "
    "has not allowed, such as loopback, private, link-local or cloud metadata ones, are "
    "refused, whatever name leads to them)."
)
EVENT_TYPES_DESCRIPTION = "The event types to deliver (see `WebhookEventType`)."


class WebhookFields(BaseModel):
    """What creating and changing an endpoint check alike."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("url", check_fields=False)
    @classmethod
    def _url_form(cls, url: str | None) -> str | None:
        if url is not None and (problem := url_problem(url)) is not None:
            raise ValueError(problem)
        return url

    @field_validator("event_types", check_fields=False)
    @classmethod
    def _distinct(cls, types: list[WebhookEventType] | None) -> list[WebhookEventType] | None:
        return None if types is None else list(dict.fromkeys(types))


class CreateWebhook(WebhookFields):
    """Body of `POST /v1/webhooks`. Unknown fields are rejected, not ignored."""

    url: str = Field(min_length=1, max_length=MAX_URL_LENGTH, description=URL_DESCRIPTION)
    event_types: list[WebhookEventType] = Field(
        default_factory=lambda: list(WebhookEventType),
        min_length=1,
        description=f"{EVENT_TYPES_DESCRIPTION} Default: all of them.",
    )
    description: str = Field(default="", max_length=MAX_DESCRIPTION)


class UpdateWebhook(WebhookFields):
    """Body of `PATCH /v1/webhooks/{id}`: the fields to change. Enabling a disabled endpoint
    starts afresh (what it missed can be replayed)."""

    url: str | None = Field(
        default=None, min_length=1, max_length=MAX_URL_LENGTH, description=URL_DESCRIPTION
    )
    event_types: list[WebhookEventType] | None = Field(
        default=None, min_length=1, description=EVENT_TYPES_DESCRIPTION
    )
    description: str | None = Field(default=None, max_length=MAX_DESCRIPTION)
    enabled: bool | None = None


def new_endpoint(request: CreateWebhook, user_id: str, now: datetime) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=new_endpoint_id(),
        user_id=user_id,
        url=request.url,
        event_types=[t.value for t in request.event_types],
        description=request.description,
        secret=new_secret(),
        created_at=now,
        updated_at=now,
    )


def endpoint_changes(update: UpdateWebhook, now: datetime) -> dict[str, Any]:
    changes: dict[str, Any] = update.model_dump(exclude_none=True, exclude={"event_types"})
    if update.event_types is not None:
        changes["event_types"] = [t.value for t in update.event_types]
    if update.enabled:
        changes |= {"disabled_reason": "", "failing_since": None}
    return changes | {"updated_at": now}


def replayed(entry: StoredEvent, endpoint: WebhookEndpoint) -> bool:
    """Whether a replay resends this stored event to the endpoint."""
    event = public_event(entry.type)
    return event is not None and event.type.value in endpoint.event_types


def aware(moment: datetime) -> datetime:
    """A time given without a zone is UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class WebhookView(BaseModel):
    """An endpoint as its owner sees it: never its secret (shown once, at creation and at
    each rotation)."""

    id: str
    url: str
    event_types: list[str]
    description: str
    enabled: bool
    disabled_reason: str | None
    """Why it was disabled (every attempt failed for too long), if it was."""
    failing_since: datetime | None
    """Its first failed attempt since the last successful one, while it fails."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, endpoint: WebhookEndpoint) -> WebhookView:
        return cls(
            **endpoint.model_dump(include=set(cls.model_fields) - {"disabled_reason"}),
            disabled_reason=endpoint.disabled_reason or None,
        )


class WebhookWithSecret(WebhookView):
    secret: str
    """The signing secret (`whsec_...`) for `standardwebhooks.Webhook(secret).verify`; keep it:
    it is never shown again (rotate it to get a new one)."""

    @classmethod
    def revealing(cls, endpoint: WebhookEndpoint) -> WebhookWithSecret:
        return cls(**dict(WebhookView.of(endpoint)), secret=endpoint.secret)


class WebhookList(BaseModel):
    webhooks: list[WebhookView]


class AttemptView(BaseModel):
    at: datetime
    status_code: int | None
    """None when no answer came (timeout, refused connection, refused destination)."""
    latency_ms: int
    error: str | None
    response: str
    """The first bytes of the receiver's answer."""

    @classmethod
    def of(cls, attempt: DeliveryAttempt) -> AttemptView:
        return cls(**attempt.model_dump())


class DeliveryView(BaseModel):
    id: str
    """The `webhook-id` header of every attempt: receivers deduplicate on it."""
    event_type: str
    event_id: str
    job_id: str
    status: DeliveryStatus
    attempts: list[AttemptView]
    next_attempt_at: datetime | None
    payload: dict[str, Any]
    """The body every attempt sends."""
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, delivery: WebhookDelivery) -> DeliveryView:
        return cls(
            id=delivery.id,
            event_type=delivery.event_type,
            event_id=delivery.event_id,
            job_id=delivery.job_id,
            status=delivery.status,
            attempts=[AttemptView.of(a) for a in delivery.attempts],
            next_attempt_at=delivery.next_attempt_at,
            payload=json.loads(delivery.body),
            created_at=delivery.created_at,
            updated_at=delivery.updated_at,
        )


class DeliveryList(BaseModel):
    deliveries: list[DeliveryView]
    limit: int


class ReplayResult(BaseModel):
    since: datetime
    events: int
    """Matching events found (each is one delivery, queued now)."""
    more: bool
    """More events followed than one replay resends: replay again from `next_since`."""
    next_since: datetime | None
