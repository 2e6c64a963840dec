"""What operators decide about webhook destinations, read by the gateway (when an endpoint is
created or changed) and by the notifications service (before every attempt)."""

from __future__ import annotations

from pydantic import Field, IPvAnyNetwork
from pydantic_settings import BaseSettings, SettingsConfigDict


class DestinationPolicy(BaseSettings):
    """From `JOBYARD_WEBHOOKS_*`. By default only publicly routable addresses are reached."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_WEBHOOKS_", extra="ignore")

    allowed_networks: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Networks webhooks may reach although they are not public, as a JSON list "
        'of CIDRs (e.g. `["127.0.0.0/8"]` for a receiver on the same machine in tests, or an '
        "internal range of your own). Everything else that is loopback, private, link-local, "
        "a cloud metadata address or otherwise not publicly routable is refused.",
    )
