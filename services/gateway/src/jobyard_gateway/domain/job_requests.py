"""What a job submission may contain and how it becomes a stored job. No I/O."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobyard_contracts import JobKind, JobSubmitted, NetworkPolicy, Planner, Resources, StepSpec
from jobyard_gateway.domain.files import MAX_INPUTS, OutputsRequest
from jobyard_gateway.settings import JobLimits
from jobyard_store import JobDocument, StepState, TodoItem
from jobyard_store.documents import JobInput

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StepRequest(BaseModel):
    """One step of an explicit plan: exactly one of `script`, `instruction` (agent jobs with
    the LLM planner) or `ask` (agent jobs: a question to the owner, with optional `choices`)."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="Shown in the plan.")
    script: str | None = Field(
        default=None, min_length=1, description="Bash script run as the step's process."
    )
    instruction: str | None = Field(
        default=None, min_length=1, max_length=20_000, description="What the planner should do."
    )
    ask: str | None = Field(
        default=None, min_length=1, max_length=4000, description="A question to the owner."
    )
    choices: list[str] = Field(
        default_factory=list, max_length=20, description="Suggested answers to `ask`."
    )

    def problem(self) -> str | None:
        given = [f for f in ("script", "instruction", "ask") if getattr(self, f) is not None]
        if len(given) != 1:
            return "give exactly one of `script`, `instruction` or `ask`"
        if self.choices and self.ask is None:
            return "`choices` go with `ask`"
        return None


class CreateJob(BaseModel):
    """Body of `POST /v1/jobs`. Unknown fields are rejected, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    kind: JobKind = Field(
        default=JobKind.SCRIPT,
        description="`script` (runs `script` or `steps`) or `agent` (carries out `instruction`).",
    )
    name: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Name of the job: letters, digits, `.`, `_`, `-` (required for script jobs).",
    )
    instruction: str | None = Field(
        default=None,
        max_length=20_000,
        description="Agent jobs: what to do, in words. Without `steps` (or with `instruction` "
        "steps) the LLM planner makes and carries out the plan.",
    )
    chat_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$",
        description="Agent jobs: the chat it belongs to; a chat has one active job at a time.",
    )
    script: str | None = Field(
        default=None, min_length=1, description="Bash script run in the sandbox (one step)."
    )
    steps: list[StepRequest] | None = Field(
        default=None,
        min_length=1,
        max_length=100,
        description="An explicit plan instead of `script`: steps run in order in one sandbox.",
    )
    vcpus: int = Field(default=1, ge=1, description="CPU cores.")
    memory_mb: int = Field(default=512, ge=16, description="Memory limit in MiB.")
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment of the script (values are never logged)."
    )
    timeout: int | None = Field(
        default=None, ge=1, description="Seconds a step may run (paused time excluded)."
    )
    session_seconds: int | None = Field(
        default=None,
        ge=1,
        description="Execution budget of a session (default: the host's, 1 hour); when it is "
        "used up the job pauses with reason `session limit` and can be resumed.",
    )
    disk_mb: int | None = Field(
        default=None, ge=64, description="Disk of the job (workspace, home, /tmp), MiB."
    )
    stateful: bool = Field(
        default=False, description="Keep /workspace between runs of jobs with this name."
    )
    persistent: bool = Field(
        default=False, description="Keep the sandbox up, reachable by SSH, until stopped."
    )
    ipv6_lease: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,63}$",
        description="IPv6 lease identifier (or address), stored and handed to the sandbox.",
    )
    image: str = Field(
        default="base",
        pattern=r"^[a-z0-9][a-z0-9._-]{0,63}$",
        description="Sandbox image (see GET /v1/images); `base` has the scientific toolset.",
    )
    network: NetworkPolicy = Field(
        default=NetworkPolicy.NONE,
        description="`none` (default): no network at all; `internet`: may reach the network, "
        "e.g. to pip install.",
    )
    ssh_public_key: str | None = Field(
        default=None,
        pattern=r"^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$",
        max_length=8192,
        description="Public key allowed to log in to a persistent job (the SDK makes one).",
    )
    inputs: list[str] = Field(
        default_factory=list,
        max_length=MAX_INPUTS,
        description="Ids of your uploaded files (`POST /v1/files`), each ready; the job finds "
        "them as /workspace/inputs/<name> before its first step.",
    )
    outputs: OutputsRequest = Field(
        default_factory=OutputsRequest,
        description="Which files under /workspace are kept as outputs (default: all but caches).",
    )

    def plan(self) -> list[StepSpec]:
        """The steps given (empty when neither `script` nor `steps` was: a 422, or an agent job
        the LLM planner plans)."""
        if self.steps is None:
            script = [] if self.script is None else [self.script]
            return [StepSpec(index=0, title="Run script", script=s) for s in script]
        return [
            StepSpec(
                index=i,
                title=step.title,
                script=step.script or "",
                instruction=step.instruction or "",
                ask=step.ask or "",
                choices=tuple(step.choices),
            )
            for i, step in enumerate(self.steps)
        ]

    @property
    def planner(self) -> Planner | None:
        """Agent jobs: explicit script (and ask) steps need no model; anything else does."""
        if self.kind is not JobKind.AGENT:
            return None
        explicit = self.steps and all(step.instruction is None for step in self.steps)
        return Planner.STEPS if explicit else Planner.LLM

    @field_validator("env")
    @classmethod
    def _env_names(cls, env: dict[str, str]) -> dict[str, str]:
        bad = [name for name in env if not ENV_NAME.match(name)]
        if bad:
            raise ValueError(f"invalid environment variable names: {', '.join(sorted(bad))}")
        return env


def limit_violations(request: CreateJob, limits: JobLimits) -> dict[str, str]:
    """Field -> message for every configured maximum the request exceeds."""
    problems: dict[str, str] = {}
    if request.vcpus > limits.max_vcpus:
        problems["vcpus"] = f"must be at most {limits.max_vcpus}"
    if request.memory_mb > limits.max_memory_mb:
        problems["memory_mb"] = f"must be at most {limits.max_memory_mb}"
    if request.timeout is not None and request.timeout > limits.max_timeout_seconds:
        problems["timeout"] = f"must be at most {limits.max_timeout_seconds}"
    problems |= _kind_violations(request)
    for i, step in enumerate(request.steps or []):
        if (problem := step.problem()) is not None:
            problems[f"steps[{i}]"] = problem
    if request.kind is JobKind.SCRIPT and request.script is None and request.steps is None:
        problems["script"] = "required: a bash script (or `steps`, a list of them)"
    elif request.script is not None and request.steps is not None:
        problems["steps"] = "give either `script` or `steps`, not both"
    elif request.persistent and request.steps is not None:
        problems["steps"] = "a persistent job runs one `script` and then stays up for SSH"
    field = "script" if request.steps is None else "steps"
    if sum(len(step.script.encode()) for step in request.plan()) > limits.max_script_bytes:
        problems[field] = f"must be at most {limits.max_script_bytes} bytes of script"
    if request.session_seconds is not None and request.session_seconds > limits.max_session_seconds:
        problems["session_seconds"] = f"must be at most {limits.max_session_seconds}"
    if request.disk_mb is not None and request.disk_mb > limits.max_disk_mb:
        problems["disk_mb"] = f"must be at most {limits.max_disk_mb}"
    return problems


def _kind_violations(request: CreateJob) -> dict[str, str]:
    problems: dict[str, str] = {}
    if request.kind is JobKind.SCRIPT:
        if request.name is None:
            problems["name"] = "required: the job's name"
        for field in ("instruction", "chat_id"):
            if getattr(request, field) is not None:
                problems[field] = "only agent jobs (`kind: agent`) take it"
        if any(step.script is None for step in request.steps or []):
            problems["steps"] = "a script job's steps each need a `script`"
        return problems
    if request.instruction is None or not request.instruction.strip():
        problems["instruction"] = "required: what the agent should do, in words"
    if request.script is not None:
        problems["script"] = "agent jobs take `steps` (a list of them), not `script`"
    if request.persistent:
        problems["persistent"] = "agent jobs cannot be persistent"
    steps = request.steps or []
    if any(s.instruction is not None for s in steps) and any(s.instruction is None for s in steps):
        problems["steps"] = (
            "give either `instruction` steps (the planner works them out) or `script` and "
            "`ask` steps (run as given), not both"
        )
    return problems


def new_job_id() -> str:
    return f"job_{secrets.token_hex(10)}"


def plan_job(
    request: CreateJob, user_id: str, inputs: list[JobInput]
) -> tuple[JobDocument, JobSubmitted]:
    """A script job is a one-step plan (or the steps given); an agent job's plan is its steps,
    or the LLM planner's to make (its `instruction` steps as the outline). The submission event
    describes the job without secrets. `inputs`: the request's, as `job_inputs` found them."""
    resources = Resources(
        vcpus=request.vcpus,
        memory_mb=request.memory_mb,
        timeout_seconds=request.timeout,
        disk_mb=request.disk_mb,
        session_seconds=request.session_seconds,
    )
    plan = request.plan()
    planner = request.planner
    explicit = planner is not Planner.LLM
    job = JobDocument(
        id=new_job_id(),
        user_id=user_id,
        name=request.name or "agent",
        kind=request.kind,
        instruction=request.instruction or "",
        chat_id=request.chat_id,
        planner=planner,
        image=request.image,
        network=request.network,
        resources=resources,
        env=request.env,
        stateful=request.stateful,
        persistent=request.persistent,
        ipv6_lease=request.ipv6_lease,
        ssh_public_key=request.ssh_public_key,
        steps=[StepState.planned(s) for s in plan] if explicit else [],
        todo=[] if explicit else [TodoItem(title=s.title, instruction=s.instruction) for s in plan],
        inputs=inputs,
        outputs=request.outputs.rules(),
        created_at=datetime.now(UTC),
        correlation_id=str(uuid4()),
    )
    submitted = JobSubmitted(
        name=job.name,
        kind=job.kind,
        image=job.image,
        resources=resources,
        steps=tuple(plan),
        stateful=job.stateful,
        persistent=job.persistent,
        network=job.network,
        instruction=job.instruction,
        chat_id=job.chat_id,
        planner=planner,
    )
    return job, submitted
