"""Attempts due webhook deliveries, as many at once as configured, for the life of the service.

Everything it needs is in the store: a delivery is claimed with a lease before it is attempted
and its outcome recorded after, so a restarted service (or another replica) takes up exactly
the deliveries that are due, including one whose attempt a crash interrupted (once its lease
runs out: receivers may then see that attempt twice, with the same `webhook-id`).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from jobyard_contracts import Envelope, Payload
from jobyard_logging import get_logger
from jobyard_metrics import WEBHOOK_ATTEMPTS
from jobyard_notifications.adapters.sender import WebhookSender
from jobyard_notifications.domain import schedule
from jobyard_notifications.domain.notices import webhook_disabled_notice
from jobyard_notifications.inbox import Inbox
from jobyard_notifications.settings import NotificationsSettings
from jobyard_store import JobDocument
from jobyard_store.webhooks import (
    DeliveryAttempt,
    DeliveryStatus,
    WebhookDeliveries,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpoints,
)
from jobyard_webhooks import new_deliveries

LEASE_MARGIN_SECONDS = 30.0
"""A lease outlives the longest attempt by this much (the store and a busy loop take time)."""

log = get_logger("notifications.dispatcher")


class Dispatcher:
    def __init__(
        self,
        endpoints: WebhookEndpoints,
        deliveries: WebhookDeliveries,
        sender: WebhookSender,
        inbox: Inbox,
        settings: NotificationsSettings,
    ) -> None:
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._sender = sender
        self._inbox = inbox
        self._settings = settings
        self._lease = timedelta(seconds=settings.timeout_seconds + LEASE_MARGIN_SECONDS)
        self._in_flight: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(settings.max_in_flight)
        for status in DeliveryStatus:  # each outcome's series exists (at 0) before it happens
            WEBHOOK_ATTEMPTS.labels(outcome=status.value)

    async def store_and_send(
        self, msg: Envelope[Payload], job: JobDocument | None, wanting: list[WebhookEndpoint]
    ) -> None:
        """Store the event's deliveries already leased to this replica, and attempt them at
        once: no store round trip between an event and its first attempt. One that could not
        be stored new (a redelivered event) is left to whoever has it."""
        now = datetime.now(UTC)
        until = now + self._lease
        # As MongoDB keeps it (milliseconds): the outcome is recorded against this lease.
        until = until.replace(microsecond=until.microsecond // 1000 * 1000)
        leased = [
            delivery.model_copy(update={"lease_until": until})
            for delivery in new_deliveries(msg, job, wanting, now)
        ]
        by_id = {endpoint.id: endpoint for endpoint in wanting}
        for stored in await self._deliveries.add(leased):
            await self._slots.acquire()
            self._start(stored, by_id[stored.endpoint_id])

    async def run_forever(self) -> None:
        """Attempt what is due and not leased: retries, replays, and attempts a crash cut."""
        while True:
            await self._slots.acquire()
            try:
                claimed = await self._deliveries.claim_due(datetime.now(UTC), self._lease)
            except BaseException:
                self._slots.release()
                raise
            if claimed is None:
                self._slots.release()
                await asyncio.sleep(self._settings.poll_seconds)
                continue
            self._start(claimed, None)

    def _start(self, claimed: WebhookDelivery, endpoint: WebhookEndpoint | None) -> None:
        """Attempt in a task of its own, in one of the slots (the caller acquired it)."""
        task = asyncio.create_task(self._deliver(claimed, endpoint))
        self._in_flight.add(task)

        def finished(done: asyncio.Task[None]) -> None:
            self._in_flight.discard(done)
            self._slots.release()

        task.add_done_callback(finished)

    async def _deliver(self, claimed: WebhookDelivery, known: WebhookEndpoint | None) -> None:
        try:
            endpoint = known or await self._endpoints.get(claimed.endpoint_id)
            if endpoint is None or not endpoint.enabled:
                # Deleted: its deliveries go with it. Disabled: replayed once enabled again.
                await self._deliveries.record_attempt(claimed, None, DeliveryStatus.FAILED, None)
                return
            attempt = await self._sender.attempt(claimed, endpoint)
            tries = claimed.tries + 1
            status, next_at = schedule.after_attempt(attempt, tries, self._settings.retry_schedule)
            WEBHOOK_ATTEMPTS.labels(outcome=status.value).inc()
            if not await self._deliveries.record_attempt(claimed, attempt, status, next_at):
                log.warning("delivery lease lost during its attempt", delivery_id=claimed.id)
            log.info(
                "webhook attempt",
                delivery_id=claimed.id,
                endpoint_id=endpoint.id,
                job_id=claimed.job_id,
                event_type=claimed.event_type,
                tries=tries,
                status_code=attempt.status_code,
                latency_ms=attempt.latency_ms,
                error=attempt.error,
                outcome=status.value,
            )
            await self._track_health(endpoint, attempt)
        except Exception:
            # The lease runs out and the delivery is claimed again: nothing is lost.
            log.exception("delivery attempt crashed", delivery_id=claimed.id)

    async def _track_health(self, endpoint: WebhookEndpoint, attempt: DeliveryAttempt) -> None:
        if attempt.error is None:
            await self._endpoints.record_success(endpoint.id)
            return
        failing = await self._endpoints.record_failure(endpoint.id, attempt.at)
        disable_after = timedelta(seconds=self._settings.disable_after_seconds)
        if failing is None or not schedule.should_disable(
            failing.failing_since, attempt.at, disable_after
        ):
            return
        reason = f"every attempt failed since {failing.failing_since:%Y-%m-%d %H:%M:%S} UTC"
        if await self._endpoints.disable(failing, reason, attempt.at):
            log.warning("webhook endpoint disabled", endpoint_id=endpoint.id, reason=reason)
            await self._inbox.tell(webhook_disabled_notice(failing, reason, attempt.at))

    async def stop(self) -> None:
        """Let attempts under way finish (their outcome is recorded), briefly."""
        if self._in_flight:
            await asyncio.wait(self._in_flight, timeout=self._settings.timeout_seconds)
        await self._sender.close()
