from datetime import UTC, datetime, timedelta

import pytest

from jobyard_store import HostRegistry, HostReport

pytestmark = pytest.mark.integration


def report(host: str, at: datetime) -> HostReport:
    return HostReport(
        _id=host,
        cpus=2,
        memory_mb=4096,
        max_sandboxes=4,
        sandboxes=0,
        images=["base"],
        runtime="runc",
        reported_at=at,
    )


async def test_a_withdrawn_host_takes_no_job_but_is_still_known_with_its_last_report(mongo_db):
    hosts = HostRegistry(mongo_db)
    now = datetime.now(UTC).replace(microsecond=0)
    await hosts.report(report("a", now))
    await hosts.report(report("b", now))
    await hosts.report(report("stale", now - timedelta(minutes=5)))
    await hosts.withdraw("b")
    assert [h.id for h in await hosts.alive(timedelta(seconds=10))] == ["a"]
    assert await hosts.last_seen() == {"a": now, "b": now, "stale": now - timedelta(minutes=5)}
    await hosts.report(report("b", now))  # back: it reports again, no longer withdrawn
    assert [h.id for h in await hosts.alive(timedelta(seconds=10))] == ["a", "b"]
