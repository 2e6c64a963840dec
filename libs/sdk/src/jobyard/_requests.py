"""Requests and responses, without I/O: shared by the sync and async clients."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict, Unpack

import httpx

from jobyard.errors import BY_STATUS, JobyardError
from jobyard.steps import StepInput, step_body

DEFAULT_BASE_URL = "http://127.0.0.1:8080"


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)


def settings(api_key: str | None, base_url: str | None) -> tuple[str, str]:
    key = api_key or os.environ.get("JOBYARD_API_KEY")
    if not key:
        raise JobyardError("no API key: pass api_key=... or set JOBYARD_API_KEY")
    return key, resolve_base_url(base_url)


def resolve_base_url(base_url: str | None) -> str:
    url = base_url or os.environ.get("JOBYARD_BASE_URL") or DEFAULT_BASE_URL
    return url.rstrip("/")


class OutputPatterns(TypedDict, total=False):
    """Which files under /workspace a job keeps as outputs: glob patterns relative to it."""

    include: list[str]
    exclude: list[str]


def _job_files(inputs: Sequence[str] | None, outputs: OutputPatterns | None) -> dict[str, Any]:
    """The files given to a job and the outputs it keeps; None leaves them to the server."""
    return {
        "inputs": list(inputs) if inputs else None,
        "outputs": dict(outputs) if outputs else None,
    }


def create(
    name: str,
    script: str,
    *,
    vcpus: int,
    memory_mb: int,
    stateful: bool,
    persistent: bool,
    ipv6_lease: str | None,
    env: dict[str, str] | None,
    timeout: int | None,
    ssh_public_key: str | None,
    image: str,
    network: str,
    inputs: Sequence[str] | None,
    outputs: OutputPatterns | None,
) -> Call:
    body: dict[str, Any] = {
        "name": name,
        "script": script,
        "vcpus": vcpus,
        "memory_mb": memory_mb,
        "stateful": stateful,
        "persistent": persistent,
        "env": env or {},
        "image": image,
        "network": network,
    }
    optional = {
        "ipv6_lease": ipv6_lease,
        "timeout": timeout,
        "ssh_public_key": ssh_public_key,
    } | _job_files(inputs, outputs)
    body |= {k: v for k, v in optional.items() if v is not None}
    return Call("POST", "/v1/jobs", json=body)


class AgentJobOptions(TypedDict, total=False):
    """What an agent job may be started with besides its instruction and steps; `inputs` are
    ids of uploaded files, which the job finds under /workspace/inputs/."""

    chat_id: str | None
    name: str | None
    vcpus: int
    memory_mb: int
    image: str
    network: str
    env: dict[str, str] | None
    timeout: int | None
    session_seconds: int | None
    disk_mb: int | None
    inputs: Sequence[str] | None
    outputs: OutputPatterns | None


def start_agent(
    instruction: str,
    steps: Sequence[StepInput] | None = None,
    **options: Unpack[AgentJobOptions],
) -> Call:
    """`POST /v1/jobs` of an agent job; options left at None are left to the server."""
    body: dict[str, Any] = {
        "kind": "agent",
        "instruction": instruction,
        "vcpus": options.get("vcpus", 1),
        "memory_mb": options.get("memory_mb", 512),
        "image": options.get("image", "base"),
        "network": options.get("network", "none"),
        "env": options.get("env") or {},
    }
    optional = {
        "steps": [step_body(s) for s in steps] if steps else None,
        "chat_id": options.get("chat_id"),
        "name": options.get("name"),
        "timeout": options.get("timeout"),
        "session_seconds": options.get("session_seconds"),
        "disk_mb": options.get("disk_mb"),
    } | _job_files(options.get("inputs"), options.get("outputs"))
    body |= {k: v for k, v in optional.items() if v is not None}
    return Call("POST", "/v1/jobs", json=body)


def post_message(job_id: str, text: str, reply_to: str | None = None) -> Call:
    body = {"text": text} | ({"reply_to": reply_to} if reply_to is not None else {})
    return Call("POST", f"/v1/jobs/{job_id}/messages", json=body)


def messages(job_id: str) -> Call:
    return Call("GET", f"/v1/jobs/{job_id}/messages")


def logs(job_id: str, *, tail: int | None = None, after_seq: int | None = None) -> Call:
    params = {k: v for k, v in {"tail": tail, "after_seq": after_seq}.items() if v is not None}
    return Call("GET", f"/v1/jobs/{job_id}/logs", params=params)


def action(job_id: str, verb: str) -> Call:
    """stop, cancel, pause or resume a job."""
    return Call("POST", f"/v1/jobs/{job_id}/{verb}")


def fork(job_id: str, from_seq: int | None) -> Call:
    params = {} if from_seq is None else {"from_seq": from_seq}
    return Call("POST", f"/v1/jobs/{job_id}/fork", params=params)


def listing(
    status: str | None,
    name: str | None,
    limit: int,
    offset: int,
    kind: str | None = None,
    chat_id: str | None = None,
) -> Call:
    params: dict[str, Any] = {"limit": limit, "offset": offset}
    filters = {"status": status, "name": name, "kind": kind, "chat_id": chat_id}
    params |= {k: v for k, v in filters.items() if v is not None}
    return Call("GET", "/v1/jobs", params=params)


def file_listing(job_id: str | None, kind: str | None, q: str | None, limit: int) -> Call:
    filters = {"job_id": job_id, "kind": kind, "q": q}
    params = {"limit": limit} | {k: v for k, v in filters.items() if v is not None}
    return Call("GET", "/v1/files", params=params)


def get_file(file_id: str, expires_in: int | None = None) -> Call:
    """The file, with a download link valid `expires_in` seconds once it is ready."""
    params = {"expires_in": expires_in} if expires_in is not None else {}
    return Call("GET", f"/v1/files/{file_id}", params=params)


def start_upload(name: str, size: int, sha256: str, content_type: str | None) -> Call:
    body: dict[str, Any] = {"name": name, "size": size, "sha256": sha256}
    if content_type is not None:
        body["content_type"] = content_type
    return Call("POST", "/v1/files", json=body)


def complete_upload(file_id: str, etags: Iterable[tuple[int, str]]) -> Call:
    """The bytes are sent; `etags` are the parts' (number, ETag), none for a form POST."""
    parts = [{"number": number, "etag": etag} for number, etag in etags]
    return Call("POST", f"/v1/files/{file_id}/complete", json={"parts": parts})


def result(response: httpx.Response) -> Any:
    """The decoded body, or the matching exception with the server's message."""
    if response.status_code == 204:  # No Content (a deleted file)
        return None
    if response.is_success:
        return response.json()
    try:
        body: Any = response.json()
        message = str(body.get("detail", response.text))
    except ValueError:
        body, message = response.text, response.text or response.reason_phrase
    error = BY_STATUS.get(response.status_code, JobyardError)
    raise error(message, status_code=response.status_code, body=body)
