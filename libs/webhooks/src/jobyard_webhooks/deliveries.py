"""The deliveries an event makes: one per endpoint that wants its public type, all carrying
the same body. Made by the notifications service when the event arrives, and by a replay."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from jobyard_contracts import Envelope, Payload
from jobyard_store import JobDocument
from jobyard_store.webhooks import WebhookDelivery, WebhookEndpoint, delivery_id
from jobyard_webhooks.catalog import public_event, webhook_body


def new_deliveries(
    msg: Envelope[Payload],
    job: JobDocument | None,
    endpoints: Sequence[WebhookEndpoint],
    now: datetime,
) -> list[WebhookDelivery]:
    """Deliveries of `msg` to those of `endpoints` subscribed to its public type, due now."""
    event = public_event(msg.type)
    if event is None:
        return []
    wanted = [e for e in endpoints if event.type in e.event_types]
    if not wanted:
        return []
    body = webhook_body(event, msg, job)
    return [
        WebhookDelivery(
            id=delivery_id(endpoint.id, str(msg.id)),
            endpoint_id=endpoint.id,
            user_id=endpoint.user_id,
            job_id=msg.job_id,
            event_id=str(msg.id),
            event_type=event.type.value,
            occurred_at=msg.occurred_at,
            body=body,
            next_attempt_at=now,
            created_at=now,
            updated_at=now,
        )
        for endpoint in wanted
    ]
