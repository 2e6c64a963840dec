"""Outputs saved by the host's file-sync while jobs run: listed before the job ends, checksums
that match what a presigned link serves, versions of a rewritten file, a cancelled job's files
kept, scripts and logs saved, file-sync killed mid-upload, the output rule (caches, excludes,
inputs, odd names, links out of the workspace, the size limit), and inputs in the workspace."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from minio import Minio

from jobyard_contracts import FileKind
from jobyard_objects import ObjectSettings
from jobyard_store.files import output_file_id
from jobyard_testing.jobs import (
    logs,
    start_agent,
    submit,
    user_client,
    wait_for_files,
    wait_for_status,
    wait_until_job,
)
from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

LINE = b"jobyard-output-line\n"
BIG = 300_000_000


def repeated_sha256(size: int) -> str:
    """SHA-256 of `yes jobyard-output-line | head -c size`."""
    block, sha, left = LINE * 52_429, hashlib.sha256(), size
    while left:
        chunk = block[: min(left, len(block))]
        sha.update(chunk)
        left -= len(chunk)
    return sha.hexdigest()


async def download(api: httpx.AsyncClient, file_id: str) -> tuple[str, bytes, dict[str, Any]]:
    """Through the presigned link (straight from storage): SHA-256, first bytes, the answer."""
    answer = (await api.get(f"/v1/files/{file_id}")).json()
    assert answer["download_url"], answer
    sha, head = hashlib.sha256(), b""
    async with (
        httpx.AsyncClient(timeout=120) as storage,
        storage.stream("GET", answer["download_url"]) as response,
    ):
        assert response.status_code == 200
        async for chunk in response.aiter_bytes(1 << 20):
            sha.update(chunk)
            head = head or chunk[:200]
    return sha.hexdigest(), head, answer


def rss_kib(stack: Stack, service: str) -> int:
    status = Path(f"/proc/{stack.processes[service].pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


def ready(*paths: str) -> Any:
    return lambda files: all(files.get(p, {}).get("status") == "ready" for p in paths)


async def test_outputs_are_listed_while_the_job_runs_and_served_from_storage(stack: Stack) -> None:
    script = f"""
mkdir -p results
printf 'sample,value\\na,1\\nb,2\\n' > results/table.csv
python3 -c "import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt; \\
plt.plot([1, 3, 2]); plt.savefig('results/plot.png')"
yes jobyard-output-line | head -c {BIG} > big.bin
echo written
sleep 600
"""
    async with user_client(stack, "outputs") as api:
        job = await submit(api, name="three-outputs", image="base", script=script)
        files = await wait_for_files(
            api, job["id"], ready("results/table.csv", "results/plot.png", "big.bin"), 120
        )
        assert (await api.get(f"/v1/jobs/{job['id']}")).json()["status"] == "running"
        big = files["big.bin"]
        assert big["size"] == BIG
        assert big["sha256"] == repeated_sha256(BIG)
        assert big["kind"] == "output"
        assert big["generated_by"] == {
            "kind": "script",
            "job_id": job["id"],
            "job_name": job["name"],
        }
        assert files["results/plot.png"]["content_type"] == "image/png"
        assert files["results/table.csv"]["content_type"] == "text/csv"

        gateway_before = rss_kib(stack, "gateway")
        sha, _, answer = await download(api, big["id"])
        assert sha == big["sha256"]
        sha, head, _ = await download(api, files["results/table.csv"]["id"])
        assert head == b"sample,value\na,1\nb,2\n"
        _, head, _ = await download(api, files["results/plot.png"]["id"])
        assert head.startswith(b"\x89PNG")
        # The bytes went from storage to the client: the gateway never held them.
        assert rss_kib(stack, "gateway") - gateway_before < 50_000
        assert answer["url_expires_at"]
        assert "X-Amz-Expires=900" in answer["download_url"]

        response = await api.post(f"/v1/jobs/{job['id']}/stop")
        assert response.status_code == 200, response.text
        files = await wait_for_files(api, job["id"], ready("logs/output.log"))
        scripts = [f for f in files.values() if f["kind"] == "script"]
        assert len(scripts) == 1
        _, head, _ = await download(api, scripts[0]["id"])
        assert head.startswith(b"\nmkdir -p results")
        _, head, _ = await download(api, files["logs/output.log"]["id"])
        assert b"written" in head


async def test_file_sync_killed_mid_upload_loses_nothing(stack: Stack) -> None:
    size = 400_000_000  # several seconds of upload: room to kill file-sync in the middle
    script = f"yes jobyard-output-line | head -c {size} > large.bin && echo done"
    expected = repeated_sha256(size)
    async with user_client(stack, "killed") as api:
        job = await submit(api, name="large-output", image="minimal", script=script)
        settings = ObjectSettings(endpoint=stack.env["JOBYARD_S3_ENDPOINT"])
        endpoint = urlsplit(settings.endpoint)
        storage = Minio(
            endpoint.netloc,
            settings.access_key,
            settings.secret_key.get_secret_value(),
            secure=endpoint.scheme == "https",
        )
        bucket = f"{stack.namespace}-files"
        try:
            deadline = time.monotonic() + 120
            # This job's upload (other tests may leave unfinished uploads of their own).
            file_id = output_file_id(job["id"], FileKind.OUTPUT, "large.bin")
            while not any(
                file_id in (upload.object_name or "")
                for upload in storage._list_multipart_uploads(bucket).uploads
            ):
                assert time.monotonic() < deadline, "the upload never started"
                await asyncio.sleep(0.05)
            stack.kill("file-sync")
            listed = (await api.get(f"/v1/jobs/{job['id']}/files")).json()["files"]
            large = [f for f in listed if f["path"] == "large.bin"]
            # Never a partial file: if the upload ended just before the kill, it is whole.
            assert all((f["size"], f["sha256"]) == (size, expected) for f in large), large
            if not large:
                await asyncio.sleep(1)
                # The step has ended, but the job waits for its outputs.
                job_now = (await api.get(f"/v1/jobs/{job['id']}")).json()
                assert job_now["status"] == "running", job_now
        finally:
            if "file-sync" not in stack.processes:
                stack.start("file-sync")
        done = await wait_for_status(api, job["id"], timeout=120)
        assert done["status"] == "completed", done
        files = await wait_for_files(api, job["id"], ready("large.bin"), 10)
        assert (files["large.bin"]["size"], files["large.bin"]["sha256"]) == (size, expected)
        assert files["large.bin"]["version"] == 1
        # The killed upload's parts were aborted before the file was sent again.
        left = storage._list_multipart_uploads(bucket).uploads
        assert [u.object_name for u in left if file_id in (u.object_name or "")] == []


async def test_a_rewritten_file_keeps_versions_and_steps_show_their_files(stack: Stack) -> None:
    async with user_client(stack, "versions") as api:
        job = await start_agent(
            api,
            instruction="Write a file three times, then another",
            steps=[
                {
                    "title": "Rewrite",
                    "script": "for v in 1 2 3; do echo version $v > notes.txt; sleep 2; done",
                },
                {"title": "Summarise", "script": "wc -c notes.txt > summary.txt"},
            ],
        )
        done = await wait_for_status(api, job["id"], timeout=120)
        assert done["status"] == "completed", done
        files = await wait_for_files(api, job["id"], ready("notes.txt", "summary.txt"))
        notes = files["notes.txt"]
        assert notes["version"] == 3
        assert notes["sha256"] == hashlib.sha256(b"version 3\n").hexdigest()
        assert notes["step_index"] == 0
        assert files["summary.txt"]["step_index"] == 1
        assert notes["generated_by"]["kind"] == "agent"
        steps = done["plan"]
        assert [f["path"] for f in steps[0]["files"] if f["kind"] == "output"] == ["notes.txt"]
        assert "summary.txt" in [f["path"] for f in steps[1]["files"]]
        assert done["files"]["count"] >= 2


async def test_cancel_mid_job_keeps_what_was_produced(stack: Stack) -> None:
    async with user_client(stack, "cancel") as api:
        job = await start_agent(
            api,
            instruction="Produce, then take forever",
            steps=[
                {"title": "Produce", "script": "echo first > first.txt"},
                {"title": "Forever", "script": "echo partial > second.txt; sleep 600"},
            ],
        )
        await wait_until_job(
            api, job["id"], lambda j: j["plan"][1]["status"] == "running", timeout=60
        )
        response = await api.post(f"/v1/jobs/{job['id']}/cancel")
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "cancelled"
        # It ended at once; its last files follow, and `files.complete` says when all are in.
        await wait_until_job(api, job["id"], lambda j: j["files"]["complete"], timeout=60)
        files = await wait_for_files(
            api, job["id"], ready("first.txt", "second.txt", "logs/output.log"), timeout=2
        )
        assert files["first.txt"]["step_index"] == 0
        assert sorted(f["path"] for f in files.values() if f["kind"] == "script") == [
            "steps/01-Produce.sh",
            "steps/02-Forever.sh",
        ]
        assert (await api.get(f"/v1/jobs/{job['id']}")).json()["status"] == "cancelled"


async def test_the_output_rule_names_links_and_limits(stack: Stack) -> None:
    long_name = "n" * 251 + ".txt"  # 255 bytes, the most a name may have
    script = f"""
mkdir -p "with spaces/ünïcødé" __pycache__ .cache/pip .git/objects
echo hi > "with spaces/ünïcødé/résumé файл.txt"
echo long > {long_name}
echo cache > __pycache__/mod.cpython-313.pyc
echo cache > .cache/pip/blob
echo git > .git/objects/abc
echo scratch > scratch.tmp
ln -s /etc/passwd leak.txt
ln -s /etc linked-dir
truncate -s 6G huge.bin
echo ok
"""
    async with user_client(stack, "rule") as api:
        job = await submit(
            api, name="odd-names", image="minimal", script=script, outputs={"exclude": ["*.tmp"]}
        )
        done = await wait_for_status(api, job["id"], timeout=90)
        assert done["status"] == "completed", done
        files = await wait_for_files(api, job["id"], lambda f: "logs/output.log" in f)
        outputs = {p: f for p, f in files.items() if f["kind"] == "output"}
        assert sorted(outputs) == sorted(
            ["with spaces/ünïcødé/résumé файл.txt", long_name, "huge.bin"]
        )
        huge = outputs["huge.bin"]
        assert huge["status"] == "rejected"
        assert "limit" in huge["reason"]
        assert huge["size"] == 6 * 1024**3
        _, head, answer = await download(api, outputs[long_name]["id"])
        assert head == b"long\n"
        _, head, _ = await download(api, outputs["with spaces/ünïcødé/résumé файл.txt"]["id"])
        assert head == b"hi\n"
        assert answer["name"] == long_name


async def test_inputs_uploaded_with_the_sdk_are_in_the_workspace(
    stack: Stack, tmp_path: Path
) -> None:
    from jobyard import Jobyard

    data = tmp_path / "measurements.csv"
    data.write_text("x,y\n1,2\n3,4\n")
    key = stack.new_user(f"inputs-{time.monotonic_ns()}")
    with Jobyard(api_key=key, base_url=stack.base_url) as client:
        uploaded = client.files.upload(data)
        assert uploaded.status == "ready"
        assert uploaded.sha256 == hashlib.sha256(data.read_bytes()).hexdigest()
    async with httpx.AsyncClient(
        base_url=stack.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as api:
        script = "sha256sum inputs/measurements.csv && wc -l < inputs/measurements.csv > lines.txt"
        job = await submit(
            api, name="with-inputs", image="minimal", script=script, inputs=[uploaded.id]
        )
        done = await wait_for_status(api, job["id"], timeout=90)
        assert done["status"] == "completed", done
        output = "\n".join(line["text"] for line in (await logs(api, job["id"]))["lines"])
        assert uploaded.sha256 in output
        files = await wait_for_files(api, job["id"], ready("lines.txt"))
        assert "inputs/measurements.csv" not in files  # an input is not an output
