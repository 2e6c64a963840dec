"""In-app notifications: stored once per cause, then pushed to the owner's live feed (best
effort: NATS is lossy, and a client that missed one lists it from the store)."""

from __future__ import annotations

from jobyard_contracts import WireNames
from jobyard_livestream import LiveStream
from jobyard_store.notifications import Notification, Notifications, NotificationView


class Inbox:
    def __init__(self, notifications: Notifications, live: LiveStream, names: WireNames) -> None:
        self._notifications = notifications
        self._live = live
        self._names = names

    async def tell(self, notification: Notification) -> None:
        if not await self._notifications.add(notification):
            return  # told already (a redelivered event)
        view = NotificationView.of(notification).model_dump(mode="json")
        await self._live.publish(
            self._names.live_user_subject(notification.user_id),
            {"type": "notification", "notification": view},
        )
