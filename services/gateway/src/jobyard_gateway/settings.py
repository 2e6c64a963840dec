from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_objects import FileLimits, ObjectSettings
from jobyard_settings import InfraSettings


class JobLimits(BaseSettings):
    """What one job may ask for, from `JOBYARD_LIMITS_*`. Requests beyond them are a 422."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_LIMITS_", extra="ignore")

    max_vcpus: int = Field(default=64, ge=1, description="Largest `vcpus` a job may request.")
    max_memory_mb: int = Field(
        default=65536, ge=16, description="Largest `memory_mb` a job may request."
    )
    max_timeout_seconds: int = Field(
        default=7 * 24 * 3600, ge=1, description="Largest `timeout` a job may request."
    )
    max_script_bytes: int = Field(default=1_048_576, ge=1, description="Largest script.")
    max_session_seconds: int = Field(
        default=3600,
        ge=1,
        description="Largest `session_seconds` a job may request: jobs may ask for a shorter "
        "session than the platform's (1 hour), not a longer one.",
    )
    max_disk_mb: int = Field(
        default=100 * 1024, ge=64, description="Largest `disk_mb` a job may request."
    )
    max_active_jobs_per_user: int = Field(
        default=100,
        ge=1,
        description="Pending and running jobs one user may have; beyond it a submission is a 429.",
    )


class GatewaySettings(BaseSettings):
    """Gateway settings, from `JOBYARD_GATEWAY_*` (infrastructure from `JOBYARD_*`, object
    storage from `JOBYARD_S3_*`, file limits from `JOBYARD_FILES_*`)."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_GATEWAY_", extra="ignore")

    infra: InfraSettings = Field(default_factory=InfraSettings)
    limits: JobLimits = Field(default_factory=JobLimits)
    objects: ObjectSettings = Field(default_factory=ObjectSettings)
    files: FileLimits = Field(default_factory=FileLimits)
    upload_verify_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        le=300,
        description="How long completing an upload waits for file-sync's check of its bytes "
        "before answering 202 (the client then polls `GET /v1/files/{id}`).",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of `POST /v1/users` (creating users); unset disables it.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(default=8080, description="Port the HTTP API listens on.")
