"""Helpers for tests that drive jobs over HTTP."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx

from jobyard_testing.stack import Stack

TERMINAL = {"completed", "failed", "stopped", "cancelled"}


async def submit(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/jobs", json={"name": "test-job", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


def user_client(stack: Stack, prefix: str) -> httpx.AsyncClient:
    """An HTTP client of a new user of the stack (close it with `aclose`)."""
    key = stack.new_user(f"{prefix}-{time.monotonic_ns()}")
    return httpx.AsyncClient(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


async def wait_for_status(
    api: httpx.AsyncClient, job_id: str, statuses: set[str] | None = None, timeout: float = 90
) -> dict[str, Any]:
    """Poll until the job reaches one of `statuses` (default: any terminal status)."""
    wanted = statuses or TERMINAL
    return await wait_until_job(api, job_id, lambda job: job["status"] in wanted, timeout)


async def logs(api: httpx.AsyncClient, job_id: str, **params: Any) -> dict[str, Any]:
    response = await api.get(f"/v1/jobs/{job_id}/logs", params=params)
    response.raise_for_status()
    return dict(response.json())


async def start_agent(api: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    response = await api.post("/v1/jobs", json={"kind": "agent", **body})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def wait_until_job(
    api: httpx.AsyncClient,
    job_id: str,
    predicate: Callable[[dict[str, Any]], bool],
    timeout: float = 90,
) -> dict[str, Any]:
    """Poll until `predicate(job)` holds."""
    deadline = time.monotonic() + timeout
    job: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = await api.get(f"/v1/jobs/{job_id}")
        response.raise_for_status()
        job = response.json()
        if predicate(job):
            return job
        await asyncio.sleep(0.2)
    raise TimeoutError(f"job {job_id} still {job.get('status')} after {timeout}s: {job}")


async def wait_for_files(
    api: httpx.AsyncClient,
    job_id: str,
    predicate: Callable[[dict[str, dict[str, Any]]], bool],
    timeout: float = 90,
) -> dict[str, dict[str, Any]]:
    """Poll the job's files (by path) until `predicate` holds."""
    deadline = time.monotonic() + timeout
    files: dict[str, dict[str, Any]] = {}
    while time.monotonic() < deadline:
        response = await api.get(f"/v1/jobs/{job_id}/files")
        response.raise_for_status()
        files = {f["path"]: f for f in response.json()["files"]}
        if predicate(files):
            return files
        await asyncio.sleep(0.2)
    raise TimeoutError(f"files of {job_id} after {timeout}s: {sorted(files)}")
