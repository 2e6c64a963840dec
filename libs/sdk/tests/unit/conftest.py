"""A gateway faked in memory (httpx.MockTransport): job views in the API's shape, served one
GET at a time, and the requests it received. No network."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from jobyard.agent_jobs import AgentJobs
from jobyard.client import AsyncJobs, Jobs, Jobyard

JOB_ID = "job-1"


def step(index: int, status: str, **fields: Any) -> dict[str, Any]:
    return {"index": index, "title": f"step {index}", "status": status} | fields


def view(**fields: Any) -> dict[str, Any]:
    """An agent job's view; `fields` replace the defaults."""
    return {
        "id": JOB_ID,
        "name": "agent-1",
        "kind": "agent",
        "title": "Tidy the data",
        "status": "running",
        "status_detail": "",
        "vcpus": 1,
        "memory_mb": 512,
        "created_at": "2025-01-01T00:00:00Z",
        "instruction": "tidy the data",
        "chat_id": None,
        "planner": "steps",
        "progress": {"current_step": 0, "completed_steps": 0, "total_steps": 2},
        "plan": [step(0, "running"), step(1, "pending")],
        "timeline": [],
        "prompt": None,
        "messages": [],
        "summary": "",
    } | fields


class FakeGateway:
    """Serves `views` to GET /v1/jobs/{id} in order (the last one forever) and records the
    other requests."""

    def __init__(self) -> None:
        self.views: list[dict[str, Any]] = [view()]
        self.gets = 0
        self.requests: list[tuple[str, str, Any]] = []
        self.listed: list[dict[str, str]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        body = json.loads(request.content) if request.content else None
        if request.method == "GET" and path == f"/v1/jobs/{JOB_ID}":
            current = self.views[min(self.gets, len(self.views) - 1)]
            self.gets += 1
            return httpx.Response(200, json=current)
        self.requests.append((request.method, path, body))
        if request.method == "POST" and path == f"/v1/jobs/{JOB_ID}/messages":
            message = {
                "id": "m-9",
                "role": "user",
                "text": body["text"],
                "at": "2025-01-01T00:01:00Z",
            }
            return httpx.Response(201, json=message | {"reply_to": body.get("reply_to")})
        if request.method == "POST" and path == "/v1/jobs":
            return httpx.Response(201, json=view(status="pending"))
        if request.method == "GET" and path == "/v1/jobs":
            self.listed.append(dict(request.url.params))
            return httpx.Response(200, json={"jobs": [view()], "limit": 50, "offset": 0})
        return httpx.Response(404, json={"detail": f"no route {path}"})


@pytest.fixture
def gateway() -> FakeGateway:
    return FakeGateway()


@pytest.fixture
def jobs(gateway: FakeGateway) -> Jobs:
    http = httpx.Client(base_url="http://gateway", transport=httpx.MockTransport(gateway))
    return Jobs(http)


@pytest.fixture
def async_jobs(gateway: FakeGateway) -> AsyncJobs:
    http = httpx.AsyncClient(base_url="http://gateway", transport=httpx.MockTransport(gateway))
    return AsyncJobs(http)


@pytest.fixture
def sdk_client(jobs: Jobs) -> Jobyard:
    """A `Jobyard` talking to the fake gateway, as the CLI's `client()` would return it."""
    client = Jobyard(api_key="jy_test", base_url="http://gateway")
    client.jobs = jobs
    client.agent_jobs = AgentJobs(jobs)
    return client


class Api:
    """The API's JSON, for tests: `api.job(status=...)`, `api.step(0, "running")`."""

    job = staticmethod(view)
    step = staticmethod(step)
    job_id = JOB_ID


@pytest.fixture
def api() -> type[Api]:
    return Api
