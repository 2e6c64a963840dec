"""A gateway faked in memory (httpx.MockTransport): job views in the API's shape, served one
GET at a time, and the requests it received; with its file routes, it also plays the object
storage presigned links point to (host `storage`). No network."""

from __future__ import annotations

import hashlib
import json
import math
import re
from typing import Any

import httpx
import pytest

from jobyard.agent_jobs import AgentJobs
from jobyard.client import AsyncJobs, Jobs, Jobyard
from jobyard.files import AsyncFiles, Files

JOB_ID = "job-1"
FILE_ID = "file-1"
STORAGE = "http://storage/files"


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


def file_view(**fields: Any) -> dict[str, Any]:
    """A file's view; `fields` replace the defaults."""
    return {
        "id": FILE_ID,
        "job_id": None,
        "job_name": None,
        "path": "inputs/data.csv",
        "name": "data.csv",
        "size": 0,
        "sha256": hashlib.sha256(b"").hexdigest(),
        "content_type": "text/csv",
        "kind": "input",
        "status": "ready",
        "reason": None,
        "step_index": None,
        "version": 1,
        "generated_by": None,
        "created_at": "2025-01-01T00:00:00Z",
        "updated_at": "2025-01-01T00:00:00Z",
    } | fields


def form_fields(request: httpx.Request) -> list[tuple[str, bytes]]:
    """The fields of a multipart/form-data body, in the order sent."""
    boundary = request.headers["content-type"].partition("boundary=")[2].encode()
    fields = []
    for chunk in request.content.split(b"--" + boundary)[1:-1]:
        head, _, value = chunk.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        assert name is not None
        fields.append((name.group(1).decode(), value.removesuffix(b"\r\n")))
    return fields


class FakeFiles:
    """The gateway's file routes and the storage behind them. An upload of up to `part_size`
    bytes goes by form POST, a larger one in parts; `complete` checks the SHA-256 of what
    storage received, then answers ready, or `verifying` for `verifying_polls` GETs."""

    def __init__(self) -> None:
        self.part_size = 1024
        self.quota = 1_000_000
        self.verifying_polls = 0
        self.reject_with: str | None = None
        self.corrupt = False
        self.link_expired = False
        self.view = file_view()
        self.stored = b""
        self.created: list[dict[str, Any]] = []
        self.forms: list[list[tuple[str, bytes]]] = []
        self.puts: dict[int, bytes] = {}
        self.completed: list[dict[str, Any]] = []
        self.polls = 0
        self.gets: list[dict[str, str]] = []
        self.listed: list[tuple[str, dict[str, str]]] = []
        self.deleted: list[str] = []
        self.storage_headers: list[httpx.Headers] = []

    def serve(self, data: bytes, **fields: Any) -> None:
        """A ready file holding `data`."""
        self.stored = data
        sha256 = hashlib.sha256(data).hexdigest()
        self.view = file_view(size=len(data), sha256=sha256, status="ready") | fields

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "storage":
            self.storage_headers.append(request.headers)
            return self.storage(request)
        method, path = request.method, request.url.path
        if method == "POST" and path == "/v1/files":
            return self.start(json.loads(request.content))
        if method == "POST" and path == f"/v1/files/{FILE_ID}/complete":
            return self.complete(json.loads(request.content))
        if method == "GET" and path == f"/v1/files/{FILE_ID}":
            self.gets.append(dict(request.url.params))
            return httpx.Response(200, json=self.polled())
        if method == "GET" and path in ("/v1/files", f"/v1/jobs/{JOB_ID}/files"):
            self.listed.append((path, dict(request.url.params)))
            return httpx.Response(200, json={"files": [self.view]})
        if method == "DELETE" and path == f"/v1/files/{FILE_ID}":
            self.deleted.append(FILE_ID)
            return httpx.Response(204)
        return httpx.Response(404, json={"detail": f"no route {path}"})

    def start(self, body: dict[str, Any]) -> httpx.Response:
        self.created.append(body)
        if body["size"] > self.quota:
            return httpx.Response(413, json={"detail": "storage quota exceeded"})
        self.view = file_view(
            name=body["name"],
            path=f"inputs/{body['name']}",
            size=body["size"],
            sha256=body["sha256"],
            content_type=body.get("content_type"),
            status="uploading",
        )
        expires = "2025-01-01T01:00:00Z"
        if body["size"] <= self.part_size:
            fields = {"key": f"uploads/{FILE_ID}", "policy": "cG9saWN5", "x-amz-signature": "s"}
            upload = {"method": "post", "url": STORAGE, "fields": fields, "expires_at": expires}
        else:
            count = math.ceil(body["size"] / self.part_size)
            parts = [
                {"number": n, "url": f"{STORAGE}/uploads/{FILE_ID}?partNumber={n}&uploadId=u"}
                for n in range(1, count + 1)
            ]
            upload = {"method": "multipart", "part_size": self.part_size, "parts": parts}
            upload["expires_at"] = expires
        return httpx.Response(201, json={"file": self.view, "upload": upload})

    def complete(self, body: dict[str, Any]) -> httpx.Response:
        self.completed.append(body)
        etags = {part["number"]: part["etag"] for part in body["parts"]}
        assert etags == {n: f'"etag-{n}"' for n in self.puts}, "an ETag storage never gave"
        if self.puts:
            self.stored = b"".join(self.puts[n] for n in sorted(self.puts))
        if hashlib.sha256(self.stored).hexdigest() != self.view["sha256"]:
            self.reject_with = "the SHA-256 of the stored bytes differs"
        if self.reject_with and not self.verifying_polls:
            return httpx.Response(422, json={"detail": self.reject_with})
        status = "verifying" if self.verifying_polls else "ready"
        self.view |= {"status": status}
        return httpx.Response(202 if self.verifying_polls else 200, json=self.view)

    def polled(self) -> dict[str, Any]:
        self.polls += 1
        if self.view["status"] == "verifying" and self.polls > self.verifying_polls:
            settled = {"status": "rejected", "reason": self.reject_with}
            self.view |= settled if self.reject_with else {"status": "ready"}
        if self.view["status"] != "ready":
            return self.view
        link = f"{STORAGE}/uploads/{FILE_ID}?X-Amz-Signature=s"
        return self.view | {"download_url": link, "url_expires_at": "2025-01-01T00:15:00Z"}

    def storage(self, request: httpx.Request) -> httpx.Response:
        if self.link_expired:
            refusal = "<Error><Code>AccessDenied</Code><Message>Request has expired</Message>"
            return httpx.Response(403, text=refusal + "</Error>")
        if request.method == "POST":
            assert "content-length" in request.headers, "S3 refuses a chunked form"
            self.forms.append(form_fields(request))
            self.stored = self.forms[-1][-1][1]
            return httpx.Response(204)
        if request.method == "PUT":
            number = int(request.url.params["partNumber"])
            self.puts[number] = request.content
            return httpx.Response(200, headers={"ETag": f'"etag-{number}"'})
        data = self.stored
        if self.corrupt:
            data = bytes([data[0] ^ 1]) + data[1:]
        return httpx.Response(200, content=data)


class FakeGateway:
    """Serves `views` to GET /v1/jobs/{id} in order (the last one forever) and records the
    other requests; file routes and storage go to `files`."""

    def __init__(self) -> None:
        self.views: list[dict[str, Any]] = [view()]
        self.gets = 0
        self.requests: list[tuple[str, str, Any]] = []
        self.listed: list[dict[str, str]] = []
        self.files = FakeFiles()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.url.host == "storage" or path.startswith("/v1/files") or path.endswith("/files"):
            return self.files(request)
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
def files(gateway: FakeGateway, jobs: Jobs) -> Files:
    return Files(jobs._send, httpx.Client(transport=httpx.MockTransport(gateway)))


@pytest.fixture
def async_files(gateway: FakeGateway, async_jobs: AsyncJobs) -> AsyncFiles:
    storage = httpx.AsyncClient(transport=httpx.MockTransport(gateway))
    return AsyncFiles(async_jobs._send, storage)


@pytest.fixture
def sdk_client(jobs: Jobs, files: Files) -> Jobyard:
    """A `Jobyard` talking to the fake gateway, as the CLI's `client()` would return it."""
    client = Jobyard(api_key="jy_test", base_url="http://gateway")
    client.jobs = jobs
    client.agent_jobs = AgentJobs(jobs)
    client.files = files
    return client


class Api:
    """The API's JSON, for tests: `api.job(status=...)`, `api.step(0, "running")`."""

    job = staticmethod(view)
    step = staticmethod(step)
    file = staticmethod(file_view)
    job_id = JOB_ID
    file_id = FILE_ID


@pytest.fixture
def api() -> type[Api]:
    return Api
