"""`Jobyard` and `AsyncJobyard`: the same surface, blocking and asyncio (`client.jobs`,
`client.agent_jobs` from `agent_jobs.py`, `client.files` from `files.py`, `client.webhooks` and
`client.notifications` from `webhooks.py`, `client.images`).

Both build their requests with `_requests` and parse answers with `_parse`, so they differ only
in how they send and sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

import httpx

from jobyard import _requests as rq
from jobyard import keys
from jobyard.agent_jobs import AgentJobs, AsyncAgentJobs
from jobyard.files import AsyncFiles, Files, listed_files
from jobyard.live import LiveEnd, LiveEvent, LiveLine, afollow_feed, follow_feed
from jobyard.models import Deleted, File, Image, Job, Logs, SshInfo, Status, User
from jobyard.webhooks import AsyncNotifications, AsyncWebhooks, Notifications, Webhooks

TIMEOUT = httpx.Timeout(60.0, connect=10.0)


def _ssh(body: dict[str, Any], job_id: str) -> SshInfo:
    command = keys.ssh_command(body["host"], body["port"], body["username"], job_id)
    return SshInfo.model_validate({**body, "command": command})


def _create_call(name: str, script: str, options: dict[str, Any]) -> tuple[rq.Call, bytes | None]:
    """The create request; for a persistent job without a key, also a new private key."""
    private_key = None
    if options.get("persistent") and not options.get("ssh_public_key"):
        private_key, options["ssh_public_key"] = keys.new_key_pair()
    return rq.create(name, script, **options), private_key


def _created(body: dict[str, Any], private_key: bytes | None) -> Job:
    job = Job.model_validate(body)
    if private_key is not None:
        keys.save_private_key(job.id, private_key)
    return job


class Jobs:
    """`client.jobs`: create, wait, inspect, stop and delete jobs (blocking)."""

    def __init__(self, http: httpx.Client) -> None:
        self._http = http

    def _send(self, call: rq.Call) -> Any:
        return rq.result(
            self._http.request(call.method, call.path, json=call.json, params=call.params)
        )

    def create(
        self,
        name: str,
        script: str,
        vcpus: int = 1,
        memory_mb: int = 512,
        stateful: bool = False,
        persistent: bool = False,
        ipv6_lease: str | None = None,
        env: dict[str, str] | None = None,
        timeout: int | None = None,
        ssh_public_key: str | None = None,
        image: str = "base",
        network: str = "none",
        inputs: Sequence[str] | None = None,
        outputs: rq.OutputPatterns | None = None,
    ) -> Job:
        """Create and start a job; it is `pending` until a sandbox runs it. `inputs` are ids
        of uploaded files (`client.files.upload`), found under /workspace/inputs/; `outputs`
        (`{"include": [...], "exclude": [...]}`, patterns under /workspace) picks the files
        it keeps."""
        options = dict(
            vcpus=vcpus,
            memory_mb=memory_mb,
            stateful=stateful,
            persistent=persistent,
            ipv6_lease=ipv6_lease,
            env=env,
            timeout=timeout,
            ssh_public_key=ssh_public_key,
            image=image,
            network=network,
            inputs=inputs,
            outputs=outputs,
        )
        call, private_key = _create_call(name, script, options)
        return _created(self._send(call), private_key)

    def run_and_wait(
        self,
        name: str,
        script: str,
        vcpus: int = 1,
        memory_mb: int = 512,
        stateful: bool = False,
        env: dict[str, str] | None = None,
        timeout: int | None = None,
        poll_interval: float = 5,
        image: str = "base",
        network: str = "none",
        inputs: Sequence[str] | None = None,
        outputs: rq.OutputPatterns | None = None,
    ) -> Job:
        """Create a job and poll until it is completed, failed or stopped; returns it."""
        job = self.create(
            name,
            script,
            vcpus=vcpus,
            memory_mb=memory_mb,
            stateful=stateful,
            env=env,
            timeout=timeout,
            image=image,
            network=network,
            inputs=inputs,
            outputs=outputs,
        )
        return self.wait(job.id, poll_interval=poll_interval)

    def wait(self, job_id: str, poll_interval: float = 5, timeout: float | None = None) -> Job:
        """Poll until the job is finished (or `timeout` seconds pass: then TimeoutError)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not (job := self.get(job_id)).finished:
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {job_id} still {job.status} after {timeout}s")
            time.sleep(poll_interval)
        return job

    def get(self, job_id: str) -> Job:
        return Job.model_validate(self._send(rq.Call("GET", f"/v1/jobs/{job_id}")))

    def get_status(self, job_id: str) -> Status:
        return self.get(job_id).status

    def get_logs(self, job_id: str, tail: int | None = None) -> str:
        """stdout and stderr, one line each, in order; `tail` keeps only the last lines."""
        return Logs.model_validate(self._send(rq.logs(job_id, tail=tail))).text

    def follow(self, job_id: str) -> Iterator[LiveEvent | LiveLine | LiveEnd]:
        """The job's events and output lines as they happen (the live WebSocket feed), from
        its start until it ends; reconnects by itself without missing or repeating any."""
        return follow_feed(self._http, job_id)

    def follow_logs(self, job_id: str) -> Iterator[str]:
        """Yield the job's output lines as they are written, until the job is finished."""
        return (m.text for m in self.follow(job_id) if isinstance(m, LiveLine))

    def files(self, job_id: str) -> list[File]:
        """What the job produced: its outputs, the scripts its steps ran and its log."""
        return listed_files(self._send(rq.Call("GET", f"/v1/jobs/{job_id}/files")))

    def list(
        self,
        status: str | None = None,
        name: str | None = None,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Job]:
        """Your jobs, newest first; `kind` is "script" or "agent"."""
        body = self._send(rq.listing(status, name, limit, offset, kind=kind))
        return [Job.model_validate(job) for job in body["jobs"]]

    def ssh(self, job_id: str) -> SshInfo:
        """SSH details of a running persistent job."""
        return _ssh(self._send(rq.Call("GET", f"/v1/jobs/{job_id}/ssh")), job_id)

    def stop(self, job_id: str) -> Job:
        """Stop a pending, running or paused job; returns it `stopped`."""
        return Job.model_validate(self._send(rq.action(job_id, "stop")))

    def cancel(self, job_id: str) -> Job:
        """Cancel a job for good (files produced so far stay); returns it `cancelled`."""
        return Job.model_validate(self._send(rq.action(job_id, "cancel")))

    def pause(self, job_id: str) -> Job:
        """Freeze a running job with its memory; returns it `paused`."""
        return Job.model_validate(self._send(rq.action(job_id, "pause")))

    def resume(self, job_id: str) -> Job:
        """Continue a paused job where it stopped (or queue the resume until a slot is free)."""
        return Job.model_validate(self._send(rq.action(job_id, "resume")))

    def fork(self, job_id: str, from_seq: int | None = None) -> Job:
        """A new job that starts where this one was at event `from_seq` (default: its last):
        the steps done by then stay done, the workspace holds the files saved by then."""
        return Job.model_validate(self._send(rq.fork(job_id, from_seq)))

    def delete(self, job_id: str) -> Deleted:
        """Delete the job, its logs, container and workspace."""
        return Deleted.model_validate(self._send(rq.Call("DELETE", f"/v1/jobs/{job_id}")))


class AsyncJobs:
    """`client.jobs` of `AsyncJobyard`: the same operations, awaited."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http

    async def _send(self, call: rq.Call) -> Any:
        response = await self._http.request(
            call.method, call.path, json=call.json, params=call.params
        )
        return rq.result(response)

    async def create(
        self,
        name: str,
        script: str,
        vcpus: int = 1,
        memory_mb: int = 512,
        stateful: bool = False,
        persistent: bool = False,
        ipv6_lease: str | None = None,
        env: dict[str, str] | None = None,
        timeout: int | None = None,
        ssh_public_key: str | None = None,
        image: str = "base",
        network: str = "none",
        inputs: Sequence[str] | None = None,
        outputs: rq.OutputPatterns | None = None,
    ) -> Job:
        options = dict(
            vcpus=vcpus,
            memory_mb=memory_mb,
            stateful=stateful,
            persistent=persistent,
            ipv6_lease=ipv6_lease,
            env=env,
            timeout=timeout,
            ssh_public_key=ssh_public_key,
            image=image,
            network=network,
            inputs=inputs,
            outputs=outputs,
        )
        call, private_key = _create_call(name, script, options)
        return _created(await self._send(call), private_key)

    async def run_and_wait(
        self,
        name: str,
        script: str,
        vcpus: int = 1,
        memory_mb: int = 512,
        stateful: bool = False,
        env: dict[str, str] | None = None,
        timeout: int | None = None,
        poll_interval: float = 5,
        image: str = "base",
        network: str = "none",
        inputs: Sequence[str] | None = None,
        outputs: rq.OutputPatterns | None = None,
    ) -> Job:
        job = await self.create(
            name,
            script,
            vcpus=vcpus,
            memory_mb=memory_mb,
            stateful=stateful,
            env=env,
            timeout=timeout,
            image=image,
            network=network,
            inputs=inputs,
            outputs=outputs,
        )
        return await self.wait(job.id, poll_interval=poll_interval)

    async def wait(
        self, job_id: str, poll_interval: float = 5, timeout: float | None = None
    ) -> Job:
        async with asyncio.timeout(timeout):
            while True:
                job = await self.get(job_id)
                if job.finished:
                    break
                await asyncio.sleep(poll_interval)
        return job

    async def get(self, job_id: str) -> Job:
        return Job.model_validate(await self._send(rq.Call("GET", f"/v1/jobs/{job_id}")))

    async def get_status(self, job_id: str) -> Status:
        return (await self.get(job_id)).status

    async def get_logs(self, job_id: str, tail: int | None = None) -> str:
        return Logs.model_validate(await self._send(rq.logs(job_id, tail=tail))).text

    def follow(self, job_id: str) -> AsyncIterator[LiveEvent | LiveLine | LiveEnd]:
        return afollow_feed(self._http, job_id)

    async def follow_logs(self, job_id: str) -> AsyncIterator[str]:
        async for message in self.follow(job_id):
            if isinstance(message, LiveLine):
                yield message.text

    async def files(self, job_id: str) -> list[File]:
        return listed_files(await self._send(rq.Call("GET", f"/v1/jobs/{job_id}/files")))

    async def list(
        self,
        status: str | None = None,
        name: str | None = None,
        limit: int = 50,
        offset: int = 0,
        kind: str | None = None,
    ) -> list[Job]:
        body = await self._send(rq.listing(status, name, limit, offset, kind=kind))
        return [Job.model_validate(job) for job in body["jobs"]]

    async def ssh(self, job_id: str) -> SshInfo:
        return _ssh(await self._send(rq.Call("GET", f"/v1/jobs/{job_id}/ssh")), job_id)

    async def stop(self, job_id: str) -> Job:
        return Job.model_validate(await self._send(rq.action(job_id, "stop")))

    async def cancel(self, job_id: str) -> Job:
        return Job.model_validate(await self._send(rq.action(job_id, "cancel")))

    async def pause(self, job_id: str) -> Job:
        return Job.model_validate(await self._send(rq.action(job_id, "pause")))

    async def resume(self, job_id: str) -> Job:
        return Job.model_validate(await self._send(rq.action(job_id, "resume")))

    async def fork(self, job_id: str, from_seq: int | None = None) -> Job:
        return Job.model_validate(await self._send(rq.fork(job_id, from_seq)))

    async def delete(self, job_id: str) -> Deleted:
        return Deleted.model_validate(await self._send(rq.Call("DELETE", f"/v1/jobs/{job_id}")))


class Images:
    """`client.images`: the sandbox images jobs may use, with what each contains."""

    def __init__(self, send: Any) -> None:
        self._send = send

    def list(self) -> list[Image]:
        return [Image.model_validate(i) for i in self._send(rq.Call("GET", "/v1/images"))]

    def get(self, name: str) -> Image:
        return Image.model_validate(self._send(rq.Call("GET", f"/v1/images/{name}")))


class AsyncImages:
    def __init__(self, send: Any) -> None:
        self._send = send

    async def list(self) -> list[Image]:
        return [Image.model_validate(i) for i in await self._send(rq.Call("GET", "/v1/images"))]

    async def get(self, name: str) -> Image:
        return Image.model_validate(await self._send(rq.Call("GET", f"/v1/images/{name}")))


class Jobyard:
    """Blocking client. `api_key` and `base_url` default to `JOBYARD_API_KEY` and
    `JOBYARD_BASE_URL` (then http://127.0.0.1:8080)."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None) -> None:
        key, url = rq.settings(api_key, base_url)
        self._http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT
        )
        # Presigned links carry their own signature: storage must never see the API key.
        self._storage = httpx.Client(timeout=TIMEOUT)
        self.jobs = Jobs(self._http)
        self.agent_jobs = AgentJobs(self.jobs)
        self.files = Files(self.jobs._send, self._storage)
        self.images = Images(self.jobs._send)
        self.webhooks = Webhooks(self.jobs._send)
        self.notifications = Notifications(self.jobs._send)

    def close(self) -> None:
        self._http.close()
        self._storage.close()

    def __enter__(self) -> Jobyard:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncJobyard:
    """asyncio client with the same surface: `await client.jobs.create(...)`."""

    def __init__(self, api_key: str | None = None, base_url: str | None = None) -> None:
        key, url = rq.settings(api_key, base_url)
        self._http = httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT
        )
        self._storage = httpx.AsyncClient(timeout=TIMEOUT)
        self.jobs = AsyncJobs(self._http)
        self.agent_jobs = AsyncAgentJobs(self.jobs)
        self.files = AsyncFiles(self.jobs._send, self._storage)
        self.images = AsyncImages(self.jobs._send)
        self.webhooks = AsyncWebhooks(self.jobs._send)
        self.notifications = AsyncNotifications(self.jobs._send)

    async def aclose(self) -> None:
        await self._http.aclose()
        await self._storage.aclose()

    async def __aenter__(self) -> AsyncJobyard:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


def create_user(name: str, admin_token: str, base_url: str | None = None) -> User:
    """Operators: create a user and get its API key (needs the gateway's admin token)."""
    url = rq.resolve_base_url(base_url)
    response = httpx.post(
        f"{url}/v1/users",
        json={"name": name},
        headers={"Authorization": f"Bearer {admin_token}"},
        timeout=TIMEOUT,
    )
    return User.model_validate(rq.result(response))
