"""The Files API end to end: uploads go straight to storage (one presigned POST, or parts),
file-sync checks them, downloads come from storage through presigned links; the library lists
and filters a user's files; quota, limits, other users' files, deletion, and job inputs.

The S3 stand-in enforces neither presigned-URL expiry nor POST size conditions: links are
checked by what they sign (`X-Amz-Expires`), sizes by the gateway after the upload."""

import hashlib
import os
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from jobyard_objects import FileLimits
from jobyard_testing.jobs import submit, user_client, wait_for_files, wait_for_status
from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def served_limits(stack: Stack) -> FileLimits:
    """The file limits the stack's gateway runs with (the stack's environment over ours)."""
    prefix = "JOBYARD_FILES_"
    given = {
        k.removeprefix(prefix).lower(): v for k, v in stack.env.items() if k.startswith(prefix)
    }
    return FileLimits.model_validate(FileLimits().model_dump() | given)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


async def start_upload(api: httpx.AsyncClient, name: str, size: int, digest: str) -> dict[str, Any]:
    response = await api.post("/v1/files", json={"name": name, "size": size, "sha256": digest})
    assert response.status_code == 201, response.text
    return dict(response.json())


async def send(upload: dict[str, Any], data: bytes) -> list[dict[str, Any]]:
    """The bytes to storage, by a client that is not the gateway's; the parts' ETags."""
    async with httpx.AsyncClient(timeout=120) as storage:
        if upload["method"] == "post":
            sent = await storage.post(upload["url"], data=upload["fields"], files={"file": data})
            assert sent.status_code in (200, 201, 204), sent.text
            return []
        parts = []
        for part in upload["parts"]:
            start = (part["number"] - 1) * upload["part_size"]
            chunk = data[start : start + upload["part_size"]]
            sent = await storage.put(part["url"], content=chunk)
            assert sent.status_code == 200, sent.text
            parts.append({"number": part["number"], "etag": sent.headers["etag"]})
        return parts


async def upload(
    api: httpx.AsyncClient, name: str, data: bytes, digest: str | None = None
) -> tuple[dict[str, Any], httpx.Response]:
    """Upload and complete; the answer to `POST /v1/files` and the completion's response."""
    started = await start_upload(api, name, len(data), digest or sha256(data))
    parts = await send(started["upload"], data)
    completed = await api.post(f"/v1/files/{started['file']['id']}/complete", json={"parts": parts})
    return started, completed


async def listed(api: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await api.get("/v1/files", params=params)
    assert response.status_code == 200, response.text
    return [f["name"] for f in response.json()["files"]]


def signed_for(url: str) -> tuple[datetime, int]:
    """When a presigned URL was signed and for how many seconds."""
    query = parse_qs(urlsplit(url).query)
    signed_at = datetime.strptime(query["X-Amz-Date"][0] + "+0000", "%Y%m%dT%H%M%SZ%z")
    return signed_at, int(query["X-Amz-Expires"][0])


async def test_a_small_file_goes_up_by_post_and_down_by_link_never_through_the_gateway(
    stack: Stack,
) -> None:
    data = b"gene,count\nBRCA1,12\n"
    name = "résumé des données (v2) 📊.csv"
    async with user_client(stack, "files-post") as api:
        started, completed = await upload(api, name, data)
        assert started["file"]["status"] == "uploading"
        assert started["file"]["kind"] == "input"
        assert started["upload"]["method"] == "post"
        storage = urlsplit(started["upload"]["url"]).netloc
        assert storage != urlsplit(stack.base_url).netloc

        assert completed.status_code == 200, completed.text
        ready = completed.json()
        assert (ready["status"], ready["size"], ready["sha256"]) == (
            "ready",
            len(data),
            sha256(data),
        )
        assert (ready["name"], ready["version"], ready["generated_by"]) == (name, 1, None)
        again = await api.post(f"/v1/files/{ready['id']}/complete", json={"parts": []})
        assert again.status_code == 200, again.text

        detail = (await api.get(f"/v1/files/{ready['id']}", params={"expires_in": 120})).json()
        assert urlsplit(detail["download_url"]).netloc == storage
        signed_at, seconds = signed_for(detail["download_url"])
        assert seconds == 120
        expires_at = datetime.fromisoformat(detail["url_expires_at"])
        assert abs(expires_at - (signed_at + timedelta(seconds=120))) < timedelta(seconds=2)
        async with httpx.AsyncClient() as anyone:
            downloaded = await anyone.get(detail["download_url"])
        assert downloaded.content == data
        disposition = downloaded.headers["content-disposition"]
        assert disposition.startswith("attachment;")
        assert "r%C3%A9sum%C3%A9%20des%20donn%C3%A9es" in disposition

        default = (await api.get(f"/v1/files/{ready['id']}")).json()
        assert signed_for(default["download_url"])[1] == served_limits(stack).download_link_seconds
        too_long = await api.get(f"/v1/files/{ready['id']}", params={"expires_in": 604801})
        assert too_long.status_code == 422
        assert "expires_in" in too_long.text


async def test_a_70_mb_file_goes_up_in_parts(stack: Stack) -> None:
    data = os.urandom(70 * 1024 * 1024)
    part_size = served_limits(stack).multipart_part_mb * 1024 * 1024
    async with user_client(stack, "files-multipart") as api:
        started, completed = await upload(api, "reads.fastq.gz", data)
        target = started["upload"]
        assert target["method"] == "multipart"
        assert target["part_size"] == part_size
        assert [p["number"] for p in target["parts"]] == list(
            range(1, -(-len(data) // part_size) + 1)
        )
        assert completed.status_code == 200, completed.text
        ready = completed.json()
        assert (ready["status"], ready["size"], ready["sha256"]) == (
            "ready",
            len(data),
            sha256(data),
        )

        link = (await api.get(f"/v1/files/{ready['id']}")).json()["download_url"]
        digest = hashlib.sha256()
        async with httpx.AsyncClient(timeout=120) as anyone, anyone.stream("GET", link) as got:
            async for chunk in got.aiter_bytes():
                digest.update(chunk)
        assert digest.hexdigest() == sha256(data)


async def test_bytes_that_are_not_what_was_declared_are_rejected(stack: Stack) -> None:
    async with user_client(stack, "files-rejected") as api:
        started, completed = await upload(api, "data.csv", b"the real bytes", sha256(b"others"))
        assert completed.status_code == 422, completed.text
        assert "rejected" in completed.json()["detail"]
        file_id = started["file"]["id"]
        rejected = (await api.get(f"/v1/files/{file_id}")).json()
        assert rejected["status"] == "rejected"
        assert rejected["reason"]
        assert rejected["download_url"] is None
        again = await api.post(f"/v1/files/{file_id}/complete", json={"parts": []})
        assert again.status_code == 422

        short = await start_upload(api, "short.csv", 4, sha256(b"four"))
        await send(short["upload"], b"more than four")
        refused = await api.post(f"/v1/files/{short['file']['id']}/complete")
        assert refused.status_code == 422
        assert "size mismatch" in refused.json()["detail"]


async def test_sizes_over_the_limit_and_names_that_are_no_file_names_store_nothing(
    stack: Stack,
) -> None:
    largest = served_limits(stack).max_file_bytes
    async with user_client(stack, "files-limits") as api:
        for body, field in [
            ({"name": "huge.bin", "size": largest + 1}, "size"),
            ({"name": "a/b.csv", "size": 1}, "name"),
            ({"name": "é" * 128, "size": 1}, "name"),
            ({"name": "..", "size": 1}, "name"),
            ({"name": "x.csv", "size": 1, "sha256": "A" * 64}, "sha256"),
        ]:
            response = await api.post("/v1/files", json={"sha256": "a" * 64} | body)
            assert response.status_code == 422, response.text
            assert field in {e["field"] for e in response.json()["errors"]}
        assert await listed(api) == []

        longest = "é" * 127 + "a"
        assert len(longest.encode()) == 255
        _, completed = await upload(api, longest, b"x")
        assert completed.status_code == 200, completed.text
        assert completed.json()["name"] == longest


async def fill_quota(api: httpx.AsyncClient, limits: FileLimits) -> list[dict[str, Any]]:
    """Uploads under way hold their declared size: fill the quota without sending bytes."""
    held: list[dict[str, Any]] = []
    left = limits.quota_bytes
    while left > 0:
        size = min(left, limits.max_file_bytes)
        held.append(await start_upload(api, f"part-{len(held)}.bin", size, "a" * 64))
        left -= size
    return held


async def test_uploads_past_the_quota_are_a_413_and_deleting_frees_room(stack: Stack) -> None:
    limits = served_limits(stack)
    async with user_client(stack, "files-quota") as api:
        held = await fill_quota(api, limits)
        refused = await api.post(
            "/v1/files", json={"name": "one.txt", "size": 1, "sha256": "a" * 64}
        )
        assert refused.status_code == 413, refused.text
        message = refused.json()["detail"]
        assert f"take {limits.quota_bytes} bytes of your {limits.quota_bytes}" in message
        assert "needs 1 more" in message

        deleted = await api.delete(f"/v1/files/{held[0]['file']['id']}")
        assert deleted.status_code == 204
        await start_upload(api, "one.txt", 1, "a" * 64)


async def test_an_output_past_the_owners_quota_is_rejected_with_a_reason_and_the_job_goes_on(
    stack: Stack,
) -> None:
    limits = served_limits(stack)
    async with user_client(stack, "output-quota") as api:
        await fill_quota(api, limits)
        job = await submit(
            api, name="over-quota", image="minimal", script="echo 42 | tee answer.txt"
        )
        done = await wait_for_status(api, job["id"], timeout=90)
        assert done["status"] == "completed", done
        files = await wait_for_files(
            api, job["id"], lambda f: {"answer.txt", "logs/output.log"} <= set(f)
        )
        full = f"{limits.quota_bytes / 1024**3:.2f} GiB"
        for path in ("answer.txt", "logs/output.log"):  # the log counts like any file
            assert files[path]["status"] == "rejected", files[path]
            assert files[path]["reason"].startswith(f"storage quota: {full} of {full} used")


async def test_another_users_files_are_a_404_and_a_deleted_file_is_gone(stack: Stack) -> None:
    async with (
        user_client(stack, "files-owner") as owner,
        user_client(stack, "files-other") as other,
    ):
        started, completed = await upload(owner, "mine.txt", b"mine")
        assert completed.status_code == 200, completed.text
        file_id = started["file"]["id"]
        for method, path in [
            ("GET", f"/v1/files/{file_id}"),
            ("DELETE", f"/v1/files/{file_id}"),
            ("POST", f"/v1/files/{file_id}/complete"),
        ]:
            response = await other.request(method, path)
            assert response.status_code == 404, (method, response.text)
        assert await listed(other) == []
        theirs = await other.post(
            "/v1/jobs", json={"name": "j", "script": "ls", "inputs": [file_id]}
        )
        assert theirs.status_code == 422
        assert "inputs[0]" in theirs.json()["detail"]

        assert (await owner.get(f"/v1/files/{file_id}")).status_code == 200
        assert (await owner.delete(f"/v1/files/{file_id}")).status_code == 204
        assert (await owner.get(f"/v1/files/{file_id}")).status_code == 404
        assert (await owner.delete(f"/v1/files/{file_id}")).status_code == 404
        assert (await owner.post(f"/v1/files/{file_id}/complete")).status_code == 404
        assert await listed(owner) == []


async def test_the_library_filters_by_text_kind_and_job_newest_first(stack: Stack) -> None:
    async with user_client(stack, "files-library") as api:
        names = ["Results (final).CSV", "plot.png", "notes.txt"]
        for name in names:
            await start_upload(api, name, 1, "a" * 64)
        assert await listed(api) == names[::-1]
        assert await listed(api, limit=2) == ["notes.txt", "plot.png"]
        assert await listed(api, q="results (FINAL)") == ["Results (final).CSV"]
        assert await listed(api, q="plo..png") == []  # `.` is text, not "any character"
        assert await listed(api, q=".PNG") == ["plot.png"]
        assert await listed(api, kind="input") == names[::-1]
        assert await listed(api, kind="output") == []
        assert (await api.get("/v1/files", params={"limit": 1001})).status_code == 422

        _, completed = await upload(api, "samples.csv", b"sample,value\na,1\nb,2\n")
        given = completed.json()
        job = await submit(
            api,
            name="count-samples",
            script="mkdir -p /workspace/out && wc -l < /workspace/inputs/samples.csv "
            "> /workspace/out/count.txt && echo x > /workspace/out/skip.tmp "
            "&& echo done > /workspace/a.txt",
            inputs=[given["id"]],
            outputs={"exclude": ["**/*.tmp"]},
        )
        assert job["inputs"] == [
            {
                "file_id": given["id"],
                "name": "samples.csv",
                "size": 21,
                "path": "inputs/samples.csv",
            }
        ]
        done = await wait_for_status(api, job["id"])
        assert done["status"] == "completed", done

        wanted = ("a.txt", "out/count.txt")
        outputs = await wait_for_files(
            api, job["id"], lambda f: all(f.get(p, {}).get("status") == "ready" for p in wanted)
        )
        produced = [f for f in outputs.values() if f["kind"] == "output"]
        assert tuple(f["path"] for f in produced) == wanted
        assert all(
            f["generated_by"]
            == {"kind": "script", "job_id": job["id"], "job_name": "count-samples"}
            for f in produced
        )
        step_files = done["plan"][0]["files"]
        assert [f["path"] for f in step_files if f["kind"] == "output"] == list(wanted)
        by_job = await listed(api, job_id=job["id"], kind="output")
        assert sorted(by_job) == ["a.txt", "count.txt"]
        count = next(f for f in produced if f["path"] == "out/count.txt")
        link = (await api.get(f"/v1/files/{count['id']}")).json()["download_url"]
        async with httpx.AsyncClient() as anyone:
            assert (await anyone.get(link)).text.strip() == "3"

        assert (await api.delete(f"/v1/jobs/{job['id']}")).status_code == 200
        assert await listed(api, job_id=job["id"]) == []
        assert (await api.get(f"/v1/files/{count['id']}")).status_code == 404
        assert (await api.get(f"/v1/jobs/{job['id']}/files")).status_code == 404
        assert "samples.csv" in await listed(api)  # an input outlives the jobs that used it


async def test_a_job_naming_a_file_that_is_not_a_ready_upload_is_a_422_and_not_created(
    stack: Stack,
) -> None:
    async with user_client(stack, "files-bad-inputs") as api:
        pending = await start_upload(api, "later.csv", 1, "a" * 64)
        for inputs in (["file-doesnotexist"], [pending["file"]["id"]]):
            response = await api.post(
                "/v1/jobs", json={"name": "uses-inputs", "script": "ls", "inputs": inputs}
            )
            assert response.status_code == 422, response.text
            assert [e["field"] for e in response.json()["errors"]] == ["inputs[0]"]
        bad_outputs = await api.post(
            "/v1/jobs", json={"name": "j", "script": "ls", "outputs": {"include": ["/etc/*"]}}
        )
        assert bad_outputs.status_code == 422
        assert "outputs" in bad_outputs.json()["detail"]
        assert (await api.get("/v1/jobs")).json()["jobs"] == []
