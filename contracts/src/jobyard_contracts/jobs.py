"""Value types shared by job events, the job document and the HTTP API."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class JobStatus(StrEnum):
    """What a user sees. Terminal statuses never change again."""

    PENDING = "pending"
    PLANNING = "planning"
    RUNNING = "running"
    WAITING_FOR_INPUT = "waiting_for_input"
    COMPLETED = "completed"
    FAILED = "failed"
    STOPPED = "stopped"
    PAUSED = "paused"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (
            JobStatus.COMPLETED,
            JobStatus.FAILED,
            JobStatus.STOPPED,
            JobStatus.CANCELLED,
        )


ACTIVE_STATUSES: tuple[JobStatus, ...] = tuple(s for s in JobStatus if not s.is_terminal)
"""Statuses of a job that holds (or waits for) a sandbox."""


class StepStatus(StrEnum):
    """Progress of one step of a job's plan."""

    PENDING = "pending"
    DISPATCHED = "dispatched"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"


class JobKind(StrEnum):
    SCRIPT = "script"
    AGENT = "agent"


class Planner(StrEnum):
    """Who makes an agent job's plan: the user's explicit `steps`, or a language model."""

    STEPS = "steps"
    LLM = "llm"


class FailureReason(StrEnum):
    """Why a step or job did not complete (or, for `session limit`, why it paused)."""

    EXIT_CODE = "non-zero exit code"
    TIMEOUT = "timeout"
    OUT_OF_MEMORY = "out of memory"
    PROCESS_LIMIT = "process limit reached"
    DISK_LIMIT = "disk limit reached"
    SANDBOX_ERROR = "sandbox error"
    STOPPED = "stopped by user"
    CANCELLED = "cancelled by user"
    SESSION_LIMIT = "session limit"
    BUDGET_EXHAUSTED = "budget exhausted"
    PLANNER_ERROR = "planner error"


class PauseReason(StrEnum):
    """Why a job is paused."""

    USER = "paused by user"
    SESSION_LIMIT = "session limit"
    INPUT = "waiting for input"


class Runtime(StrEnum):
    """The OCI runtime a sandbox runs under: gVisor where the host has it, runc otherwise."""

    RUNC = "runc"
    GVISOR = "runsc"


class SandboxStart(StrEnum):
    """How a job's sandbox came to be: `warm`, a sandbox its host had started in advance and
    handed to this job alone; `cold`, created for the job when its first step came."""

    WARM = "warm"
    COLD = "cold"


class NetworkPolicy(StrEnum):
    """What a sandbox may reach. `none` (the default): nothing, not even other sandboxes."""

    NONE = "none"
    INTERNET = "internet"


class Resources(BaseModel):
    """Limits a sandbox is created with."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    vcpus: int = Field(ge=1, description="CPU cores the sandbox may use.")
    memory_mb: int = Field(ge=16, description="Memory limit in MiB (no swap beyond it).")
    timeout_seconds: int | None = Field(
        default=None, ge=1, description="Wall-clock limit of one step; none means unlimited."
    )
    disk_mb: int | None = Field(
        default=None, ge=16, description="Size of the job's disk (/workspace, home, /tmp) in MiB."
    )
    session_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Execution budget of one session; the job pauses when it is used up.",
    )


class StepSpec(BaseModel):
    """One step of a plan: a script to run, a question to ask, or (for the LLM planner) an
    instruction to work out. A script job is a one-step plan."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    index: int = Field(ge=0, description="Position in the plan, from 0.")
    title: str = Field(description="Short human title shown in the plan.")
    script: str = Field(default="", description="Bash script run as the step's process.")
    instruction: str = Field(default="", description="What the planner should do in this step.")
    ask: str = Field(default="", description="A question the job asks its owner at this step.")
    choices: tuple[str, ...] = Field(default=(), description="Suggested answers to `ask`.")
