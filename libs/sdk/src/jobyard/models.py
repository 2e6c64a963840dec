"""What the API returns, typed. Unknown fields from newer servers are kept, not rejected."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict

Status = Literal["pending", "running", "paused", "completed", "failed", "stopped", "cancelled"]
FINISHED: frozenset[str] = frozenset({"completed", "failed", "stopped", "cancelled"})


class _Model(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Step(_Model):
    index: int
    title: str
    status: str
    exit_code: int | None = None
    reason: str | None = None


class Progress(_Model):
    completed_steps: int
    total_steps: int


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
