"""The notifications process: `jobyard-notifications`."""

from __future__ import annotations

from jobyard_notifications import handlers
from jobyard_notifications.adapters.sender import WebhookSender
from jobyard_notifications.dispatcher import Dispatcher
from jobyard_notifications.inbox import Inbox
from jobyard_notifications.settings import NotificationsSettings
from jobyard_store.notifications import Notifications
from jobyard_store.webhooks import WebhookDeliveries, WebhookEndpoints
from jobyard_worker import Worker


def create_worker(settings: NotificationsSettings | None = None) -> Worker:
    settings = settings or NotificationsSettings()
    worker = Worker("notifications", settings.infra)
    endpoints = WebhookEndpoints(worker.db)
    deliveries = WebhookDeliveries(worker.db)
    notifications = Notifications(worker.db)
    inbox = Inbox(notifications, worker.live, worker.names)
    sender = WebhookSender(settings.destinations, settings.timeout_seconds)
    dispatcher = Dispatcher(endpoints, deliveries, sender, inbox, settings)
    handlers.register(worker, endpoints, dispatcher, inbox)

    async def prepare() -> None:
        await endpoints.ensure_indexes()
        await deliveries.ensure_indexes()
        await notifications.ensure_indexes()

    worker.on_start(prepare)
    worker.background(dispatcher.run_forever)
    worker.on_stop(dispatcher.stop)
    return worker


def main() -> None:
    settings = NotificationsSettings()
    create_worker(settings).run(settings.health_host, settings.health_port)
