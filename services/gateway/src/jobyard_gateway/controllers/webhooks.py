"""HTTP <-> the caller's webhook endpoints and their deliveries. Every lookup is scoped to the
caller: another user's endpoint or delivery is a 404. The signing secret is answered only by
creation and rotation; the notifications service makes the deliveries and attempts them, this
controller only requeues them (retry, replay)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, delete, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, JSONBody, Parameter
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_202_ACCEPTED,
    HTTP_204_NO_CONTENT,
)
from pymongo.asynchronous.database import AsyncDatabase

from jobyard_contracts import parse_envelope
from jobyard_gateway.adapters.users import User
from jobyard_gateway.domain.webhooks import (
    CreateWebhook,
    DeliveryList,
    DeliveryView,
    ReplayResult,
    UpdateWebhook,
    WebhookList,
    WebhookView,
    WebhookWithSecret,
    aware,
    endpoint_changes,
    new_endpoint,
    replayed,
)
from jobyard_gateway.errors import ConflictException, invalid_fields
from jobyard_store import JobDocument, JobRepository
from jobyard_store.events import EventLog, StoredEvent
from jobyard_store.webhooks import (
    DeliveryStatus,
    WebhookDeliveries,
    WebhookEndpoint,
    WebhookEndpoints,
    delivery_id,
)
from jobyard_webhooks import (
    DestinationPolicy,
    UnsafeDestinationError,
    new_deliveries,
    new_secret,
    resolve_destination,
)

REPLAY_PAGE = 500
MAX_REPLAYED_EVENTS = 10_000
"""Stored events one replay looks through; `more` says when there were more."""


def endpoints_of(db: NamedDependency[AsyncDatabase[dict[str, Any]]]) -> WebhookEndpoints:
    return WebhookEndpoints(db)


def deliveries_of(db: NamedDependency[AsyncDatabase[dict[str, Any]]]) -> WebhookDeliveries:
    return WebhookDeliveries(db)


async def owned_endpoint(
    endpoints: WebhookEndpoints, endpoint_id: str, user: User
) -> WebhookEndpoint:
    endpoint = await endpoints.get(endpoint_id, user_id=user.id)
    if endpoint is None:
        raise NotFoundException(f"webhook {endpoint_id} not found")
    return endpoint


async def check_destination(url: str, policy: DestinationPolicy) -> None:
    """A URL that leads to an address webhooks may not reach is a 422 naming `url`."""
    try:
        await resolve_destination(url, policy)
    except UnsafeDestinationError as exc:
        raise invalid_fields({"url": str(exc)}) from None


def enabled(endpoint: WebhookEndpoint) -> WebhookEndpoint:
    if not endpoint.enabled:
        raise ConflictException(
            f"webhook {endpoint.id} is disabled ({endpoint.disabled_reason or 'by its owner'}); "
            "enable it first (PATCH with enabled: true)"
        )
    return endpoint


async def replay_page(
    page: list[StoredEvent],
    endpoint: WebhookEndpoint,
    jobs: JobRepository,
    deliveries: WebhookDeliveries,
    now: datetime,
) -> int:
    """Queue the endpoint's deliveries of these stored events: again for those it has (same
    `webhook-id`, so receivers can deduplicate), anew for the others. Returns how many."""
    wanted = [parse_envelope(entry.envelope) for entry in page if replayed(entry, endpoint)]
    if not wanted:
        return 0
    stored = await deliveries.stored_events(endpoint.id, [str(msg.id) for msg in wanted])
    job_docs: dict[str, JobDocument | None] = {}
    fresh = []
    for msg in wanted:
        if str(msg.id) in stored:
            continue
        if msg.job_id not in job_docs:
            job_docs[msg.job_id] = await jobs.get(msg.job_id)
        fresh += new_deliveries(msg, job_docs[msg.job_id], [endpoint], now)
    await deliveries.add(fresh)
    again = [delivery_id(endpoint.id, event_id) for event_id in stored]
    await deliveries.requeue(endpoint.id, again, now)
    return len(wanted)


class WebhookController(Controller):
    path = "/v1/webhooks"
    tags = ["webhooks"]
    dependencies = {
        "endpoints": Provide(endpoints_of, sync_to_thread=False),
        "deliveries": Provide(deliveries_of, sync_to_thread=False),
    }

    @post("/", status_code=HTTP_201_CREATED)
    async def create_webhook(
        self,
        request: Request[User, Any, Any],
        data: JSONBody[CreateWebhook],
        endpoints: NamedDependency[WebhookEndpoints],
        destination_policy: NamedDependency[DestinationPolicy],
    ) -> WebhookWithSecret:
        """Subscribe a URL to event types. The answer holds the signing `secret`: the only
        time it is shown (rotate it for a new one). Deliveries follow Standard Webhooks."""
        await check_destination(data.url, destination_policy)
        endpoint = new_endpoint(data, request.user.id, datetime.now(UTC))
        await endpoints.insert(endpoint)
        return WebhookWithSecret.revealing(endpoint)

    @get("/")
    async def list_webhooks(
        self, request: Request[User, Any, Any], endpoints: NamedDependency[WebhookEndpoints]
    ) -> WebhookList:
        """The caller's endpoints, newest first."""
        found = await endpoints.of_user(request.user.id)
        return WebhookList(webhooks=[WebhookView.of(e) for e in found])

    @get("/{webhook_id:str}")
    async def get_webhook(
        self,
        request: Request[User, Any, Any],
        webhook_id: FromPath[str],
        endpoints: NamedDependency[WebhookEndpoints],
    ) -> WebhookView:
        return WebhookView.of(await owned_endpoint(endpoints, webhook_id, request.user))

    @patch("/{webhook_id:str}")
    async def update_webhook(
        self,
        request: Request[User, Any, Any],
        webhook_id: FromPath[str],
        data: JSONBody[UpdateWebhook],
        endpoints: NamedDependency[WebhookEndpoints],
        destination_policy: NamedDependency[DestinationPolicy],
    ) -> WebhookView:
        """Change the URL, event types, description, or enable / disable it."""
        await owned_endpoint(endpoints, webhook_id, request.user)
        if data.url is not None:
            await check_destination(data.url, destination_policy)
        changes = endpoint_changes(data, datetime.now(UTC))
        updated = await endpoints.update(webhook_id, request.user.id, changes)
        if updated is None:  # deleted meanwhile
            raise NotFoundException(f"webhook {webhook_id} not found")
        return WebhookView.of(updated)

    @delete("/{webhook_id:str}", status_code=HTTP_204_NO_CONTENT)
    async def delete_webhook(
        self,
        request: Request[User, Any, Any],
        webhook_id: FromPath[str],
        endpoints: NamedDependency[WebhookEndpoints],
        deliveries: NamedDependency[WebhookDeliveries],
    ) -> None:
        """Delete the endpoint and its deliveries; nothing more is sent to it."""
        if not await endpoints.delete(webhook_id, request.user.id):
            raise NotFoundException(f"webhook {webhook_id} not found")
        await deliveries.delete_endpoint(webhook_id)

    @post("/{webhook_id:str}/rotate-secret", status_code=HTTP_200_OK)
    async def rotate_secret(
        self,
        request: Request[User, Any, Any],
        webhook_id: FromPath[str],
        endpoints: NamedDependency[WebhookEndpoints],
    ) -> WebhookWithSecret:
        """A new signing secret, shown this once; every attempt from now on is signed with it
        (the old one stops verifying at once)."""
        await owned_endpoint(endpoints, webhook_id, request.user)
        now = datetime.now(UTC)
        rotated = await endpoints.update(
            webhook_id, request.user.id, {"secret": new_secret(), "updated_at": now}
        )
        if rotated is None:
            raise NotFoundException(f"webhook {webhook_id} not found")
        return WebhookWithSecret.revealing(rotated)

    @get("/{webhook_id:str}/deliveries")
    async def list_deliveries(
        self,
        request: Request[User, Any, Any],
        webhook_id: FromPath[str],
        endpoints: NamedDependency[WebhookEndpoints],
        deliveries: NamedDependency[WebhookDeliveries],
        status: Annotated[
            DeliveryStatus | None, Parameter(description="Only deliveries in this status.")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 100,
    ) -> DeliveryList:
        """The endpoint's deliveries, newest first, each with its attempts (time, status
        code, latency, error, the start of the answer)."""
        await owned_endpoint(endpoints, webhook_id, request.user)
        found = await deliveries.of_endpoint(webhook_id, status=status, limit=limit)
        return DeliveryList(deliveries=[DeliveryView.of(d) for d in found], limit=limit)

    @post("/{webhook_id:str}/deliveries/{delivery_id:str}/retry", status_code=HTTP_202_ACCEPTED)
    async def retry_delivery(
        self,
        request: Request[User, Any, Any],
        webhook_id: FromPath[str],
        delivery_id: FromPath[str],
        endpoints: NamedDependency[WebhookEndpoints],
        deliveries: NamedDependency[WebhookDeliveries],
    ) -> DeliveryView:
        """Send the delivery again now, with a fresh retry schedule and the same
        `webhook-id`; a delivery being attempted right now is left to finish."""
        enabled(await owned_endpoint(endpoints, webhook_id, request.user))
        found = await deliveries.get(delivery_id, webhook_id, request.user.id)
        if found is None:
            raise NotFoundException(f"delivery {delivery_id} not found")
        await deliveries.requeue(webhook_id, [found.id], datetime.now(UTC))
        again = await deliveries.get(delivery_id, webhook_id, request.user.id)
        return DeliveryView.of(again or found)

    @post("/{webhook_id:str}/replay", status_code=HTTP_202_ACCEPTED)
    async def replay(
        self,
        request: Request[User, Any, Any],
        webhook_id: FromPath[str],
        since: Annotated[
            datetime,
            Parameter(
                description="Resend the caller's events that happened from then on "
                "(ISO 8601; UTC if no zone is given)."
            ),
        ],
        endpoints: NamedDependency[WebhookEndpoints],
        deliveries: NamedDependency[WebhookDeliveries],
        events: NamedDependency[EventLog],
        jobs: NamedDependency[JobRepository],
    ) -> ReplayResult:
        """Resend to this endpoint every event of the types it wants since a time (the
        events of deleted jobs are gone): an event it already had keeps its delivery's
        `webhook-id`, so a receiver that got it before can tell."""
        endpoint = enabled(await owned_endpoint(endpoints, webhook_id, request.user))
        start = aware(since)
        now = datetime.now(UTC)
        resent, seen, last = 0, 0, None
        while True:
            page = await events.since(request.user.id, start, after=last, limit=REPLAY_PAGE)
            if page:
                resent += await replay_page(page, endpoint, jobs, deliveries, now)
                seen, last = seen + len(page), page[-1]
            if len(page) < REPLAY_PAGE or seen >= MAX_REPLAYED_EVENTS:
                break
        more = len(page) == REPLAY_PAGE and last is not None
        return ReplayResult(
            since=start,
            events=resent,
            more=more,
            next_since=last.occurred_at if more and last is not None else None,
        )
