"""Forking a job from one of its events: a new job of the same owner that starts where the
original was then (Temporal's reset, for jobs).

What the fork keeps: the steps done by that event (it runs the rest, a failed step again), and
the workspace as file-sync had saved it by then, restored in a fresh sandbox before the first
step it runs. What it does not keep: the original's conversation and a language model's turns
(a fork of an LLM-planned job plans again from the instruction and outline, in the restored
workspace), and a stateful workspace (the fork gets a workspace of its own, so the original's
name keeps its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import Any
from uuid import uuid4

from jobyard_contracts import (
    FileKind,
    FileReady,
    ForkOrigin,
    JobSubmitted,
    Planner,
    StepSpec,
    StepStatus,
    parse_envelope,
)
from jobyard_store.conversation import TodoItem
from jobyard_store.documents import JobDocument, JobInput, StepState
from jobyard_store.files import FileRepository
from jobyard_store.replay import fold


class ForkRefusedError(ValueError):
    """A fork the history does not allow; `field` names the request field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class SavedFile:
    """An output of the original, as file-sync had saved it by the fork's event."""

    file_id: str
    path: str
    version: int
    size: int
    sha256: str


def saved_files(history: Sequence[dict[str, Any]], up_to: int) -> list[SavedFile]:
    """The latest saved version of each output path by event `up_to`."""
    latest: dict[str, SavedFile] = {}
    for raw in history:
        if raw["sequence"] > up_to:
            break
        if raw["type"] != FileReady.TYPE:
            continue
        ready = parse_envelope(raw).payload
        assert isinstance(ready, FileReady)
        if ready.kind is FileKind.OUTPUT:
            latest[ready.path] = SavedFile(
                ready.file_id, ready.path, ready.version, ready.size, ready.sha256
            )
    return sorted(latest.values(), key=lambda f: f.path)


async def restored_files(
    files: FileRepository, user_id: str, history: Sequence[dict[str, Any]], up_to: int
) -> list[JobInput]:
    """The files to restore for a fork at `up_to`: each saved one's version of then, while
    storage still keeps it."""
    restored = []
    for item in saved_files(history, up_to):
        record = await files.get(item.file_id, user_id=user_id)
        versions = record.versions if record else []
        version = next((v for v in versions if v.number == item.version), None)
        if version is None:
            raise ForkRefusedError(
                "from_seq", f"{item.path} as it was then is no longer kept (deleted or replaced)"
            )
        restored.append(_restored_input(item, version.object_key))
    return restored


def _restored_input(saved: SavedFile, object_key: str) -> JobInput:
    path = PurePosixPath(saved.path)
    if path.is_absolute() or ".." in path.parts:
        raise ForkRefusedError("from_seq", f"cannot restore {saved.path!r}: not a workspace path")
    return JobInput(
        file_id=saved.file_id,
        name=path.name,
        size=saved.size,
        sha256=saved.sha256,
        object_key=object_key,
        path=saved.path,
    )


def fork_job(
    original: JobDocument,
    history: Sequence[dict[str, Any]],
    from_seq: int,
    restored: Sequence[JobInput],
) -> tuple[JobDocument, JobSubmitted]:
    """The fork of `original` at event `from_seq` of its `history` (every message kept of it),
    and the event announcing it; `restored`: its saved files, as `saved_files` found them."""
    last = history[-1]["sequence"] if history else 0
    if not 1 <= from_seq <= last:
        raise ForkRefusedError("from_seq", f"must be between 1 and {last}, the job's last event")
    submitted = parse_envelope(history[0]).payload
    assert isinstance(submitted, JobSubmitted)
    plan = submitted.steps
    explicit = original.planner is not Planner.LLM
    facts = fold(history, up_to=from_seq)
    done = tuple(
        i for i, step in enumerate(facts.steps) if explicit and step.status is StepStatus.COMPLETED
    )
    if explicit and len(done) == len(plan):
        raise ForkRefusedError(
            "from_seq", f"every step had finished by event {from_seq}: fork from an earlier one"
        )
    origin = ForkOrigin(job_id=original.id, sequence=from_seq, completed_steps=done)
    fork = original.model_copy(
        update={
            "id": f"job_{uuid4().hex[:20]}",
            "stateful": False,
            "chat_id": None,
            "ipv6_lease": None,
            "inputs": [*original.inputs, *restored],
            "forked_from": origin,
            "created_at": datetime.now(UTC),
            "correlation_id": str(uuid4()),
        }
    )
    announced = submitted.model_copy(
        update={"stateful": False, "chat_id": None, "forked_from": origin}
    )
    return _fresh(fork, plan, done), announced


def as_submitted(job: JobDocument, submitted: JobSubmitted) -> JobDocument:
    """The job as its submission stored it, before any service acted on it (what a replay of
    its history starts from); a fork with the steps its original had done."""
    done = submitted.forked_from.completed_steps if submitted.forked_from else ()
    return _fresh(job, submitted.steps, done).model_copy(update={"version": 1, "sequence": 1})


def _fresh(job: JobDocument, plan: Sequence[StepSpec], done: Sequence[int]) -> JobDocument:
    """`job` with nothing of a run: its plan to do (an LLM planner's as its to-do list), the
    steps in `done` kept with their results."""
    explicit = job.planner is not Planner.LLM
    planned = job.model_copy(
        update={
            "steps": [
                _kept(job, i) if i in done else StepState.planned(s) for i, s in enumerate(plan)
            ]
            if explicit
            else [],
            "todo": []
            if explicit
            else [TodoItem(title=s.title, instruction=s.instruction) for s in plan],
        }
    )
    return JobDocument.model_validate(_pristine(planned))


def _kept(job: JobDocument, index: int) -> StepState:
    """A step done by the fork's event: its result as the original recorded it (the history
    says it completed, whatever else the original did since)."""
    return job.steps[index].model_copy(update={"status": StepStatus.COMPLETED})


_RUN_FIELDS = set(JobDocument.model_fields) - {
    "id", "user_id", "name", "kind", "image", "resources", "env", "stateful", "persistent",
    "ipv6_lease", "network", "ssh_public_key", "steps", "created_at", "instruction", "chat_id",
    "planner", "todo", "inputs", "outputs", "forked_from", "correlation_id",
}  # fmt: skip
"""What a run of the original wrote (status, host, sandbox, results...): a fork starts without."""


def _pristine(fork: JobDocument) -> dict[str, Any]:
    return fork.model_dump(by_alias=True, exclude=_RUN_FIELDS)
