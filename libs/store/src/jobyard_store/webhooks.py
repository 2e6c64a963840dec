"""Webhook endpoints and their deliveries.

Ownership: the gateway creates, changes and deletes endpoints, and requeues deliveries (retry,
replay); the notifications service creates deliveries from events and attempts them.

A delivery's id is the `webhook-id` its receiver sees, derived from (endpoint, event): a
redelivered message, a second replica or a replay finds the same delivery instead of making a
second one, and every attempt of it carries the same id. A delivery is stored before it is
attempted; attempts are claimed with a lease, so two replicas never attempt one at once and a
crashed one's delivery is taken up again when the lease runs out.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from jobyard_store.leases import lease_free

MAX_ATTEMPTS_KEPT = 50
"""Attempts a delivery keeps in its history (the oldest go first)."""
DUPLICATE_KEY = 11000


class WebhookEndpoint(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(alias="_id")
    user_id: str
    url: str
    event_types: list[str]
    description: str = ""
    secret: str = Field(repr=False, description="The signing secret (`whsec_...`).")
    enabled: bool = True
    disabled_reason: str = ""
    failing_since: datetime | None = Field(
        default=None, description="First failed attempt since the last successful one."
    )
    created_at: datetime
    updated_at: datetime


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its next attempt (or being attempted)."""
    DELIVERED = "delivered"
    """The receiver answered 2xx."""
    FAILED = "failed"
    """Every scheduled attempt failed, or the endpoint was disabled."""


class DeliveryAttempt(BaseModel):
    at: datetime
    status_code: int | None = Field(default=None, description="None: no answer.")
    latency_ms: int
    error: str | None = Field(default=None, description="Why it failed, if it did.")
    response: str = Field(default="", description="The first bytes of the answer's body.")


class WebhookDelivery(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(alias="_id", description="The `webhook-id` header of every attempt.")
    endpoint_id: str
    user_id: str
    job_id: str
    event_id: str = Field(description="The internal event's id.")
    event_type: str = Field(description="The public event type.")
    occurred_at: datetime
    body: str = Field(description="What every attempt sends, byte for byte.")
    status: DeliveryStatus = DeliveryStatus.PENDING
    tries: int = Field(default=0, description="Attempts since it was (re)queued.")
    attempts: list[DeliveryAttempt] = Field(default_factory=list)
    next_attempt_at: datetime | None
    lease_until: datetime | None = None
    created_at: datetime
    updated_at: datetime


def new_endpoint_id() -> str:
    return f"whk_{secrets.token_hex(12)}"


def delivery_id(endpoint_id: str, event_id: str) -> str:
    """The one delivery of an event to an endpoint."""
    digest = hashlib.sha256(f"{endpoint_id}\0{event_id}".encode()).hexdigest()
    return f"msg_{digest[:32]}"


class WebhookEndpoints:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["webhook_endpoints"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("user_id", ASCENDING), ("created_at", DESCENDING)])

    async def insert(self, endpoint: WebhookEndpoint) -> None:
        await self.collection.insert_one(endpoint.model_dump(mode="python", by_alias=True))

    async def get(self, endpoint_id: str, *, user_id: str | None = None) -> WebhookEndpoint | None:
        """The endpoint; with `user_id`, only if that user owns it."""
        query: dict[str, Any] = {"_id": endpoint_id}
        if user_id is not None:
            query["user_id"] = user_id
        doc = await self.collection.find_one(query)
        return WebhookEndpoint.model_validate(doc) if doc else None

    async def of_user(self, user_id: str) -> list[WebhookEndpoint]:
        cursor = self.collection.find({"user_id": user_id}, sort=[("created_at", DESCENDING)])
        return [WebhookEndpoint.model_validate(doc) async for doc in cursor]

    async def subscribed(self, user_id: str, event_type: str) -> list[WebhookEndpoint]:
        """The user's enabled endpoints that want `event_type`."""
        query = {"user_id": user_id, "enabled": True, "event_types": event_type}
        return [WebhookEndpoint.model_validate(doc) async for doc in self.collection.find(query)]

    async def update(
        self, endpoint_id: str, user_id: str, changes: dict[str, Any]
    ) -> WebhookEndpoint | None:
        doc = await self.collection.find_one_and_update(
            {"_id": endpoint_id, "user_id": user_id},
            {"$set": changes},
            return_document=ReturnDocument.AFTER,
        )
        return WebhookEndpoint.model_validate(doc) if doc else None

    async def delete(self, endpoint_id: str, user_id: str) -> bool:
        result = await self.collection.delete_one({"_id": endpoint_id, "user_id": user_id})
        return bool(result.deleted_count)

    async def record_failure(self, endpoint_id: str, at: datetime) -> WebhookEndpoint | None:
        """An attempt failed: the endpoint is failing since `at` unless it already was."""
        await self.collection.update_one(
            {"_id": endpoint_id, "failing_since": None}, {"$set": {"failing_since": at}}
        )
        return await self.get(endpoint_id)

    async def record_success(self, endpoint_id: str) -> None:
        await self.collection.update_one(
            {"_id": endpoint_id, "failing_since": {"$ne": None}}, {"$set": {"failing_since": None}}
        )

    async def disable(self, endpoint: WebhookEndpoint, reason: str, at: datetime) -> bool:
        """Disable the endpoint if it still fails since the same time; True for the one caller
        that did it (so its owner is told once)."""
        result = await self.collection.update_one(
            {"_id": endpoint.id, "enabled": True, "failing_since": endpoint.failing_since},
            {"$set": {"enabled": False, "disabled_reason": reason, "updated_at": at}},
        )
        return bool(result.modified_count)


class WebhookDeliveries:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.collection = db["webhook_deliveries"]

    async def ensure_indexes(self) -> None:
        await self.collection.create_index([("status", ASCENDING), ("next_attempt_at", 1)])
        await self.collection.create_index([("endpoint_id", ASCENDING), ("created_at", -1)])
        await self.collection.create_index([("endpoint_id", ASCENDING), ("event_id", 1)])

    async def add(self, deliveries: Sequence[WebhookDelivery]) -> list[WebhookDelivery]:
        """Store new deliveries and return those that were: one already stored (same endpoint
        and event) is kept as is."""
        if not deliveries:
            return []
        docs = [d.model_dump(mode="python", by_alias=True) for d in deliveries]
        try:
            await self.collection.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details.get("writeErrors", [])
            if any(e.get("code") != DUPLICATE_KEY for e in errors):
                raise
            kept = {e["index"] for e in errors}
            return [d for i, d in enumerate(deliveries) if i not in kept]
        return list(deliveries)

    async def get(self, delivery_id: str, endpoint_id: str, user_id: str) -> WebhookDelivery | None:
        doc = await self.collection.find_one(
            {"_id": delivery_id, "endpoint_id": endpoint_id, "user_id": user_id}
        )
        return WebhookDelivery.model_validate(doc) if doc else None

    async def of_endpoint(
        self, endpoint_id: str, *, status: DeliveryStatus | None = None, limit: int = 100
    ) -> list[WebhookDelivery]:
        query: dict[str, Any] = {"endpoint_id": endpoint_id}
        if status is not None:
            query["status"] = status.value
        cursor = self.collection.find(query, sort=[("created_at", DESCENDING)], limit=limit)
        return [WebhookDelivery.model_validate(doc) async for doc in cursor]

    async def stored_events(self, endpoint_id: str, event_ids: Sequence[str]) -> set[str]:
        """Which of these events already have a delivery to the endpoint."""
        cursor = self.collection.find(
            {"endpoint_id": endpoint_id, "event_id": {"$in": list(event_ids)}}, {"event_id": 1}
        )
        return {doc["event_id"] async for doc in cursor}

    async def requeue(self, endpoint_id: str, delivery_ids: Sequence[str], now: datetime) -> int:
        """Attempt these deliveries again now, with a fresh schedule (those being attempted
        right now are left to finish)."""
        result = await self.collection.update_many(
            {"endpoint_id": endpoint_id, "_id": {"$in": list(delivery_ids)}}
            | lease_free("lease_until", now),
            {
                "$set": {
                    "status": DeliveryStatus.PENDING.value,
                    "tries": 0,
                    "next_attempt_at": now,
                    "updated_at": now,
                }
            },
        )
        return int(result.modified_count)

    async def claim_due(self, now: datetime, lease: timedelta) -> WebhookDelivery | None:
        """The most overdue pending delivery no one attempts now, leased to the caller."""
        doc = await self.collection.find_one_and_update(
            {"status": DeliveryStatus.PENDING.value, "next_attempt_at": {"$lte": now}}
            | lease_free("lease_until", now),
            {"$set": {"lease_until": now + lease}},
            sort=[("next_attempt_at", ASCENDING)],
            return_document=ReturnDocument.AFTER,
        )
        return WebhookDelivery.model_validate(doc) if doc else None

    async def record_attempt(
        self,
        claimed: WebhookDelivery,
        attempt: DeliveryAttempt | None,
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
    ) -> bool:
        """Record the outcome of the caller's claim (`attempt` None: it was not attempted);
        False when the lease was lost meanwhile (someone else attempts it now)."""
        update: dict[str, Any] = {
            "$set": {
                "status": status.value,
                "next_attempt_at": next_attempt_at,
                "lease_until": None,
                "updated_at": attempt.at if attempt is not None else datetime.now(UTC),
            }
        }
        if attempt is not None:
            update["$inc"] = {"tries": 1}
            update["$push"] = {
                "attempts": {"$each": [attempt.model_dump()], "$slice": -MAX_ATTEMPTS_KEPT}
            }
        result = await self.collection.update_one(
            {"_id": claimed.id, "lease_until": claimed.lease_until}, update
        )
        return bool(result.modified_count)

    async def delete_endpoint(self, endpoint_id: str) -> None:
        await self.collection.delete_many({"endpoint_id": endpoint_id})
