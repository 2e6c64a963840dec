"""Webhook rules shared by the gateway and the notifications service: the public event
catalog and delivery bodies, destination safety, and Standard Webhooks secrets and signatures."""

from jobyard_webhooks.catalog import (
    CATALOG,
    PUBLISHED_MESSAGES,
    PublicEvent,
    WebhookEventType,
    public_event,
    webhook_body,
)
from jobyard_webhooks.deliveries import new_deliveries
from jobyard_webhooks.destinations import (
    Destination,
    UnsafeDestinationError,
    address_problem,
    resolve_destination,
    url_problem,
)
from jobyard_webhooks.settings import DestinationPolicy
from jobyard_webhooks.signing import new_secret, signed_headers

__all__ = [
    "CATALOG",
    "PUBLISHED_MESSAGES",
    "Destination",
    "DestinationPolicy",
    "PublicEvent",
    "UnsafeDestinationError",
    "WebhookEventType",
    "address_problem",
    "new_deliveries",
    "new_secret",
    "public_event",
    "resolve_destination",
    "signed_headers",
    "url_problem",
    "webhook_body",
]
