from __future__ import annotations

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from jobyard_agent.domain.planning import Budgets
from jobyard_settings import InfraSettings


class PlannerSettings(BaseSettings):
    """The LLM planner's model and budgets, from `JOBYARD_LLM_*`. Without a base URL, only
    agent jobs with explicit script steps can run (the others fail with a clear reason)."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_LLM_", extra="ignore")

    base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible API root, e.g. https://api.openai.com/v1, "
        "http://localhost:8000/v1 (vLLM) or http://localhost:11434/v1 (Ollama).",
    )
    model: str = Field(default="gpt-4o-mini", description="Model name sent with each call.")
    api_key: SecretStr | None = Field(default=None, description="Bearer key; never logged.")
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    timeout_seconds: float = Field(default=120.0, gt=0, description="Per model call.")
    attempts: int = Field(default=5, ge=1, description="Tries of one decision before failing.")
    backoff_seconds: float = Field(default=2.0, gt=0, description="First retry delay (doubles).")
    backoff_max_seconds: float = Field(default=60.0, gt=0)
    max_model_calls: int = Field(default=60, ge=1, description="Budget: model calls per job.")
    max_tokens: int = Field(default=500_000, ge=1, description="Budget: tokens per job.")
    max_commands_per_step: int = Field(
        default=25, ge=1, description="Budget: sandbox commands per plan item."
    )

    @property
    def budgets(self) -> Budgets:
        return Budgets(
            model_calls=self.max_model_calls,
            tokens=self.max_tokens,
            commands_per_step=self.max_commands_per_step,
        )


class AgentSettings(BaseSettings):
    """Agent service settings, from `JOBYARD_AGENT_*` (infrastructure from `JOBYARD_*`)."""

    model_config = SettingsConfigDict(env_prefix="JOBYARD_AGENT_", extra="ignore")

    infra: InfraSettings = Field(default_factory=InfraSettings)
    planner: PlannerSettings = Field(default_factory=PlannerSettings)
    health_host: str = Field(default="127.0.0.1", description="Address of GET /healthz.")
    health_port: int = Field(default=8082, description="Port of GET /healthz.")
