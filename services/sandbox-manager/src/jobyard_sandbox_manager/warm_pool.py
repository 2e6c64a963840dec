"""This host's warm pool (the rules are in `domain/pool.py`): members started in the
background, one handed to each job that fits, leftovers of an earlier run removed.

A claim renames the member's container, disk and inbox to the job's, so from then on it is the
job's sandbox like any other (found by its deterministic name after a restart). Members live
only in this process's memory: after a restart every container still carrying a member's name
served no job, and is removed with its disk and inbox before new ones are started.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from jobyard_contracts import Runtime, WireNames
from jobyard_metrics import SANDBOXES
from jobyard_sandbox_manager.adapters.disks import Disks
from jobyard_sandbox_manager.adapters.docker_sandbox import DockerSandboxes
from jobyard_sandbox_manager.adapters.inboxes import Inboxes
from jobyard_sandbox_manager.domain import pool
from jobyard_sandbox_manager.domain.pool import PoolKey
from jobyard_sandbox_manager.domain.sandboxes import Limits
from jobyard_sandbox_manager.settings import SandboxManagerSettings
from jobyard_store import JobDocument, workspaces
from jobyard_worker import Worker

REFILL_DELAY_SECONDS = 0.15
"""A refill waits this long behind a claim: past the claimed sandbox's first output (some 50
ms on), not so long that it meets the next job's start."""


@dataclass(frozen=True, slots=True)
class SandboxNames:
    """What a job's sandbox is found by: its container's (and inbox's) name and its disk's."""

    name: str
    disk_key: str


class WarmPool:
    def __init__(
        self,
        worker: Worker,
        docker: DockerSandboxes,
        disks: Disks,
        inboxes: Inboxes,
        settings: SandboxManagerSettings,
        runtime: Runtime,
    ) -> None:
        self._log = worker.log
        self._names: WireNames = worker.names
        self._docker = docker
        self._disks = disks
        self._inboxes = inboxes
        self._settings = settings
        self._host = settings.host_id
        self._host_policy = settings.host_policy(runtime)
        self._policy = settings.pool_policy()
        self._idle: defaultdict[PoolKey, list[str]] = defaultdict(list)
        self._last_claim: dict[PoolKey, float] = {}
        self._started = time.monotonic()
        self._wake = asyncio.Event()
        self._claims: dict[str, asyncio.Future[SandboxNames | None]] = {}
        """Claims under way, by the sandbox's name: one at a time for each."""

    @property
    def kept(self) -> bool:
        """Whether this host keeps a pool at all (runc, some size configured)."""
        return bool(self._policy.keys(self._host_policy))

    @property
    def idle_members(self) -> Counter[PoolKey]:
        return Counter({key: len(names) for key, names in self._idle.items()})

    def limits_for(self, job: JobDocument) -> Limits | None:
        """The limits a claimed member needs for the job (None: it has them)."""
        return pool.claim_limits(job, self._host_policy, self._policy)

    @property
    def reserved_memory_mb(self) -> int:
        """Memory the idle members may use: not offered to jobs placed here."""
        return sum(self.idle_members.values()) * self._policy.memory_mb

    async def run(self, sandboxes_running: Callable[[], int]) -> None:
        """Remove what an earlier run left, then keep the pools filled (or shrunk)."""
        await asyncio.to_thread(self._remove_leftovers)
        if not self.kept:
            self._log.info("no warm pool on this host", runtime=self._host_policy.runtime.value)
            return
        while True:
            self._wake.clear()
            try:
                await self._resize(sandboxes_running())
            except Exception:  # Docker busy or restarting: try again at the next round
                self._log.warning("warm pool not refilled", exc_info=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self._settings.poll_seconds)

    def member_names(self, job: JobDocument) -> SandboxNames | None:
        """The names a member claimed for the job (as placed here) takes; None when no pool
        serves the job (the cold path)."""
        claimable = self._claimable(job)
        return claimable[1] if claimable else None

    def _claimable(self, job: JobDocument) -> tuple[PoolKey, SandboxNames] | None:
        key = pool.pool_for(job, self._host_policy, self._policy)
        if key is None:
            return None
        assert job.container is not None
        return key, SandboxNames(job.container.name, workspaces.disk_key(self._names, job))

    async def claim(self, job: JobDocument) -> SandboxNames | None:
        """Hand an idle member that fits the job over to it (its container, disk and inbox
        take the job's names); None: the job takes the cold path, or another claim for the
        same sandbox was under way (awaited: it made the sandbox, or nothing). Nothing is
        claimed once an earlier attempt made the job's disk or container (after a restart
        mid-creation)."""
        claimable = self._claimable(job)
        if claimable is None or not self._idle[claimable[0]]:
            return None
        key, names = claimable
        name = names.name
        under_way = self._claims.get(name)
        if under_way is not None:
            await asyncio.shield(under_way)
            return None
        claim = asyncio.ensure_future(self._claim(key, names))
        self._claims[name] = claim
        try:
            return await asyncio.shield(claim)
        finally:
            if claim.done():
                self._claims.pop(name, None)
            else:  # the caller was cancelled: the claim completes on its own
                claim.add_done_callback(lambda _: self._claims.pop(name, None))

    async def _claim(self, key: PoolKey, names: SandboxNames) -> SandboxNames | None:
        """Docker is told only the new name: a member found dead once it is the job's is
        replaced by a container of its own (`ensure_started`), and a container already
        holding the name (which its disk would show first) makes the rename fail."""
        if not self._idle[key] or self._disks.exists(names.disk_key):
            return None
        self._last_claim[key] = time.monotonic()
        # Refill behind this claim, once its sandbox is going: a member started at once
        # would take the host's CPU from the claim's first output.
        asyncio.get_running_loop().call_later(REFILL_DELAY_SECONDS, self._wake.set)
        member = self._idle[key].pop(0)
        self._measure()
        try:
            await asyncio.to_thread(self._hand_over, member, names)
        except Exception:
            self._log.warning("warm sandbox not handed over", member=member, exc_info=True)
            await asyncio.to_thread(self._discard, member)
            return None  # the disk may be the job's now: still fresh, the cold path uses it
        return names

    async def undo_claim(self, names: SandboxNames) -> None:
        """A member claimed for a placement that was not written: it goes (never back to the
        pool, and nothing of it may outlive the claim)."""
        await asyncio.to_thread(self._docker.remove, names.name)
        await asyncio.to_thread(self._inboxes.remove, names.name)
        await asyncio.to_thread(self._disks.release, names.disk_key)

    def _hand_over(self, member: str, names: SandboxNames) -> None:
        """Disk, inbox, then the container's name: once renamed the sandbox is the job's."""
        self._disks.adopt(member, names.disk_key)
        self._inboxes.rename(member, names.name)
        self._docker.rename(member, names.name)

    async def _resize(self, sandboxes_running: int) -> None:
        now = time.monotonic()
        quiet = {
            key
            for key in self._policy.keys(self._host_policy)
            if now - self._last_claim.get(key, self._started) > self._policy.idle_seconds
        }
        for key, count in pool.members_surplus(self._policy, self.idle_members, quiet).items():
            for _ in range(count):
                await asyncio.to_thread(self._discard, self._idle[key].pop(0))
                self._measure()
        wanted = pool.members_wanted(
            self._policy,
            self._host_policy,
            self.idle_members,
            quiet,
            sandboxes_running,
            self._settings.max_running,
        )
        for key in wanted:
            self._idle[key].append(await asyncio.to_thread(self._start_member, key))
            self._measure()

    def _measure(self) -> None:
        SANDBOXES.labels(host=self._host, state="warm").set(sum(self.idle_members.values()))

    def _start_member(self, key: PoolKey) -> str:
        name = pool.member_name(self._names, self._host, secrets.token_hex(4))
        try:
            disk = self._disks.ensure(
                name, self._host_policy.default_disk_mb, self._settings.disk_owner
            )
            spec = pool.member_spec(
                self._names,
                self._host,
                self._host_policy,
                self._policy,
                key,
                name,
                disk=disk,
                inbox=self._inboxes.create(name),
                runner=self._inboxes.runner,
            )
            self._docker.ensure_started(spec)
        except Exception:
            self._discard(name)
            raise
        return name

    def _discard(self, member: str) -> None:
        self._docker.remove(member)
        self._inboxes.remove(member)
        self._disks.release(member)

    def _remove_leftovers(self) -> None:
        """Members of an earlier run of this host's manager (killed, or stopped mid-start)."""
        prefix = pool.member_prefix(self._names, self._host)
        for member in self._docker.pool_members(self._names.namespace, self._host, prefix):
            self._docker.remove(member)
        for member in self._inboxes.names(prefix):
            self._inboxes.remove(member)
        for member in self._disks.keys(prefix):
            self._disks.release(member)

    async def drain(self) -> None:
        """At shutdown: the idle members go (a restart would remove them anyway)."""
        members = [name for names in self._idle.values() for name in names]
        self._idle.clear()
        self._measure()
        for member in members:
            await asyncio.to_thread(self._discard, member)
