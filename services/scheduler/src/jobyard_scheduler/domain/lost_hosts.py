"""A host that stopped reporting for longer than its grace is lost: its sandboxes went with it,
so its jobs end failed (files saved before stay listed) rather than stay `running` forever.

Silence counts only over time this scheduler could see the store. A store outage silences
every host too, and a scheduler just started has not watched anyone yet: from either, each
host gets its full grace again.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta

from jobyard_contracts import FailureReason, JobFailed, JobStatus
from jobyard_scheduler.domain.lifecycle import ended
from jobyard_store import Change, JobDocument


def lost_hosts(
    hosts: Iterable[str],
    last_seen: Mapping[str, datetime],
    watching_since: datetime,
    now: datetime,
    grace: timedelta,
) -> dict[str, datetime | None]:
    """The `hosts` silent for longer than `grace`, with their last report (None: never
    reported, or its report is gone)."""
    lost: dict[str, datetime | None] = {}
    for host in set(hosts):
        seen = last_seen.get(host)
        silent_since = max(seen, watching_since) if seen is not None else watching_since
        if now - silent_since > grace:
            lost[host] = seen
    return lost


def fail_on_lost_host(job: JobDocument, host: str, seen: datetime | None) -> Change | None:
    """End the job failed, once, if it is still active on the lost `host`."""
    if job.host != host:
        return None
    since = f" since {seen:{_SEEN}} UTC" if seen is not None else ""
    message = (
        f"host {host} has not reported{since}: the job's sandbox is lost with it "
        "(the files saved before are kept)"
    )
    failed = ended(job, JobStatus.FAILED, FailureReason.SANDBOX_ERROR, message)
    if failed is None:
        return None
    # No file will be saved any more: what is listed is all there is (its file-sync, should
    # the host come back, no longer follows the job).
    closed = failed.files.model_copy(update={"final_synced": True})
    failed = failed.model_copy(update={"files": closed})
    return Change(failed, [JobFailed(reason=FailureReason.SANDBOX_ERROR, message=message)])


_SEEN = "%Y-%m-%d %H:%M:%S"


def last_seen_in(message: str) -> datetime | None:
    """When a lost host last reported, as `fail_on_lost_host` said it (a replay's input)."""
    found = re.search(r" since (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC", message)
    return datetime.strptime(found[1], _SEEN).replace(tzinfo=UTC) if found else None
