"""Drives each job sandbox of this host from stored state, never from an unacknowledged message.

One task per job: give it a sandbox (disk, inbox, container), hand requested steps to its
runner, pump the runner's records, keep the container frozen exactly while the job is paused,
and, once the container stops, decide what that means (the job ended, a hibernation, or a
sandbox that died). Everything is recomputed from the job document and Docker, so a manager
killed at any point picks every sandbox up again on restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from subprocess import CalledProcessError
from typing import Any

from docker.errors import APIError, ImageNotFound
from minio.error import S3Error

from jobyard_contracts import (
    Envelope,
    FailureReason,
    JobStatus,
    PauseReason,
    RunStep,
    Runtime,
    SandboxStart,
    WireNames,
)
from jobyard_logging import bound
from jobyard_objects import ObjectStore
from jobyard_sandbox_manager.adapters.disks import Disks
from jobyard_sandbox_manager.adapters.docker_sandbox import ContainerStatus, DockerSandboxes
from jobyard_sandbox_manager.adapters.inboxes import Inboxes
from jobyard_sandbox_manager.adapters.inputs import copy_inputs
from jobyard_sandbox_manager.domain import limits, outputs, pausing, sandboxes, steps
from jobyard_sandbox_manager.domain.pausing import start_session
from jobyard_sandbox_manager.domain.records import CgroupCounters, Record
from jobyard_sandbox_manager.output_pump import Handling, OnRecord, OnTick, OutputPump
from jobyard_sandbox_manager.settings import SandboxManagerSettings
from jobyard_sandbox_manager.warm_pool import WarmPool
from jobyard_store import (
    Change,
    ContainerState,
    Decide,
    JobDocument,
    SandboxState,
    SshEndpoint,
    workspaces,
)
from jobyard_worker import Worker

TICK_SECONDS = 5.0
"""How often a running sandbox is compared with its job anyway: a safety net, since every
command for it (and the watchdog) kicks its driver, which converges at once."""
OUTPUTS_POLL_SECONDS = 0.05
OUTPUTS_POLL_MAX_SECONDS = 0.5
FINAL_SYNC_POLL_SECONDS = 2.0
"""The disk of an ended job waits for its final sync; nobody waits on that, so look seldom (a
burst of jobs ending at once otherwise reads the store several times a second for each)."""
STEP_TAIL_LINES = 20


class SandboxSupervisor:
    def __init__(
        self,
        worker: Worker,
        sandboxes: DockerSandboxes,
        disks: Disks,
        inboxes: Inboxes,
        objects: ObjectStore,
        warm_pool: WarmPool,
        settings: SandboxManagerSettings,
        runtime: Runtime,
    ) -> None:
        self._worker = worker
        self._pool = warm_pool
        self._jobs = worker.jobs
        self._docker = sandboxes
        self._disks = disks
        self._inboxes = inboxes
        self._objects = objects
        self._settings = settings
        self._host = settings.host_id
        self._policy = settings.host_policy(runtime)
        self._pump = OutputPump(worker, sandboxes, settings.log_batch_seconds)
        self._active: dict[str, asyncio.Task[None]] = {}
        self._kicks: dict[str, asyncio.Event] = {}
        # What converge last made of each container ("frozen", "thawed", "killed"): Docker is
        # only asked again when the wanted state changes, not on every tick.
        self._applied: dict[str, str] = {}

    @property
    def sandboxes_running(self) -> int:
        return len(self._active)

    def containers_by_state(self) -> tuple[int, int]:
        """Containers kept running and kept frozen, as converge last made them (one being
        created, or killed at its job's end, is neither)."""
        made = list(self._applied.values())
        return made.count("thawed"), made.count("frozen")

    def kick(self, job_id: str, written: JobDocument | None = None) -> None:
        """Look at the job now (a command arrived) rather than at the next tick; `written`,
        the job as the command's handler just stored it, saves a new driver its first read."""
        if job_id in self._active:
            self._kicks[job_id].set()
        else:
            self._spawn(job_id, written)

    async def accept_run(self, msg: Envelope[RunStep]) -> None:
        """Record a step's command (and, for a job with no sandbox yet, its placement here, in
        the same write), then drive the job from what was written. A pool member is claimed
        for the placement while that write is in flight: the sandbox's name is known before."""
        # Where its output numbering goes on is read beside the job (the write needs both).
        job, base = await asyncio.gather(
            self._jobs.get(msg.job_id), self._worker.logs.last_seq(msg.job_id)
        )
        if job is None:
            return
        now = datetime.now(UTC)

        def accepting(log_base_seq: int) -> Decide:
            place = self._placement(log_base_seq, first=True)

            def accept(job: JobDocument) -> Change | None:
                accepted = steps.accept_run(job, msg.payload, now)
                return None if accepted is None else accepted.then(place)

            return accept

        ahead = accepting(0)(job)
        first = job.container is None and msg.job_id not in self._active
        member = self._pool.member_names(ahead.job) if first and ahead else None
        claim = asyncio.create_task(self._pool.claim(ahead.job)) if ahead and member else None
        try:
            applied = await self._worker.apply(msg, accepting(base), current=job)
        finally:
            # After a failed write a claimed member keeps the job's names: the command comes
            # again, and the job's sandbox is then found made (as after a restart).
            if claim is not None:
                await claim
        written = applied.job if applied else None
        if member is not None and not sandboxes.holds(written, member.name):
            # Not placed after all (e.g. cancelled): nothing stays under the sandbox's names,
            # whether this claim put it there or one cut short by a kill before its write.
            await self._pool.undo_claim(member)
        self.kick(msg.job_id, written)

    def _placement(self, log_base_seq: int, *, first: bool) -> Decide:
        """Give a job that wants a sandbox one on this host; `first`: only its first (a later
        generation is placed once the driver has removed the one before)."""
        runtime = self._policy.runtime

        def place(job: JobDocument) -> Change | None:
            if not steps.wants_sandbox(job) or (first and job.container is not None):
                return None
            return sandboxes.place_container(job, self._names, self._host, runtime, log_base_seq)

        return place

    async def change(
        self, job_id: str, decide: Decide, current: JobDocument | None = None
    ) -> JobDocument:
        """`current`: the job as just read, to save the store a read (see `JobRepository`)."""
        return (await self._worker.relay.change(job_id, decide, current=current)).job

    async def reconcile_forever(self) -> None:
        """At start and then periodically: drive every sandbox this host should be driving."""
        while True:
            for job in await self._jobs.find(self._mine_query()):
                self._spawn(job.id)
            await asyncio.sleep(self._settings.poll_seconds)

    def _mine_query(self) -> dict[str, Any]:
        return {
            "$or": [
                {"container.host": self._host, "container.cleaned": False},
                {"sandbox.host": self._host, "sandbox.state": SandboxState.REQUESTED},
            ]
        }

    def _spawn(self, job_id: str, written: JobDocument | None = None) -> None:
        if job_id in self._active:
            return
        self._kicks[job_id] = asyncio.Event()
        task = asyncio.create_task(self._drive(job_id, written))
        self._active[job_id] = task
        task.add_done_callback(lambda _: self._forget(job_id))

    def _forget(self, job_id: str) -> None:
        self._active.pop(job_id, None)
        self._kicks.pop(job_id, None)
        self._applied.pop(job_id, None)

    async def _drive(self, job_id: str, written: JobDocument | None) -> None:
        """`written`: the job as a write of this process just left it, so the next stage need
        not read it back (a stale copy is harmless: every change re-reads on a conflict)."""
        with bound(job_id=job_id):
            while True:
                try:
                    onward = await self._step_forward(job_id, written)
                except Exception:
                    # Docker or the store is unavailable (e.g. a daemon restart): try again.
                    self._worker.log.warning("sandbox driver retrying", exc_info=True)
                    written = None
                    await asyncio.sleep(1)
                    continue
                if onward is False:
                    return
                written = None if onward is True else onward

    async def _step_forward(self, job_id: str, written: JobDocument | None) -> JobDocument | bool:
        """Move the job's sandbox one stage on: False once there is nothing left to drive, else
        the job as that stage wrote it (True: read it again)."""
        if written is not None:
            return await self._stage(written)
        job = await self._jobs.get(job_id)
        if job is None:
            await asyncio.to_thread(self._docker.remove_job_containers, self._ns, job_id)
            return False
        return await self._stage(job)

    async def _stage(self, job: JobDocument) -> JobDocument | bool:
        job_id = job.id
        container = job.container
        if container is None or container.state is ContainerState.HIBERNATED:
            if container is not None:  # hibernated: its container is removed, output kept
                await self._drain_and_remove(job)
                if job.status.is_terminal:
                    await self.change(job_id, sandboxes.release)
                    return True
            if not steps.wants_sandbox(job):
                if job.status.is_terminal:
                    await self.change(job_id, steps.abandon)
                return False
            base = await self._worker.logs.last_seq(job_id)
            return await self.change(job_id, self._placement(base, first=False), current=job)
        if container.state is ContainerState.RELEASED:
            if not await self._outputs_saved_at_end(job):
                await asyncio.sleep(FINAL_SYNC_POLL_SECONDS)
                return True
            await self._clean_up(job)
            await self.change(job_id, sandboxes.cleaned)
            return False
        if container.state is ContainerState.CREATING:
            return await self._create(job)
        return await self._follow(job)

    async def _follow(self, job: JobDocument, coming_up: Awaitable[bool] | None = None) -> bool:
        """Pump the sandbox's records until its container stops, then decide what that means.
        `coming_up`, given when this driver has just started the sandbox, is the write saying
        so, awaited before any record is applied; Docker need not be asked whether the sandbox
        is still there, nor the store which of its lines are stored (none yet)."""
        assert job.container is not None
        name = job.container.name
        started_now = coming_up is not None
        if not started_now and await asyncio.to_thread(self._docker.status, name) is None:
            await self._stopped(job.id, None)  # removed behind our back
            return True
        stored = job.container.log_base_seq if started_now else None
        handling = Handling(
            self._on_record(job.id), self._tick(job.id), TICK_SECONDS, self._kicks.get(job.id)
        )
        await self._pump.run(job, handling, stored=stored, ready=coming_up)
        status = await asyncio.to_thread(self._docker.status, name)
        if status is not None and status.running:
            return True  # the log stream broke without the container stopping: follow again
        await self._stopped(job.id, status)
        return True

    @property
    def _ns(self) -> str:
        return self._worker.names.namespace

    @property
    def _names(self) -> WireNames:
        return self._worker.names

    async def _create(self, job: JobDocument) -> bool:
        """Give the job its container (claimed warm or created), hand it the requested step and
        follow it; True: look at the job again."""
        if job.status.is_terminal:
            await self.change(job.id, sandboxes.release)
            return True
        if job.persistent and job.ssh is None:
            ssh = self._ssh_endpoint()
            job = await self.change(
                job.id,
                lambda j: Change(j.model_copy(update={"ssh": ssh})) if j.ssh is None else None,
            )
        assert job.container is not None
        disk_key = workspaces.disk_key(self._names, job)
        try:
            await self._pool.claim(job)
            disk = await asyncio.to_thread(
                self._disks.ensure,
                disk_key,
                sandboxes.disk_mb(job, self._policy),
                self._settings.disk_owner,
            )
            await asyncio.to_thread(
                copy_inputs,
                self._objects,
                job,
                disk / workspaces.WORKSPACE_FOLDER,
                self._settings.disk_owner,
            )
            inbox = self._inboxes.create(job.container.name)
            spec = sandboxes.container_spec(
                job, self._names, self._policy, disk=disk, inbox=inbox, runner=self._inboxes.runner
            )
            warm = await asyncio.to_thread(self._docker.ensure_started, spec)
            limits = self._pool.limits_for(job) if warm else None
            if limits is not None:  # a member (claimed now or before a restart): the job's own
                await asyncio.to_thread(self._docker.apply_limits, spec.name, limits)
            # The step goes in now: no store write or log stream stands between the sandbox
            # coming up and its runner starting the step (the pump reads its log from the start).
            start = SandboxStart.WARM if warm else SandboxStart.COLD
            handed = self._request_step(job, spec.name, start)
        except Exception as exc:
            if not refused(exc):
                raise  # Docker unreachable or busy: the driver tries again
            self._worker.log.exception("sandbox could not be created")
            await self._fail_current_step(job.id, FailureReason.SANDBOX_ERROR, str(exc)[-500:])
            await self.change(job.id, sandboxes.release)
            return True
        # Its log is followed (lines go out live) while its coming up is written.
        coming_up = asyncio.create_task(self._came_up(job, start, self._host if handed else None))
        try:
            return await self._follow(job, coming_up)
        finally:
            await coming_up  # written whatever became of the follow

    async def _came_up(self, job: JobDocument, start: SandboxStart, host: str | None) -> bool:
        """Record that the sandbox runs (and has its step, when `host` is given); False when
        the job had changed meanwhile and this was not the write that did it."""
        now = datetime.now(UTC)
        up = await self.change(job.id, lambda j: steps.came_up(j, now, start, host), current=job)
        return up.container is not None and up.container.created_at == now

    def _ssh_endpoint(self) -> SshEndpoint:
        with socket.socket() as probe:  # a free port now; the container binds it right after
            probe.bind((self._settings.ssh_host, 0))
            port = int(probe.getsockname()[1])
        return SshEndpoint(host=self._settings.ssh_host, port=port, username="sandbox")

    def _tick(self, job_id: str) -> OnTick:
        async def tick() -> None:
            kick = self._kicks.get(job_id)
            if kick is not None:
                kick.clear()
            await self.converge(job_id)

        return tick

    async def converge(self, job_id: str) -> None:
        """Make the running container match the job: hand over a requested step, keep it frozen
        exactly while the job is paused, kill it once the job is over."""
        job = await self._jobs.get(job_id)
        if job is None:
            await asyncio.to_thread(self._docker.remove_job_containers, self._ns, job_id)
            return
        container = job.container
        if container is None or container.state is ContainerState.CREATING:
            return
        name = container.name
        if container.state is not ContainerState.UP or job.status.is_terminal:
            # Hibernated or over: the pump drains what is left, then the container goes.
            await self._make(job_id, "killed", self._docker.kill, name)
            return
        if job.status is JobStatus.PAUSED or job.pause is not None:
            await self._make(job_id, "frozen", self._docker.freeze, name)
            return
        await self._make(job_id, "thawed", self._docker.thaw, name)
        if self._request_step(job, name, container.start):
            await self.change(job_id, lambda j: steps.hand_to_runner(j, self._host), current=job)

    def _request_step(self, job: JobDocument, name: str, start: SandboxStart | None) -> bool:
        """Drop the requested step into the sandbox's inbox, if the job goes on (again after a
        restart: its runner runs each step once)."""
        if not steps.ready_to_hand_over(job):
            return False
        assert job.sandbox is not None
        step = job.step(job.sandbox.step_index)
        self._inboxes.request(
            name,
            step.index,
            step.script,
            sandboxes.step_argv(job, step.index),
            sandboxes.step_env(job, start),
            self._settings.disk_owner,
        )
        return True

    async def _make(
        self, job_id: str, state: str, action: Callable[[str], None], name: str
    ) -> None:
        if self._applied.get(job_id) != state:
            await asyncio.to_thread(action, name)
            self._applied[job_id] = state

    def _on_record(self, job_id: str) -> OnRecord:
        async def on_record(record: Record) -> None:
            if record.kind == "start":
                await self._record_start(job_id, record)
            elif record.kind == "exit":
                await self._record_exit(job_id, record)

        return on_record

    async def _record_start(self, job_id: str, record: Record) -> None:
        job = await self._jobs.get(job_id)
        counters = record.counters
        if counters is None and job is not None and job.container is not None:
            counters = await asyncio.to_thread(self._docker.counters, job.container.name)

        def started(j: JobDocument) -> Change | None:
            change = steps.record_started(start_session(j, record.at), record.step, record.at)
            if change is None or change.job.sandbox is None or counters is None:
                return change
            run = change.job.sandbox.model_copy(
                update={
                    "oom_kills_at_start": counters.oom_kills,
                    "pids_hits_at_start": counters.pids_limit_hits,
                }
            )
            return Change(change.job.model_copy(update={"sandbox": run}), change.events)

        await self.change(job_id, started)

    async def _record_exit(self, job_id: str, record: Record) -> None:
        job = await self._jobs.get(job_id)
        if job is None or job.sandbox is None or steps.step_in_progress(job) != record.step:
            return
        facts = await self._exit_facts(job, record.counters)
        reason, message = limits.classify_exit(record.exit_code, facts)
        await self._outputs_saved(job_id, record.step)
        await self._finish_step(job_id, record.step, record.exit_code, reason, message)

    async def _outputs_saved(self, job_id: str, step: int) -> None:
        """Ask file-sync to save what the step left in the workspace, and wait until it has
        (the step's end, and so the job's, is recorded after its outputs)."""
        job = await self.change(job_id, lambda j: outputs.request_sync(j, step, self._host))
        delay = OUTPUTS_POLL_SECONDS
        while not outputs.step_saved(job, step):
            await asyncio.sleep(delay)
            # Quick for the usual small sync, then less often: a long upload is not slowed
            # down by the store reads of its own wait.
            delay = min(delay * 1.5, OUTPUTS_POLL_MAX_SECONDS)
            current = await self._jobs.get(job_id)
            if current is None:
                return
            job = current

    async def _outputs_saved_at_end(self, job: JobDocument) -> bool:
        """Whether the ended job's workspace may go: file-sync saved all of it (asked once)."""
        if outputs.saved_at_end(job):
            return True
        await self.change(job.id, lambda j: outputs.request_final_sync(j, self._host), current=job)
        return False

    async def _exit_facts(
        self, job: JobDocument, counters: CgroupCounters | None
    ) -> limits.ExitFacts:
        """What the end of the step looked like: the runner's counters at its exit when it
        could read them (exact), else the host's view of the cgroup now."""
        assert job.sandbox is not None
        assert job.container is not None
        if counters is None:
            counters = await asyncio.to_thread(self._docker.counters, job.container.name)
        free = await asyncio.to_thread(
            self._disks.free_bytes, workspaces.disk_key(self._names, job)
        )
        return limits.ExitFacts(
            out_of_memory=bool(counters and counters.oom_kills > job.sandbox.oom_kills_at_start),
            process_limit_hit=bool(
                counters and counters.pids_limit_hits > job.sandbox.pids_hits_at_start
            ),
            disk_full=free is not None and free < self._settings.disk_full_bytes,
        )

    async def _finish_step(
        self, job_id: str, step: int, exit_code: int, reason: FailureReason | None, message: str
    ) -> bool:
        """Record the step's end; False when it had already ended (nothing changed)."""
        logs = self._worker.logs
        stderr = await logs.tail(job_id, STEP_TAIL_LINES, step=step, stream="stderr")
        output = await logs.tail(job_id, STEP_TAIL_LINES, step=step)
        applied = await self._worker.relay.change(
            job_id,
            lambda j: steps.record_exited(
                j,
                step,
                exit_code,
                reason,
                message=message,
                stderr_tail="\n".join(line.text for line in stderr),
                output_tail="\n".join(line.text for line in output),
            ),
        )
        return bool(applied.envelopes)

    async def _fail_current_step(self, job_id: str, reason: FailureReason, detail: str) -> None:
        job = await self._jobs.get(job_id)
        run = job.sandbox if job else None
        if run is None or run.state is SandboxState.EXITED:
            return
        if run.state is SandboxState.REQUESTED:  # never handed over: it fails all the same
            await self.change(job_id, lambda j: steps.hand_to_runner(j, self._host))
        message = f"{limits.REASON_MESSAGES[reason]}: {detail}" if detail else ""
        await self._finish_step(job_id, run.step_index, -1, reason, message)

    async def freeze(self, job_id: str, reason: PauseReason) -> None:
        """Freeze the job's sandbox, then record the job paused (only once it really is frozen);
        for its owner's pause and for a used-up session alike."""
        job = await self._jobs.get(job_id)
        if job is None or job.container is None or not pausing.pause_wanted(job, reason):
            return
        await asyncio.to_thread(self._docker.freeze, job.container.name)
        self._applied[job_id] = "frozen"
        now = datetime.now(UTC)
        await self.change(job_id, lambda j: pausing.pause(j, reason, now))
        self.kick(job_id)  # no longer wanted meanwhile (e.g. answered): converge thaws it

    async def kill_for(self, job: JobDocument, facts: limits.ExitFacts) -> None:
        """End the step under way for a limit (its reason recorded first), killing the sandbox."""
        assert job.sandbox is not None
        assert job.container is not None
        reason, message = limits.classify_exit(137, facts)
        if await self._finish_step(job.id, job.sandbox.step_index, 137, reason, message):
            await asyncio.to_thread(self._docker.kill, job.container.name)

    async def _stopped(self, job_id: str, status: ContainerStatus | None) -> None:
        """The container stopped: the job ended, was hibernated, or lost its sandbox."""
        job = await self._jobs.get(job_id)
        if job is None or job.container is None:
            return
        if job.status.is_terminal:
            await self.change(job_id, sandboxes.release)
        elif job.container.state is ContainerState.HIBERNATED:
            return
        elif job.status is JobStatus.PAUSED:
            # Lost while paused (e.g. Docker's daemon restarted): like a hibernation.
            await self.change(job_id, sandboxes.hibernate)
        else:
            oom = status is not None and status.oom_killed
            reason = FailureReason.OUT_OF_MEMORY if oom else FailureReason.SANDBOX_ERROR
            code = status.exit_code if status else -1
            await self._fail_current_step(job_id, reason, f"the sandbox stopped (exit code {code})")
            await self.change(job_id, sandboxes.hibernate)

    async def _drain_and_remove(self, job: JobDocument) -> None:
        assert job.container is not None
        name = job.container.name
        if await asyncio.to_thread(self._docker.status, name) is None:
            return
        await asyncio.to_thread(self._docker.kill, name)
        await self._pump.run(job, Handling(self._on_record(job.id), _nothing, TICK_SECONDS))
        await asyncio.to_thread(self._docker.remove, name)
        self._inboxes.remove(name)

    async def _clean_up(self, job: JobDocument) -> None:
        """After the job's end: its containers go; its disk too unless something keeps it."""
        await asyncio.to_thread(self._docker.remove_job_containers, self._ns, job.id)
        assert job.container is not None
        self._inboxes.remove(job.container.name)
        if job.stateful and job.deletion_announced:
            await self.remove_stateful_disk(job.user_id, job.name, job.id)
        elif job.status.is_terminal and not sandboxes.workspace_kept_after_end(job):
            await self.remove_disk(workspaces.disk_key(self._names, job))

    async def remove_stateful_disk(self, user_id: str, name: str, job_id: str) -> None:
        """A deleted stateful job's workspace goes with the last job of its name."""
        query = sandboxes.stateful_workspace_in_use_query(user_id, name, job_id)
        if not await self._jobs.find(query, limit=1):
            await self.remove_disk(workspaces.stateful_disk_key(self._names, user_id, name))

    async def remove_disk(self, key: str) -> None:
        await asyncio.to_thread(self._docker.remove_volume, key)
        await asyncio.to_thread(self._disks.release, key)

    async def stop(self) -> None:
        for task in list(self._active.values()):
            task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._active.values(), return_exceptions=True)


def refused(exc: Exception) -> bool:
    """Errors that trying again cannot fix: an image this host lacks, a request Docker refuses,
    a disk that cannot be made, an input file that is gone. Anything else (Docker restarting,
    a timeout) is retried."""
    if isinstance(exc, sandboxes.UnknownImageError | ImageNotFound | CalledProcessError):
        return True
    if isinstance(exc, S3Error):  # an input file that is gone (deleted since the job began)
        return exc.code in ("NoSuchKey", "NoSuchBucket")
    return isinstance(exc, APIError) and exc.is_client_error()


async def _nothing() -> None:
    return None
