from __future__ import annotations

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_objects import FileLimits, ObjectSettings
from jobyard_settings import InfraSettings
from jobyard_webhooks import DestinationPolicy

ADMIN_TOKEN_MIN_CHARS = 16


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


class LiveSettings(BaseSettings):
    """Live feeds (WebSockets), from `JOBYARD_LIVE_*`."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_LIVE_", extra="ignore")

    token_seconds: int = Field(
        default=60, ge=5, le=3600, description="Lifetime of a token from `POST /v1/live-tokens`."
    )
    send_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="A client that takes longer to accept one message is told how far it got "
        "and disconnected.",
    )
    idle_seconds: float = Field(
        default=2.0, gt=0, description="With NATS up, the store is read after this much silence."
    )
    fallback_seconds: float = Field(
        default=0.5, gt=0, description="With NATS down, the store is read this often."
    )
    page: int = Field(default=500, ge=10, le=5000, description="Store reads per catch-up page.")
    buffer: int = Field(
        default=5000,
        ge=100,
        description="Live messages held for a client; past it the client catches up from the "
        "store instead.",
    )


class GatewaySettings(BaseSettings):
    """Gateway settings, from `JOBYARD_GATEWAY_*` (infrastructure from `JOBYARD_*`, object
    storage from `JOBYARD_S3_*`, file limits from `JOBYARD_FILES_*`, webhook destinations from
    `JOBYARD_WEBHOOKS_*`)."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_GATEWAY_", extra="ignore")

    infra: InfraSettings = Field(default_factory=InfraSettings)
    limits: JobLimits = Field(default_factory=JobLimits)
    objects: ObjectSettings = Field(default_factory=ObjectSettings)
    files: FileLimits = Field(default_factory=FileLimits)
    webhooks: DestinationPolicy = Field(default_factory=DestinationPolicy)
    live: LiveSettings = Field(default_factory=LiveSettings)
    upload_verify_wait_seconds: float = Field(
        default=30.0,
        ge=0,
        le=300,
        description="How long completing an upload waits for file-sync's check of its bytes "
        "before answering 202 (the client then polls `GET /v1/files/{id}`).",
    )
    admin_token: SecretStr | None = Field(
        default=None,
        description="Bearer token of `POST /v1/users` (creating users), at least "
        f"{ADMIN_TOKEN_MIN_CHARS} characters; unset or empty disables it.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTP API listens on.")
    port: int = Field(default=8080, description="Port the HTTP API listens on.")

    @field_validator("admin_token")
    @classmethod
    def _a_real_admin_token(cls, token: SecretStr | None) -> SecretStr | None:
        """Empty is unset (an empty token would let `Bearer ` with nothing create users);
        a short one is refused at start rather than guessed later."""
        if token is None or not token.get_secret_value().strip():
            return None
        if len(token.get_secret_value().strip()) < ADMIN_TOKEN_MIN_CHARS:
            raise ValueError(f"must be at least {ADMIN_TOKEN_MIN_CHARS} characters")
        return token
