"""What the API shows of a job: no secrets (env values), everything a job panel needs."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import BaseModel

from jobyard_contracts import FailureReason, JobKind, JobStatus, NetworkPolicy, StepStatus
from jobyard_store import JobDocument, LogLine, SshEndpoint


class StepView(BaseModel):
    index: int
    title: str
    status: StepStatus
    started_at: datetime | None
    finished_at: datetime | None
    exit_code: int | None
    reason: FailureReason | None


class Progress(BaseModel):
    completed_steps: int
    total_steps: int


class JobView(BaseModel):
    id: str
    name: str
    kind: JobKind
    status: JobStatus
    image: str
    vcpus: int
    memory_mb: int
    timeout: int | None
    stateful: bool
    persistent: bool
    ipv6_lease: str | None
    network: NetworkPolicy
    env_keys: list[str]
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    duration_seconds: float | None
    exit_code: int | None
    reason: FailureReason | None
    stderr_tail: str
    progress: Progress
    plan: list[StepView]

    @classmethod
    def of(cls, job: JobDocument) -> JobView:
        end = job.finished_at or (datetime.now(UTC) if job.started_at else None)
        return cls(
            id=job.id,
            name=job.name,
            kind=job.kind,
            status=job.status,
            image=job.image,
            vcpus=job.resources.vcpus,
            memory_mb=job.resources.memory_mb,
            timeout=job.resources.timeout_seconds,
            stateful=job.stateful,
            persistent=job.persistent,
            ipv6_lease=job.ipv6_lease,
            network=job.network,
            env_keys=sorted(job.env),
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            duration_seconds=(end - job.started_at).total_seconds()
            if end and job.started_at
            else None,
            exit_code=job.exit_code,
            reason=job.reason,
            stderr_tail=job.stderr_tail,
            progress=Progress(
                completed_steps=sum(s.status is StepStatus.COMPLETED for s in job.steps),
                total_steps=len(job.steps),
            ),
            plan=[StepView.model_validate(s, from_attributes=True) for s in job.steps],
        )


class LogsView(BaseModel):
    job_id: str
    lines: list[LogLine]
    last_seq: int
    text: str
    """stdout and stderr interleaved, one line each, as the SDK's `get_logs` returns them."""

    @classmethod
    def of(cls, job_id: str, lines: list[LogLine], after_seq: int = 0) -> LogsView:
        return cls(
            job_id=job_id,
            lines=lines,
            last_seq=lines[-1].seq if lines else after_seq,
            text="".join(f"{line.text}\n" for line in lines),
        )


class JobList(BaseModel):
    jobs: list[JobView]
    limit: int
    offset: int


class SshView(BaseModel):
    """How to log in to a persistent job."""

    host: str
    port: int
    username: str
    command: str

    @classmethod
    def of(cls, endpoint: SshEndpoint) -> SshView:
        return cls(
            host=endpoint.host,
            port=endpoint.port,
            username=endpoint.username,
            command=f"ssh -p {endpoint.port} {endpoint.username}@{endpoint.host}",
        )
