"""What the API shows of a user's in-app notifications (each as on their live feed)."""

from __future__ import annotations

from pydantic import BaseModel

from jobyard_store.notifications import NotificationView


class NotificationList(BaseModel):
    notifications: list[NotificationView]
    """Newest first."""
    unread: int
    """How many of the caller's notifications are unread (all of them, not only listed)."""


class MarkedRead(BaseModel):
    marked: int
    """Notifications that were unread until now."""
