"""What the API returns, typed. Unknown fields from newer servers are kept, not rejected."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Status = Literal[
    "pending",
    "planning",
    "running",
    "waiting_for_input",
    "paused",
    "completed",
    "failed",
    "stopped",
    "cancelled",
]
FINISHED: frozenset[str] = frozenset({"completed", "failed", "stopped", "cancelled"})
Kind = Literal["script", "agent"]
FileKind = Literal["output", "input", "script", "log"]
FileStatus = Literal["uploading", "verifying", "ready", "rejected"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class StepFile(_Model):
    """A file a step produced (or the script it ran)."""

    id: str
    path: str
    size: int
    kind: FileKind


class Step(_Model):
    """One item of a job's plan: pending, dispatched, running, completed or failed."""

    index: int
    title: str
    status: str
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    message: str = ""
    output_tail: str = ""
    files: list[StepFile] = []


class TimelineStep(Step):
    """A finished step of an agent job; `command` is what an LLM planner ran for it."""

    command: str | None = None


class Progress(_Model):
    current_step: int | None = None
    """Index (from 0) of the step under way, None when none is."""
    completed_steps: int
    total_steps: int


class Prompt(_Model):
    """The question an agent job asks; while the job is `waiting_for_input`, any message
    answers it."""

    id: str
    question: str
    choices: list[str] = []
    asked_at: datetime
    answer_id: str | None = None
    """The message that answered it, where the server says so (the job goes on soon)."""


class Message(_Model):
    """One message of an agent job's conversation; `reply_to` is the prompt it answers."""

    id: str
    role: Literal["user", "agent"]
    text: str
    at: datetime
    reply_to: str | None = None


class JobInput(_Model):
    """A file given to a job: it finds it as /workspace/<path> (`inputs/<name>`, or where a
    fork's restored file was)."""

    file_id: str
    name: str
    size: int
    path: str = ""


class ForkOrigin(_Model):
    """The job and event a fork started from, and the steps it did not run again."""

    job_id: str
    sequence: int
    completed_steps: list[int] = []


class FileTotals(_Model):
    """How many files a job has stored so far, their total size, and whether that is all
    (`complete`: ended, every output stored or rejected)."""

    count: int = 0
    bytes: int = 0
    complete: bool = False


class Job(_Model):
    id: str
    name: str
    status: Status
    vcpus: int
    memory_mb: int
    created_at: datetime
    stateful: bool = False
    persistent: bool = False
    timeout: int | None = None
    ipv6_lease: str | None = None
    env_keys: list[str] = []
    started_at: datetime | None = None
    finished_at: datetime | None = None
    duration_seconds: float | None = None
    exit_code: int | None = None
    reason: str | None = None
    message: str = ""
    status_detail: str = ""
    stderr_tail: str = ""
    image: str | None = None
    network: str = "none"
    progress: Progress | None = None
    plan: list[Step] = []
    kind: Kind = "script"
    title: str = ""
    instruction: str = ""
    """What an agent job was asked to do ("" for script jobs)."""
    chat_id: str | None = None
    planner: Literal["steps", "llm"] | None = None
    """Who plans an agent job: its explicit `steps`, or a language model."""
    timeline: list[TimelineStep] = []
    prompt: Prompt | None = None
    """The job's latest question; it waits on it only while `waiting_for_input`."""
    messages: list[Message] = []
    """The last 20 messages; `agent_jobs.messages(id)` returns all of them."""
    summary: str = ""
    inputs: list[JobInput] = []
    files: FileTotals = FileTotals()
    forked_from: ForkOrigin | None = None

    @property
    def finished(self) -> bool:
        return self.status in FINISHED


class LogLine(_Model):
    seq: int
    step: int
    stream: Literal["stdout", "stderr"]
    text: str
    at: datetime


class Logs(_Model):
    job_id: str
    lines: list[LogLine]
    last_seq: int
    text: str


class SshInfo(_Model):
    host: str
    port: int
    username: str
    command: str
    """Ready to paste; includes `-i KEY` when the SDK made the key for this job."""


class Deleted(_Model):
    id: str
    deleted: bool


class User(_Model):
    id: str
    name: str
    api_key: str


class Image(_Model):
    name: str
    reference: str
    hosts: list[str]
    manifest: dict[str, object]


class GeneratedBy(_Model):
    """The job that produced a file."""

    kind: Kind
    job_id: str
    job_name: str


class File(_Model):
    """A stored file: a job's output, script or log, or an input the user uploaded."""

    id: str
    job_id: str | None = None
    job_name: str | None = None
    path: str
    """Relative to /workspace for outputs."""
    name: str
    size: int
    sha256: str | None = None
    """Known once the bytes are stored (an upload: as declared)."""
    content_type: str | None = None
    kind: FileKind
    status: FileStatus
    reason: str | None = None
    """Why it was rejected."""
    step_index: int | None = None
    version: int = 0
    """The latest stored version's number (0 until one is stored)."""
    generated_by: GeneratedBy | None = None
    created_at: datetime
    updated_at: datetime
    download_url: str | None = None
    """A presigned link, only in `files.get` and only once the file is ready."""
    url_expires_at: datetime | None = None


class PostUpload(_Model):
    """Send the file as one form POST: `fields` first, then the bytes as the field `file`."""

    method: Literal["post"]
    url: str
    fields: dict[str, str]
    expires_at: datetime


class UploadPart(_Model):
    number: int
    """From 1; part n holds bytes [(n - 1) * part_size, n * part_size)."""
    url: str


class MultipartUpload(_Model):
    """PUT each part's bytes to its URL, keeping the ETag storage answers with."""

    method: Literal["multipart"]
    part_size: int
    parts: list[UploadPart]
    expires_at: datetime


FileUpload = Annotated[PostUpload | MultipartUpload, Field(discriminator="method")]


class UploadStarted(_Model):
    """The answer to `POST /v1/files`: the new file, `uploading`, and where its bytes go."""

    file: File
    upload: FileUpload


class Webhook(_Model):
    """An endpoint deliveries of your jobs' events are POSTed to (Standard Webhooks)."""

    id: str
    url: str
    event_types: list[str]
    description: str = ""
    enabled: bool
    disabled_reason: str | None = None
    failing_since: datetime | None = None
    created_at: datetime
    updated_at: datetime
    secret: str | None = None
    """The signing secret: only in the answers of `create` and `rotate_secret`."""


class DeliveryAttempt(_Model):
    at: datetime
    status_code: int | None = None
    """None when no answer came (timeout, connection refused, destination refused)."""
    latency_ms: int
    error: str | None = None
    response: str = ""


class Delivery(_Model):
    """One event sent to one endpoint; `id` is the `webhook-id` of every attempt."""

    id: str
    event_type: str
    event_id: str
    job_id: str
    status: Literal["pending", "delivered", "failed"]
    attempts: list[DeliveryAttempt]
    next_attempt_at: datetime | None = None
    payload: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class Replay(_Model):
    since: datetime
    events: int
    """Events queued again (or for the first time) for the endpoint."""
    more: bool
    next_since: datetime | None = None


class Notification(_Model):
    """Something the app tells you: a job ended, asks for input or hit its session limit, or
    a webhook of yours was disabled."""

    id: str
    kind: str
    title: str
    message: str = ""
    job_id: str | None = None
    webhook_id: str | None = None
    created_at: datetime
    read: bool
    read_at: datetime | None = None
