"""Every few seconds: a host silent past its grace (the rule is `domain.lost_hosts`) offers
its images no more, and its active jobs end failed. Every replica checks; the rule ends each
job once whoever gets there, and withdrawing is idempotent."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta

from jobyard_scheduler.domain import admission
from jobyard_scheduler.domain.lost_hosts import fail_on_lost_host, lost_hosts
from jobyard_store import HostRegistry, ImageRegistry, JobNotFoundError
from jobyard_worker import Worker


class LostHostWatch:
    def __init__(self, worker: Worker, grace: timedelta) -> None:
        self._worker = worker
        self._hosts = HostRegistry(worker.db)
        self._images = ImageRegistry(worker.db)
        self._grace = grace
        self._watching_since = datetime.now(UTC)
        self._blind = False

    async def check_once(self) -> None:
        try:
            placed = await self._worker.jobs.find(admission.ACTIVE_PLACED_QUERY)
            last_seen = await self._hosts.last_seen()
        except Exception:
            self._blind = True  # no host could report meanwhile either
            raise
        now = datetime.now(UTC)
        if self._blind:
            self._watching_since, self._blind = now, False
        known = {*last_seen, *(job.host for job in placed if job.host is not None)}
        lost = lost_hosts(known, last_seen, self._watching_since, now, self._grace)
        for host in lost:  # a job asking for an image only it had would wait for ever
            await self._images.withdraw_host(host)
        for job in placed:
            if job.host in lost:
                await self._fail(job.id, job.host, lost[job.host])

    async def _fail(self, job_id: str, host: str, seen: datetime | None) -> None:
        self._worker.log.warning("host lost: its job ends", job_id=job_id, host=host)
        with contextlib.suppress(JobNotFoundError):  # deleted and purged meanwhile
            await self._worker.relay.change(job_id, lambda j: fail_on_lost_host(j, host, seen))
