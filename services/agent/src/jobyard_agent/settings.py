from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_settings import InfraSettings


class AgentSettings(BaseSettings):
    """Agent service settings, from `JOBYARD_AGENT_*` (infrastructure from `JOBYARD_*`)."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_AGENT_", extra="ignore")

    infra: InfraSettings = Field(default_factory=InfraSettings)
    health_host: str = Field(default="127.0.0.1", description="Address of GET /healthz.")
    health_port: int = Field(default=8082, description="Port of GET /healthz.")
