from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_settings import InfraSettings


class SchedulerSettings(BaseSettings):
    """Scheduler settings, from `JOBYARD_SCHEDULER_*` (infrastructure from `JOBYARD_*`)."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_SCHEDULER_", extra="ignore")

    infra: InfraSettings = Field(default_factory=InfraSettings)
    max_concurrent_jobs_per_user: int = Field(
        default=3, ge=1, description="Jobs of one user admitted at once; the rest wait, queued."
    )
    requeue_interval_seconds: float = Field(
        default=5.0, gt=0, description="How often queued jobs are re-checked for a free slot."
    )
    host_lost_seconds: float = Field(
        default=120.0,
        gt=0,
        description="A host silent this long is lost: its active jobs end failed.",
    )
    health_host: str = Field(default="127.0.0.1", description="Address of GET /healthz.")
    health_port: int = Field(default=8081, description="Port of GET /healthz.")
