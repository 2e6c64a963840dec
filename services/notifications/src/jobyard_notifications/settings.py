from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_settings import InfraSettings
from jobyard_webhooks import DestinationPolicy

DEFAULT_RETRY_SCHEDULE = [5.0, 300.0, 1800.0, 7200.0, 18000.0, 36000.0]
"""5 s, 5 min, 30 min, 2 h, 5 h, 10 h: seven attempts over about 17.5 hours."""


class NotificationsSettings(BaseSettings):
    """Notifications settings, from `JOBYARD_NOTIFICATIONS_*` (destinations webhooks may reach
    from `JOBYARD_WEBHOOKS_*`, shared with the gateway). Run as many replicas as you like:
    events are competing consumers and each delivery attempt is leased to one of them."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_NOTIFICATIONS_", extra="ignore")

    infra: InfraSettings = Field(default_factory=InfraSettings)
    destinations: DestinationPolicy = Field(default_factory=DestinationPolicy)
    retry_schedule: list[float] = Field(
        default_factory=lambda: list(DEFAULT_RETRY_SCHEDULE),
        min_length=1,
        description="Seconds to wait before each retry of a failed delivery (a JSON list); "
        "after the last retry fails the delivery is `failed`.",
    )
    timeout_seconds: float = Field(
        default=10.0, gt=0, le=60, description="A receiver's whole answer must come within it."
    )
    disable_after_seconds: float = Field(
        default=5 * 24 * 3600.0,
        gt=0,
        description="An endpoint whose attempts all failed for this long is disabled, and its "
        "owner notified.",
    )
    max_in_flight: int = Field(default=32, ge=1, le=1000, description="Attempts made at once.")
    poll_seconds: float = Field(
        default=0.5, gt=0, description="How often to look for due deliveries when none is."
    )
    health_host: str = Field(default="127.0.0.1", description="Address of GET /healthz.")
    health_port: int = Field(default=8085, description="Port of GET /healthz.")
