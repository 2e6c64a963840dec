"""Which files a listing shows, which files a job may be given and which it keeps. No I/O."""

from __future__ import annotations

import re
from pathlib import PurePosixPath
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from jobyard_contracts import FileKind, FileStatus
from jobyard_store.documents import JobInput, OutputRules
from jobyard_store.files import LISTED, FileRecord

MAX_INPUTS = 100
MAX_PATTERNS = 50


def library_query(
    user_id: str, *, job_id: str | None, kind: FileKind | None, q: str | None
) -> dict[str, Any]:
    """The caller's files, narrowed to one job, one kind, or a name or path containing `q`
    in any case (escaped: `q` is text, not a pattern)."""
    query: dict[str, Any] = {"user_id": user_id} | LISTED
    if job_id is not None:
        query["job_id"] = job_id
    if kind is not None:
        query["kind"] = kind
    if q is not None:
        contains = {"$regex": re.escape(q), "$options": "i"}
        query["$or"] = [{"name": contains}, {"path": contains}]
    return query


def step_files_query(user_id: str, job_ids: list[str]) -> dict[str, Any]:
    """The ready files of these jobs: what their steps show."""
    return {"user_id": user_id, "job_id": {"$in": job_ids}, "status": FileStatus.READY} | LISTED


def job_inputs(
    file_ids: list[str], found: dict[str, FileRecord]
) -> tuple[list[JobInput], dict[str, str]]:
    """The inputs as the job keeps them, or a problem for each `inputs[i]` that is not one of
    the caller's ready uploads (`found`: theirs among the ids) or repeats a name (all land in
    the same folder)."""
    inputs: list[JobInput] = []
    problems: dict[str, str] = {}
    first_with_name: dict[str, int] = {}
    for i, file_id in enumerate(file_ids):
        field = f"inputs[{i}]"
        record = found.get(file_id)
        if record is None:
            problems[field] = f"no file {file_id}: give the id of one of your uploaded files"
            continue
        version = record.version
        if record.kind is not FileKind.INPUT:
            problems[field] = f"file {file_id} is a job's {record.kind}, not an uploaded file"
        elif record.status is not FileStatus.READY or version is None:
            problems[field] = f"file {file_id} is {record.status}; only ready uploads can be inputs"
        elif record.name in first_with_name:
            problems[field] = (
                f"inputs[{first_with_name[record.name]}] has the same name, {record.name!r}; "
                "the job finds its inputs by name in /workspace/inputs/"
            )
        else:
            first_with_name[record.name] = i
            inputs.append(
                JobInput(
                    file_id=record.id,
                    name=record.name,
                    size=version.size,
                    sha256=version.sha256,
                    object_key=version.object_key,
                )
            )
    return inputs, problems


GlobPattern = Annotated[str, Field(min_length=1, max_length=200)]


class OutputsRequest(BaseModel):
    """Which files under /workspace the job keeps as outputs: glob patterns relative to it
    (`**` any folders, `*` any name part). Caches such as `__pycache__` are never kept."""

    model_config = ConfigDict(extra="forbid")

    include: list[GlobPattern] = Field(
        default_factory=lambda: OutputRules().include,
        max_length=MAX_PATTERNS,
        description="Files kept: those matching one of these (default: every file).",
    )
    exclude: list[GlobPattern] = Field(
        default_factory=list,
        max_length=MAX_PATTERNS,
        description="Files not kept even though they match `include`.",
    )

    @field_validator("include", "exclude")
    @classmethod
    def _inside_workspace(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            if pattern.startswith("/"):
                raise ValueError(f"{pattern!r}: patterns are relative to /workspace")
            if ".." in PurePosixPath(pattern).parts:
                raise ValueError(f"{pattern!r}: `..` would leave /workspace")
            if "\0" in pattern:
                raise ValueError(f"{pattern!r}: no NUL character")
        return patterns

    def rules(self) -> OutputRules:
        return OutputRules(include=self.include, exclude=self.exclude)
