"""What the API shows of a job: no secrets (env values), everything a job panel needs."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime

from pydantic import BaseModel, Field

from jobyard_contracts import (
    FailureReason,
    FileKind,
    ForkOrigin,
    JobKind,
    JobStatus,
    NetworkPolicy,
    PauseReason,
    Planner,
    Runtime,
    SandboxStart,
    StepStatus,
)
from jobyard_store import ChatMessage, JobDocument, LogLine, Prompt, SshEndpoint, StepState
from jobyard_store.files import FileRecord

_UNDER_WAY = (StepStatus.DISPATCHED, StepStatus.RUNNING)


MESSAGES_SHOWN = 20


class StepFileView(BaseModel):
    """A file the step produced; `GET /v1/files/{id}` gives its download link."""

    id: str
    path: str
    size: int
    kind: FileKind


class StepView(BaseModel):
    """A step (or, for an LLM-planned job's plan, an item of its to-do list)."""

    index: int
    title: str
    status: StepStatus
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    exit_code: int | None = None
    reason: FailureReason | None = None
    message: str = ""
    output_tail: str = ""
    command: str | None = None
    """The command an LLM planner ran (timeline entries)."""
    ask: str | None = None
    """The question an explicit step asks its owner."""
    files: list[StepFileView] = []
    """The files it produced, by path."""

    @classmethod
    def of(cls, step: StepState, files: list[StepFileView]) -> StepView:
        return cls(
            index=step.index,
            title=step.title,
            status=step.status,
            command=step.command,
            ask=step.ask or None,
            started_at=step.started_at,
            finished_at=step.finished_at,
            duration_seconds=(step.finished_at - step.started_at).total_seconds()
            if step.finished_at and step.started_at
            else None,
            exit_code=step.exit_code,
            reason=step.reason,
            message=step.message,
            output_tail=step.output_tail,
            files=files,
        )


class Progress(BaseModel):
    current_step: int | None
    """Index of the step under way (or waiting to resume), None when none is."""
    completed_steps: int
    total_steps: int

    @classmethod
    def of(cls, job: JobDocument) -> Progress:
        if job.planner is Planner.LLM:
            done = sum(t.status is StepStatus.COMPLETED for t in job.todo)
            current = next(
                (i for i, t in enumerate(job.todo) if t.status is not StepStatus.COMPLETED), None
            )
            return cls(
                current_step=None if job.status.is_terminal else current,
                completed_steps=done,
                total_steps=len(job.todo),
            )
        under_way = [s.index for s in job.steps if s.status in _UNDER_WAY]
        if not under_way and job.status is JobStatus.PAUSED:
            under_way = [s.index for s in job.steps if s.status is StepStatus.PENDING][:1]
        return cls(
            current_step=under_way[0] if under_way else None,
            completed_steps=sum(s.status is StepStatus.COMPLETED for s in job.steps),
            total_steps=len(job.steps),
        )


class MessageView(BaseModel):
    id: str
    role: str
    text: str
    at: datetime
    reply_to: str | None

    @classmethod
    def of(cls, message: ChatMessage) -> MessageView:
        return cls.model_validate(message, from_attributes=True)


class MessageList(BaseModel):
    job_id: str
    messages: list[MessageView]


class PromptView(BaseModel):
    """The question the job waits on; answer it with a message."""

    id: str
    question: str
    choices: list[str]
    asked_at: datetime

    @classmethod
    def of(cls, prompt: Prompt) -> PromptView:
        return cls.model_validate(prompt, from_attributes=True)


class PauseView(BaseModel):
    by: str
    reason: PauseReason
    message: str
    at: datetime


class SandboxView(BaseModel):
    """Where and how the job's sandbox runs."""

    host: str
    runtime: Runtime
    state: str
    generation: int
    start: SandboxStart | None
    """`warm`: a sandbox its host had started in advance; `cold`: created for this job."""
    session: int | None
    session_used_seconds: float | None


class JobInputView(BaseModel):
    """A file given to the job: it finds it as /workspace/<path> before its first step."""

    file_id: str
    name: str
    size: int
    path: str = Field(description="`inputs/<name>`, or where a fork's restored file was.")


class JobFilesView(BaseModel):
    """The job's files stored so far."""

    count: int
    bytes: int
    complete: bool = Field(
        description="Every output of the job is stored or rejected, its script and log "
        "files too: nothing more will appear. A stopped or cancelled job ends first and its "
        "last files follow within seconds; wait for this before reading the list as final."
    )


class JobView(BaseModel):
    id: str
    name: str
    title: str
    """What the jobs page shows: the name of a script job, an agent job's instruction."""
    kind: JobKind
    instruction: str
    chat_id: str | None
    planner: Planner | None
    status: JobStatus
    status_detail: str
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
    message: str
    stderr_tail: str
    paused: PauseView | None
    sandbox: SandboxView | None
    progress: Progress
    plan: list[StepView]
    timeline: list[StepView]
    """Finished steps, in order, with their outputs."""
    prompt: PromptView | None
    messages: list[MessageView]
    """The last messages of the conversation (all: `GET /v1/jobs/{id}/messages`)."""
    summary: str
    inputs: list[JobInputView]
    files: JobFilesView
    forked_from: ForkOrigin | None = Field(
        default=None, description="The job and event this one was forked from."
    )

    @classmethod
    def of(cls, job: JobDocument, files: list[FileRecord]) -> JobView:
        """`files`: the job's ready files, by path (each step shows those it produced)."""
        now = datetime.now(UTC)
        by_step: defaultdict[int | None, list[StepFileView]] = defaultdict(list)
        for record in files:
            by_step[record.step_index].append(
                StepFileView(id=record.id, path=record.path, size=record.size, kind=record.kind)
            )
        end = job.finished_at or (now if job.started_at else None)
        container = job.container
        return cls(
            id=job.id,
            name=job.name,
            title=_title(job),
            kind=job.kind,
            instruction=job.instruction,
            chat_id=job.chat_id,
            planner=job.planner,
            status=job.status,
            status_detail=job.status_detail,
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
            message=job.message,
            stderr_tail=job.stderr_tail,
            paused=PauseView.model_validate(job.pause, from_attributes=True) if job.pause else None,
            sandbox=SandboxView(
                host=container.host,
                runtime=container.runtime,
                state=container.state,
                generation=container.generation,
                start=container.start,
                session=job.session.number if job.session else None,
                session_used_seconds=round(job.session_used_seconds(now), 3)
                if job.session
                else None,
            )
            if container
            else None,
            progress=Progress.of(job),
            plan=_plan(job, by_step),
            timeline=[
                StepView.of(s, by_step.get(s.index, []))
                for s in job.steps
                if s.finished_at is not None
            ],
            prompt=PromptView.of(job.prompt) if job.prompt else None,
            messages=[MessageView.of(m) for m in job.messages[-MESSAGES_SHOWN:]],
            summary=job.summary,
            inputs=[
                JobInputView(file_id=i.file_id, name=i.name, size=i.size, path=i.workspace_path)
                for i in job.inputs
            ],
            files=JobFilesView(
                count=job.files.files, bytes=job.files.bytes, complete=job.files_complete
            ),
            forked_from=job.forked_from,
        )


def _title(job: JobDocument) -> str:
    if job.kind is not JobKind.AGENT:
        return job.name
    first = job.instruction.strip().splitlines()[0] if job.instruction.strip() else job.name
    return first if len(first) <= 100 else first[:99] + "…"


def _plan(job: JobDocument, files: dict[int | None, list[StepFileView]]) -> list[StepView]:
    if job.planner is not Planner.LLM:
        return [StepView.of(s, files.get(s.index, [])) for s in job.steps]
    return [StepView(index=i, title=t.title, status=t.status) for i, t in enumerate(job.todo)]


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
