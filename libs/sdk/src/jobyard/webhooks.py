"""`client.webhooks` and `client.notifications`, blocking and asyncio.

Deliveries are signed the Standard Webhooks way; verify them in your receiver with
`standardwebhooks.Webhook(secret).verify(body, headers)` and deduplicate on `webhook-id`.
Requests are built (and answers parsed) once, below; the classes only send them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any

from jobyard import _requests as rq
from jobyard.models import Delivery, Notification, Replay, Webhook

HOOKS = "/v1/webhooks"


def _create(url: str, event_types: Sequence[str] | None, description: str) -> rq.Call:
    body: dict[str, Any] = {"url": url, "description": description}
    if event_types is not None:
        body["event_types"] = list(event_types)
    return rq.Call("POST", HOOKS, json=body)


def _update(webhook_id: str, changes: dict[str, Any]) -> rq.Call:
    body = {name: value for name, value in changes.items() if value is not None}
    if "event_types" in body:
        body["event_types"] = list(body["event_types"])
    return rq.Call("PATCH", f"{HOOKS}/{webhook_id}", json=body)


def _deliveries(webhook_id: str, status: str | None, limit: int) -> rq.Call:
    params: dict[str, Any] = {"limit": limit} | ({"status": status} if status else {})
    return rq.Call("GET", f"{HOOKS}/{webhook_id}/deliveries", params=params)


def _replay(webhook_id: str, since: datetime | str) -> rq.Call:
    moment = since.isoformat() if isinstance(since, datetime) else since
    return rq.Call("POST", f"{HOOKS}/{webhook_id}/replay", params={"since": moment})


def _webhooks(body: dict[str, Any]) -> list[Webhook]:
    return [Webhook.model_validate(w) for w in body["webhooks"]]


def _delivery_list(body: dict[str, Any]) -> list[Delivery]:
    return [Delivery.model_validate(d) for d in body["deliveries"]]


def _notifications(body: dict[str, Any]) -> list[Notification]:
    return [Notification.model_validate(n) for n in body["notifications"]]


def _listing(unread: bool, limit: int) -> rq.Call:
    return rq.Call("GET", "/v1/notifications", params={"unread": unread, "limit": limit})


class Webhooks:
    """`client.webhooks` of `Jobyard`."""

    def __init__(self, send: Callable[[rq.Call], Any]) -> None:
        self._send = send

    def create(
        self, url: str, event_types: Sequence[str] | None = None, description: str = ""
    ) -> Webhook:
        """Subscribe `url` to `event_types` (default: all). The answer's `secret` is shown
        only now: keep it to verify deliveries."""
        return Webhook.model_validate(self._send(_create(url, event_types, description)))

    def get(self, webhook_id: str) -> Webhook:
        return Webhook.model_validate(self._send(rq.Call("GET", f"{HOOKS}/{webhook_id}")))

    def update(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> Webhook:
        """Change what is given; `enabled=True` turns a disabled endpoint back on."""
        changes = dict(url=url, event_types=event_types, description=description, enabled=enabled)
        return Webhook.model_validate(self._send(_update(webhook_id, changes)))

    def delete(self, webhook_id: str) -> None:
        self._send(rq.Call("DELETE", f"{HOOKS}/{webhook_id}"))

    def rotate_secret(self, webhook_id: str) -> Webhook:
        """A new signing secret (in the answer, this once); the old one stops at once."""
        call = rq.Call("POST", f"{HOOKS}/{webhook_id}/rotate-secret")
        return Webhook.model_validate(self._send(call))

    def deliveries(
        self, webhook_id: str, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        """The endpoint's deliveries, newest first, with their attempts."""
        return _delivery_list(self._send(_deliveries(webhook_id, status, limit)))

    def retry(self, webhook_id: str, delivery_id: str) -> Delivery:
        """Send a delivery again now (same `webhook-id`)."""
        call = rq.Call("POST", f"{HOOKS}/{webhook_id}/deliveries/{delivery_id}/retry")
        return Delivery.model_validate(self._send(call))

    def replay(self, webhook_id: str, since: datetime | str) -> Replay:
        """Resend every wanted event since `since` (events already sent keep their id)."""
        return Replay.model_validate(self._send(_replay(webhook_id, since)))

    def list(self) -> list[Webhook]:
        """Your webhooks, newest first (without their secrets)."""
        return _webhooks(self._send(rq.Call("GET", HOOKS)))


class AsyncWebhooks:
    """`client.webhooks` of `AsyncJobyard`: the same operations, awaited."""

    def __init__(self, send: Callable[[rq.Call], Awaitable[Any]]) -> None:
        self._send = send

    async def create(
        self, url: str, event_types: Sequence[str] | None = None, description: str = ""
    ) -> Webhook:
        return Webhook.model_validate(await self._send(_create(url, event_types, description)))

    async def get(self, webhook_id: str) -> Webhook:
        return Webhook.model_validate(await self._send(rq.Call("GET", f"{HOOKS}/{webhook_id}")))

    async def update(
        self,
        webhook_id: str,
        *,
        url: str | None = None,
        event_types: Sequence[str] | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> Webhook:
        changes = dict(url=url, event_types=event_types, description=description, enabled=enabled)
        return Webhook.model_validate(await self._send(_update(webhook_id, changes)))

    async def delete(self, webhook_id: str) -> None:
        await self._send(rq.Call("DELETE", f"{HOOKS}/{webhook_id}"))

    async def rotate_secret(self, webhook_id: str) -> Webhook:
        call = rq.Call("POST", f"{HOOKS}/{webhook_id}/rotate-secret")
        return Webhook.model_validate(await self._send(call))

    async def deliveries(
        self, webhook_id: str, status: str | None = None, limit: int = 100
    ) -> list[Delivery]:
        return _delivery_list(await self._send(_deliveries(webhook_id, status, limit)))

    async def retry(self, webhook_id: str, delivery_id: str) -> Delivery:
        call = rq.Call("POST", f"{HOOKS}/{webhook_id}/deliveries/{delivery_id}/retry")
        return Delivery.model_validate(await self._send(call))

    async def replay(self, webhook_id: str, since: datetime | str) -> Replay:
        return Replay.model_validate(await self._send(_replay(webhook_id, since)))

    async def list(self) -> list[Webhook]:
        return _webhooks(await self._send(rq.Call("GET", HOOKS)))


class Notifications:
    """`client.notifications` of `Jobyard`: what the app tells you, newest first."""

    def __init__(self, send: Callable[[rq.Call], Any]) -> None:
        self._send = send

    def read(self, notification_id: str) -> Notification:
        call = rq.Call("POST", f"/v1/notifications/{notification_id}/read")
        return Notification.model_validate(self._send(call))

    def read_all(self) -> int:
        """Mark them all read; returns how many were unread."""
        return int(self._send(rq.Call("POST", "/v1/notifications/read-all"))["marked"])

    def list(self, unread: bool = False, limit: int = 50) -> list[Notification]:
        return _notifications(self._send(_listing(unread, limit)))


class AsyncNotifications:
    """`client.notifications` of `AsyncJobyard`."""

    def __init__(self, send: Callable[[rq.Call], Awaitable[Any]]) -> None:
        self._send = send

    async def read(self, notification_id: str) -> Notification:
        call = rq.Call("POST", f"/v1/notifications/{notification_id}/read")
        return Notification.model_validate(await self._send(call))

    async def read_all(self) -> int:
        return int((await self._send(rq.Call("POST", "/v1/notifications/read-all")))["marked"])

    async def list(self, unread: bool = False, limit: int = 50) -> list[Notification]:
        return _notifications(await self._send(_listing(unread, limit)))
