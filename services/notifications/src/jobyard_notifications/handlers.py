"""Where messages enter the notifications service: every job event that is a public webhook
event becomes a stored delivery for each endpoint that wants it, and some also an in-app
notification for the job's owner. The message is acknowledged once both are stored (the
dispatcher attempts them at once, and any it could not from the store), and a redelivered one
adds nothing."""

from __future__ import annotations

import asyncio
from typing import Any

from jobyard_contracts import parse_envelope
from jobyard_notifications.dispatcher import Dispatcher
from jobyard_notifications.domain.notices import job_notice, may_notify
from jobyard_notifications.inbox import Inbox
from jobyard_store.webhooks import WebhookEndpoints
from jobyard_webhooks import PUBLISHED_MESSAGES, public_event
from jobyard_worker import Worker


def register(
    worker: Worker, endpoints: WebhookEndpoints, dispatcher: Dispatcher, inbox: Inbox
) -> None:
    for message in PUBLISHED_MESSAGES:

        @worker.subscriber(f"notify-on-{message.TYPE}", message)
        async def on_job_event(raw: dict[str, Any]) -> None:
            msg = parse_envelope(raw)
            event = public_event(msg.type)
            assert event is not None  # subscribed to public events only
            # The job is read only for what needs it: most events make no notification, and
            # most users have no webhook for them.
            if may_notify(msg.payload):
                job, wanting = await asyncio.gather(
                    worker.jobs.get(msg.job_id), endpoints.subscribed(msg.user_id, event.type)
                )
            else:
                wanting = await endpoints.subscribed(msg.user_id, event.type)
                job = await worker.jobs.get(msg.job_id) if wanting else None
            if wanting:
                await dispatcher.store_and_send(msg, job, wanting)
            if (notice := job_notice(msg, job)) is not None:
                await inbox.tell(notice)
