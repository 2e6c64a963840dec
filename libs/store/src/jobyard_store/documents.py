"""The job document: the one aggregate every service reads and changes its own fields of.

Ownership: the gateway creates it and records requests (`*_requested_at`); the scheduler owns
`admitted_at`, `host` and the end of stopped or cancelled jobs; the agent owns `steps` and the
result fields; the sandbox-manager owns `sandbox` (the current step's run), `container` (the
job's one sandbox) and the pause/resume transitions it carries out; file-sync owns what
`files` says was saved (the sandbox-manager what it asks for). Every change goes through
`JobRepository.change`, which guards on `version` and appends the announcing events to `outbox`
in the same single-document write.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from jobyard_contracts import (
    FailureReason,
    ForkOrigin,
    JobKind,
    JobStatus,
    NetworkPolicy,
    PauseReason,
    Planner,
    Resources,
    Runtime,
    SandboxStart,
    StepSpec,
    StepStatus,
)
from jobyard_store.conversation import ChatMessage, PlannerState, Prompt, TodoItem


class SandboxState(StrEnum):
    REQUESTED = "requested"
    STARTING = "starting"
    RUNNING = "running"
    EXITED = "exited"


class StepState(BaseModel):
    model_config = ConfigDict(extra="ignore")

    index: int
    title: str
    script: str = ""
    ask: str = Field(default="", description="An explicit step's question to the owner.")
    choices: list[str] = Field(default_factory=list)
    command: str | None = Field(default=None, description="What the planner ran (LLM steps).")
    tool_call_id: str | None = Field(default=None, description="The planner's call it serves.")
    status: StepStatus = StepStatus.PENDING
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    reason: FailureReason | None = None
    message: str = ""
    stderr_tail: str = ""
    output_tail: str = ""

    @classmethod
    def planned(cls, spec: StepSpec) -> StepState:
        """An explicit step as submitted, not run yet."""
        return cls(
            index=spec.index,
            title=spec.title,
            script=spec.script,
            ask=spec.ask,
            choices=list(spec.choices),
        )


class SandboxRun(BaseModel):
    """The step process currently running in the job's sandbox, as the sandbox-manager knows it."""

    model_config = ConfigDict(extra="ignore")

    step_index: int
    state: SandboxState = SandboxState.REQUESTED
    host: str | None = None
    container: str | None = None
    requested_at: datetime | None = Field(
        default=None, description="When the host took the step's command (control-plane time)."
    )
    started_at: datetime | None = None
    paused_seconds_at_start: float = Field(
        default=0.0, description="The job's paused seconds when the step started (timeouts)."
    )
    oom_kills_at_start: int = Field(default=0, description="Sandbox OOM kills before the step.")
    pids_hits_at_start: int = Field(default=0, description="Refused forks before the step.")
    exit_code: int | None = None
    reason: FailureReason | None = None
    message: str = ""
    stderr_tail: str = ""
    output_tail: str = ""


class ContainerState(StrEnum):
    CREATING = "creating"
    UP = "up"
    HIBERNATED = "hibernated"
    RELEASED = "released"


class SandboxContainer(BaseModel):
    """The job's one sandbox: a container living from its first step to the job's end."""

    model_config = ConfigDict(extra="ignore")

    host: str
    name: str
    generation: int = Field(default=1, description="Bumped when re-created after hibernation.")
    runtime: Runtime = Runtime.RUNC
    state: ContainerState = ContainerState.CREATING
    log_base_seq: int = Field(
        default=0, description="Log lines stored before this generation: its lines follow them."
    )
    created_at: datetime | None = None
    start: SandboxStart | None = Field(
        default=None, description="Warm (claimed from the host's pool) or cold; set once up."
    )
    frozen_at: datetime | None = Field(default=None, description="Set while docker-paused.")
    cleaned: bool = Field(default=False, description="Released and its container removed.")


class PauseInfo(BaseModel):
    """Who paused the job, why, and when."""

    by: str
    reason: PauseReason
    message: str = ""
    at: datetime


class Session(BaseModel):
    """The current execution session; its running time is limited (paused time excluded)."""

    number: int = 1
    started_at: datetime
    paused_seconds_at_start: float = 0.0


class SshEndpoint(BaseModel):
    """Where a persistent job's SSH server listens (set by the sandbox-manager)."""

    host: str
    port: int
    username: str


INPUTS_FOLDER = "inputs"
"""Under /workspace: the job's input files, copied there before its first step."""


class JobInput(BaseModel):
    """An uploaded file the job finds under /workspace/inputs/ before its first step (or, for a
    fork, a file of the original restored where it was)."""

    file_id: str
    name: str
    size: int
    sha256: str
    object_key: str
    path: str | None = Field(default=None, description="Under /workspace; inputs/<name> if unset.")

    @property
    def workspace_path(self) -> str:
        return self.path or f"{INPUTS_FOLDER}/{self.name}"


DEFAULT_OUTPUT_EXCLUDES = (
    "**/__pycache__/**",
    "**/*.pyc",
    "**/.cache/**",
    "**/.git/**",
    "**/.ipynb_checkpoints/**",
    "**/node_modules/**",
)
"""Caches and tool internals are never outputs (the job may exclude more)."""


class OutputRules(BaseModel):
    """Which files under /workspace are outputs: created or changed during the job, matching
    `include`, matching neither `exclude` nor the default caches, and not an input as copied."""

    include: list[str] = Field(default_factory=lambda: ["**"])
    exclude: list[str] = Field(default_factory=list)


class OutputsProgress(BaseModel):
    """How far the job's outputs are saved. The sandbox-manager asks at each step's end and at
    the job's end (`requested_step`, `final_requested`), file-sync answers once everything the
    workspace held then is stored or rejected; a step's end (and so the job's) waits for it."""

    requested_step: int = -1
    synced_step: int = -1
    final_requested: bool = False
    final_synced: bool = False
    files: int = Field(default=0, description="Files of the job stored.")
    bytes: int = Field(default=0, description="Their total size (latest versions).")

    def synced(self, step: int) -> bool:
        return self.synced_step >= step


class JobDocument(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(alias="_id")
    user_id: str
    name: str
    kind: JobKind = JobKind.SCRIPT
    image: str
    resources: Resources
    env: dict[str, str] = Field(default_factory=dict)
    stateful: bool = False
    persistent: bool = False
    ipv6_lease: str | None = None
    network: NetworkPolicy = NetworkPolicy.NONE
    ssh_public_key: str | None = None
    ssh: SshEndpoint | None = None
    status: JobStatus = JobStatus.PENDING
    status_detail: str = Field(default="", description="What the status means right now.")
    steps: list[StepState]
    created_at: datetime
    admitted_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    exit_code: int | None = None
    reason: FailureReason | None = None
    message: str = ""
    stderr_tail: str = ""
    host: str | None = Field(default=None, description="Docker host the scheduler placed it on.")
    sandbox: SandboxRun | None = None
    container: SandboxContainer | None = None
    pause: PauseInfo | None = None
    paused_seconds: float = Field(default=0.0, description="Total time spent paused so far.")
    session: Session | None = None
    stop_requested_at: datetime | None = None
    pause_requested_at: datetime | None = None
    resume_requested_at: datetime | None = Field(
        default=None, description="Set while a resume waits for a free concurrency slot."
    )
    resume_granted_at: datetime | None = Field(
        default=None, description="Set by the scheduler when it holds a slot for the resume."
    )
    release_requested_at: datetime | None = None
    deleted_at: datetime | None = Field(
        default=None, description="Set when a user deletes the job: from then on it is a 404."
    )
    deletion_announced: bool = False
    instruction: str = Field(default="", description="What an agent job is asked to do.")
    chat_id: str | None = None
    planner: Planner | None = Field(default=None, description="Set for agent jobs.")
    todo: list[TodoItem] = Field(default_factory=list, description="An LLM planner's plan.")
    messages: list[ChatMessage] = Field(default_factory=list)
    prompt: Prompt | None = Field(default=None, description="The question the job waits on.")
    planner_state: PlannerState | None = None
    summary: str = Field(default="", description="The agent's closing summary.")
    inputs: list[JobInput] = Field(default_factory=list)
    outputs: OutputRules = Field(default_factory=OutputRules)
    files: OutputsProgress = Field(default_factory=OutputsProgress)
    forked_from: ForkOrigin | None = None
    correlation_id: str
    version: int = 0
    sequence: int = Field(default=0, description="Sequence number of the job's last event.")

    @property
    def files_complete(self) -> bool:
        """Ended, and every output stored or rejected: the final sync is done, or there is
        nothing to sync (the job never had a sandbox)."""
        return self.status.is_terminal and (self.container is None or self.files.final_synced)

    def paused_seconds_now(self, now: datetime) -> float:
        """Paused time so far, the ongoing pause included."""
        ongoing = (now - self.pause.at).total_seconds() if self.pause else 0.0
        return self.paused_seconds + max(ongoing, 0.0)

    def session_used_seconds(self, now: datetime) -> float:
        """Running time of the current session so far (paused time excluded)."""
        if self.session is None:
            return 0.0
        paused = self.paused_seconds_now(now) - self.session.paused_seconds_at_start
        end = self.finished_at or now
        return max((end - self.session.started_at).total_seconds() - paused, 0.0)

    def pending_prompt(self) -> Prompt | None:
        """The question the job waits on, while it waits for its owner's answer."""
        return self.prompt if self.status is JobStatus.WAITING_FOR_INPUT else None

    def with_message(
        self, role: Literal["user", "agent"], text: str, at: datetime, reply_to: str | None = None
    ) -> tuple[JobDocument, ChatMessage]:
        """A copy of the job with a message appended (ids count up within the job)."""
        message = ChatMessage(
            id=f"msg-{len(self.messages) + 1}", role=role, text=text, at=at, reply_to=reply_to
        )
        return self.model_copy(update={"messages": [*self.messages, message]}), message

    def step(self, index: int) -> StepState:
        return self.steps[index]

    def with_step(self, index: int, **changes: object) -> JobDocument:
        """A copy of the job whose step `index` has `changes` applied."""
        steps = list(self.steps)
        steps[index] = steps[index].model_copy(update=changes)
        return self.model_copy(update={"steps": steps})
