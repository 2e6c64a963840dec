"""HTTP <-> the caller's in-app notifications (also pushed on `GET /v1/live`). Another user's
notification is a 404."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import NotFoundException
from litestar.params import FromPath, Parameter
from litestar.status_codes import HTTP_200_OK
from pymongo.asynchronous.database import AsyncDatabase

from jobyard_gateway.adapters.users import User
from jobyard_gateway.domain.notifications import MarkedRead, NotificationList
from jobyard_store.notifications import Notifications, NotificationView


def notifications_of(db: NamedDependency[AsyncDatabase[dict[str, Any]]]) -> Notifications:
    return Notifications(db)


class NotificationController(Controller):
    path = "/v1/notifications"
    tags = ["notifications"]
    dependencies = {"notifications": Provide(notifications_of, sync_to_thread=False)}

    @get("/")
    async def list_notifications(
        self,
        request: Request[User, Any, Any],
        notifications: NamedDependency[Notifications],
        unread: Annotated[bool, Parameter(description="Only those not read yet.")] = False,
        limit: Annotated[int, Parameter(ge=1, le=500)] = 50,
    ) -> NotificationList:
        """The caller's notifications, newest first: their jobs completed, failed, cancelled
        or stopped, asking for input or paused at the session limit, and webhooks disabled."""
        found = await notifications.of_user(request.user.id, unread=unread, limit=limit)
        return NotificationList(
            notifications=[NotificationView.of(n) for n in found],
            unread=await notifications.unread_count(request.user.id),
        )

    @post("/{notification_id:str}/read", status_code=HTTP_200_OK)
    async def read(
        self,
        request: Request[User, Any, Any],
        notification_id: FromPath[str],
        notifications: NamedDependency[Notifications],
    ) -> NotificationView:
        """Mark it read (again: no change)."""
        read = await notifications.mark_read(notification_id, request.user.id, datetime.now(UTC))
        if read is None:
            raise NotFoundException(f"notification {notification_id} not found")
        return NotificationView.of(read)

    @post("/read-all", status_code=HTTP_200_OK)
    async def read_all(
        self, request: Request[User, Any, Any], notifications: NamedDependency[Notifications]
    ) -> MarkedRead:
        """Mark every notification of the caller read."""
        marked = await notifications.mark_all_read(request.user.id, datetime.now(UTC))
        return MarkedRead(marked=marked)
