"""What a job submission may contain and how it becomes a stored job. No I/O."""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobyard_contracts import JobKind, JobSubmitted, NetworkPolicy, Resources, StepSpec
from jobyard_gateway.settings import JobLimits
from jobyard_store import JobDocument, StepState

ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class StepRequest(BaseModel):
    """One step of an explicit plan."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="Shown in the plan.")
    script: str = Field(min_length=1, description="Bash script run as the step's process.")


class CreateJob(BaseModel):
    """Body of `POST /v1/jobs`. Unknown fields are rejected, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)

    name: str = Field(
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$",
        description="Name of the job: letters, digits, `.`, `_`, `-`.",
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

    def plan(self) -> list[StepSpec]:
        """The steps to run (empty when neither `script` nor `steps` was given: a 422)."""
        if self.steps is None:
            script = [] if self.script is None else [self.script]
            return [StepSpec(index=0, title="Run script", script=s) for s in script]
        return [
            StepSpec(index=i, title=step.title, script=step.script)
            for i, step in enumerate(self.steps)
        ]

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
    if request.script is None and request.steps is None:
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


def new_job_id() -> str:
    return f"job_{secrets.token_hex(10)}"


def plan_script_job(request: CreateJob, user_id: str) -> tuple[JobDocument, JobSubmitted]:
    """A script job is a one-step plan (or the steps given); the submission event describes
    it without secrets."""
    resources = Resources(
        vcpus=request.vcpus,
        memory_mb=request.memory_mb,
        timeout_seconds=request.timeout,
        disk_mb=request.disk_mb,
        session_seconds=request.session_seconds,
    )
    plan = request.plan()
    job = JobDocument(
        id=new_job_id(),
        user_id=user_id,
        name=request.name,
        kind=JobKind.SCRIPT,
        image=request.image,
        network=request.network,
        resources=resources,
        env=request.env,
        stateful=request.stateful,
        persistent=request.persistent,
        ipv6_lease=request.ipv6_lease,
        ssh_public_key=request.ssh_public_key,
        steps=[StepState(index=s.index, title=s.title, script=s.script) for s in plan],
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
    )
    return job, submitted
