"""Two sandbox hosts against one Docker engine (the second under gVisor): placement spreads
jobs, commands reach the owning host, one host's death leaves the other's jobs alone, a host
that never comes back fails its jobs and keeps their files; root under gVisor installs
packages."""

import asyncio
import json
import subprocess
import time

import httpx
import pytest

from jobyard_testing.containers import job_containers
from jobyard_testing.jobs import logs, submit, user_client, wait_for_files, wait_for_status
from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

HOST_B = "host-b"


def gvisor_available() -> bool:
    info = subprocess.run(
        ["docker", "info", "--format", "{{json .Runtimes}}"], capture_output=True, text=True
    )
    runtimes = json.loads(info.stdout or "{}")
    return {"runsc", "runsc-host"} <= set(runtimes)


@pytest.fixture(scope="module")
def host_b(stack: Stack, tmp_path_factory):
    """A second sandbox host: gVisor where Docker has it. It alone offers the image name
    `gvisor-base`, which lets a test place a job on it."""
    runtime = "runsc" if gvisor_available() else "runc"
    images = {
        "base": "jobyard/sandbox-base:latest",
        "minimal": "jobyard/sandbox-minimal:latest",
        "gvisor-base": "jobyard/sandbox-base:latest",
    }
    host = {
        "JOBYARD_SANDBOX_HOST_ID": HOST_B,
        "JOBYARD_SANDBOX_STATE_DIR": str(tmp_path_factory.mktemp("host-b-state")),
    }
    env = host | {"JOBYARD_SANDBOX_RUNTIME": runtime, "JOBYARD_SANDBOX_IMAGES": json.dumps(images)}
    stack.start("sandbox-manager", instance=HOST_B, env=env)
    # Every sandbox host has its file-sync: a step's end waits for its outputs.
    stack.start("file-sync", instance=f"{HOST_B}-files", env=host)
    time.sleep(2.5)  # its first report reaches the scheduler
    yield runtime
    stack.stop(HOST_B)  # a clean stop withdraws its images and its report
    stack.stop(f"{HOST_B}-files")


async def test_jobs_spread_over_hosts_and_commands_reach_the_owner(stack, host_b):
    apis = [user_client(stack, "spread") for _ in range(2)]
    jobs = []
    for i in range(4):
        api = apis[i % 2]
        jobs.append(
            (
                api,
                await submit(
                    api,
                    name=f"spread{i}",
                    # long enough to outlive the test even on a slow host
                    script="for i in $(seq 1 300); do echo $i; sleep 0.2; done",
                    image="minimal",
                ),
            )
        )
    running = [await wait_for_status(api, job["id"], {"running"}, timeout=60) for api, job in jobs]
    hosts = {job["sandbox"]["host"] for job in running}
    assert hosts == {"host-a", HOST_B}, hosts

    # Pause and cancel reach the owner of each job.
    for (api, job), seen in zip(jobs, running, strict=True):
        paused = (await api.post(f"/v1/jobs/{job['id']}/pause")).json()
        assert paused["status"] == "paused", (seen["sandbox"], paused)
    for api, job in jobs:
        assert (await api.post(f"/v1/jobs/{job['id']}/cancel")).json()["status"] == "cancelled"
    for api in apis:
        await api.aclose()


async def test_killing_one_host_leaves_the_other_hosts_jobs_alone(stack, host_b):
    api = user_client(stack, "kill-host")
    script = "for i in $(seq 1 25); do echo $i; sleep 0.2; done"
    jobs = [await submit(api, name=f"k{i}", script=script, image="minimal") for i in range(2)]
    running = [await wait_for_status(api, job["id"], {"running"}, timeout=60) for job in jobs]
    by_host = {job["sandbox"]["host"]: job for job in running}
    if set(by_host) != {"host-a", HOST_B}:
        pytest.skip(f"both jobs were placed on {set(by_host)}")
    stack.kill(HOST_B)
    done_a = await wait_for_status(api, by_host["host-a"]["id"], timeout=60)
    assert done_a["status"] == "completed"
    stuck = (await api.get(f"/v1/jobs/{by_host[HOST_B]['id']}")).json()
    assert stuck["status"] == "running"  # nobody else touched host-b's sandbox
    stack.start("sandbox-manager", instance=HOST_B)
    done_b = await wait_for_status(api, by_host[HOST_B]["id"], timeout=60)
    assert done_b["status"] == "completed"
    text = (await logs(api, done_b["id"]))["text"]
    assert text == "".join(f"{i}\n" for i in range(1, 26))
    await api.aclose()


async def test_a_host_that_never_comes_back_fails_its_job_and_keeps_its_files(stack, tmp_path):
    """host-d dies with its machine (services SIGKILLed, its containers gone): a scheduler
    replica with a short grace ends the job failed, naming the host; what file-sync saved
    before stays listed and downloadable."""
    host = {
        "JOBYARD_SANDBOX_HOST_ID": "host-d",
        "JOBYARD_SANDBOX_STATE_DIR": str(tmp_path / "host-d-state"),
    }
    images = {"lost-minimal": "jobyard/sandbox-minimal:latest"}
    stack.start(
        "sandbox-manager",
        instance="host-d",
        env={**host, "JOBYARD_SANDBOX_IMAGES": json.dumps(images)},
    )
    stack.start("file-sync", instance="host-d-files", env=host)
    grace = {
        "JOBYARD_SCHEDULER_HOST_LOST_SECONDS": "8",
        "JOBYARD_SCHEDULER_REQUEUE_INTERVAL_SECONDS": "1",
    }
    stack.start("scheduler", instance="scheduler-short-grace", env=grace)
    api = user_client(stack, "lost-host")
    try:
        script = "printf 'a,b\\n1,2\\n' > result.csv; echo saved; sleep 600"
        job = await submit(api, name="lost", script=script, image="lost-minimal")
        files = await wait_for_files(
            api, job["id"], lambda f: f.get("result.csv", {}).get("status") == "ready"
        )
        running = (await api.get(f"/v1/jobs/{job['id']}")).json()
        assert (running["status"], running["sandbox"]["host"]) == ("running", "host-d")

        stack.kill("host-d")
        stack.kill("host-d-files")
        names = list(job_containers(stack.namespace, job["id"]))
        remove = ["docker", "rm", "-f", *names]
        await asyncio.to_thread(subprocess.run, remove, check=True, capture_output=True)

        failed = await wait_for_status(api, job["id"], timeout=60)
        assert (failed["status"], failed["reason"]) == ("failed", "sandbox error"), failed
        assert "host host-d has not reported since" in failed["message"]
        assert failed["files"]["complete"] is True
        # Nothing offers its image any more: a job asking for it is refused, not left waiting.
        refused = await api.post(
            "/v1/jobs", json={"name": "x", "script": "true", "image": "lost-minimal"}
        )
        assert refused.status_code == 422, refused.text
        assert "unknown image 'lost-minimal'" in refused.text
        assert (await logs(api, job["id"]))["text"] == "saved\n"

        kept = (await api.get(f"/v1/files/{files['result.csv']['id']}")).json()
        assert kept["status"] == "ready"
        async with httpx.AsyncClient() as storage:
            body = (await storage.get(kept["download_url"])).content
        assert body == b"a,b\n1,2\n"
    finally:
        await api.aclose()
        stack.stop("scheduler-short-grace")
        for name in ("host-d", "host-d-files"):
            if name in stack.processes:
                stack.kill(name)


async def test_under_gvisor_root_installs_a_debian_package_used_by_the_next_step(stack, host_b):
    if host_b != "runsc":
        pytest.skip("gVisor (runsc) is not registered with Docker on this machine")
    api = user_client(stack, "apt")
    steps = [
        {
            "title": "install",
            "script": "apt-get update -qq && apt-get install -y -qq --no-install-recommends "
            "cowsay >/dev/null && echo installed",
        },
        {"title": "use", "script": "/usr/games/cowsay moo; uname -r; id -u"},
    ]
    response = await api.post(
        "/v1/jobs",
        json={
            "name": "apt",
            "steps": steps,
            "image": "gvisor-base",
            "network": "internet",
            "memory_mb": 1024,
        },
    )
    assert response.status_code == 201, response.text
    job = response.json()
    done = await wait_for_status(api, job["id"], timeout=240)
    assert done["status"] == "completed", (done, (await logs(api, job["id"]))["text"])
    assert done["sandbox"]["runtime"] == "runsc"
    text = (await logs(api, job["id"]))["text"]
    assert "installed" in text
    assert "moo" in text
    assert text.splitlines()[-2] == "4.4.0"  # gVisor's kernel, not the host's
    assert text.splitlines()[-1] == "0"
    await api.aclose()
