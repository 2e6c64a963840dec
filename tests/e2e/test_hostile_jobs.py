"""Hostile jobs beside a normal one: each ends with its reason, the normal job completes, and
the host (and the other jobs) never notice."""

import pytest

from jobyard_testing.jobs import logs, submit, user_client, wait_for_status

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


FORK_BOMB = "python3 -c 'import os\nwhile True: os.fork()'"
MEMORY_HOG = "python3 -c 'blocks = [bytearray(2**20) for _ in range(4096)]'"
DISK_FILLER = "dd if=/dev/zero of=/workspace/fill bs=1M count=100000"
CPU_SPINNER = "python3 -c 'while True: pass'"
NORMAL = "python3 -c 'print(sum(i * i for i in range(10**6)))'; echo normal done"


async def test_hostile_jobs_end_with_their_reasons_and_a_normal_job_completes(stack):
    hostile, calm = user_client(stack, "hostile"), user_client(stack, "calm")
    jobs = {
        "fork bomb": (
            hostile,
            await submit(hostile, name="bomb", script=FORK_BOMB, image="minimal"),
        ),
        "memory hog": (
            hostile,
            await submit(hostile, name="hog", script=MEMORY_HOG, image="minimal", memory_mb=128),
        ),
        "disk filler": (
            hostile,
            await submit(hostile, name="filler", script=DISK_FILLER, image="minimal", disk_mb=64),
        ),
        "cpu spinner": (
            calm,
            await submit(calm, name="spinner", script=CPU_SPINNER, image="minimal", timeout=5),
        ),
        "normal": (calm, await submit(calm, name="normal", script=NORMAL, image="minimal")),
    }
    ended = {
        name: await wait_for_status(api, job["id"], timeout=180)
        for name, (api, job) in jobs.items()
    }
    reasons = {name: (job["status"], job["reason"]) for name, job in ended.items()}
    print("hostile job reasons:", reasons, {n: j["message"] for n, j in ended.items()})
    assert reasons == {
        "fork bomb": ("failed", "process limit reached"),
        "memory hog": ("failed", "out of memory"),
        "disk filler": ("failed", "disk limit reached"),
        "cpu spinner": ("failed", "timeout"),
        "normal": ("completed", None),
    }
    api, normal = jobs["normal"]
    assert (await logs(api, normal["id"]))["text"].endswith("normal done\n")
    assert "No space left on device" in ended["disk filler"]["stderr_tail"]
    for api in (hostile, calm):
        await api.aclose()
