"""Connection settings every service shares; each service nests one in its own settings object."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_contracts import WireNames


class InfraSettings(BaseSettings):
    """Where the shared infrastructure is. Read from `JOBYARD_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_", extra="ignore")

    namespace: str = Field(
        default="jobyard",
        pattern=r"^[a-z][a-z0-9-]{0,40}$",
        description="Prefix of exchanges, queues, NATS subjects, the database and containers.",
    )
    rabbitmq_url: str = Field(
        default="amqp://guest:guest@127.0.0.1:5672/", description="AMQP URL of RabbitMQ."
    )
    mongodb_url: str = Field(
        default="mongodb://127.0.0.1:27017/?directConnection=true",
        validation_alias=AliasChoices("JOBYARD_MONGODB_URL", "MONGODB_URL"),
        description="MongoDB URL (a replica set in production; the stand-in in tests).",
    )
    mongodb_database: str | None = Field(
        default=None, description="Database name; defaults to the namespace."
    )
    nats_url: str = Field(default="nats://127.0.0.1:4222", description="NATS server URL.")
    log_level: str = Field(default="INFO", description="Minimum level of structured logs.")
    log_format: str = Field(default="json", pattern="^(json|console)$")

    @property
    def names(self) -> WireNames:
        return WireNames(self.namespace)

    @property
    def database(self) -> str:
        return self.mongodb_database or self.namespace


__all__ = ["InfraSettings"]
