"""`client.files` against the fake gateway and its storage: what reaches storage for a form
upload and a multipart one, completion and verification, checked downloads, list filters."""

import hashlib
from pathlib import Path

import pytest

from jobyard import (
    ChecksumMismatchError,
    ConflictError,
    Job,
    QuotaExceededError,
    StorageError,
    ValidationError,
)
from jobyard import _requests as rq
from jobyard.agent_jobs import AgentJobs

pytestmark = pytest.mark.unit

DATA = bytes(range(256)) * 10  # 2560 bytes: three parts of the fake's 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def local(tmp_path: Path) -> Path:
    path = tmp_path / "data.csv"
    path.write_bytes(DATA)
    return path


def test_a_small_file_is_one_form_post_with_the_file_last(gateway, files, local):
    local.write_bytes(DATA[:1000])
    seen = []
    file = files.upload(local, progress=lambda done, total: seen.append((done, total)))
    fake = gateway.files
    assert fake.created == [
        {
            "name": "data.csv",
            "size": 1000,
            "sha256": sha256(DATA[:1000]),
            "content_type": "text/csv",
        }
    ]
    (form,) = fake.forms
    assert [name for name, _ in form] == ["key", "policy", "x-amz-signature", "file"]
    assert form[-1][1] == DATA[:1000]
    assert fake.completed == [{"parts": []}]
    assert (file.id, file.status, file.size) == ("file-1", "ready", 1000)
    assert seen[-1] == (1000, 1000)
    assert all("authorization" not in headers for headers in fake.storage_headers)


def test_a_large_file_goes_in_parts_with_their_etags_then_waits_for_verification(
    gateway, files, local
):
    gateway.files.verifying_polls = 2
    seen = []
    file = files.upload(
        local, name="renamed", poll_interval=0, progress=lambda *done: seen.append(done)
    )
    fake = gateway.files
    assert {number: len(data) for number, data in fake.puts.items()} == {1: 1024, 2: 1024, 3: 512}
    assert fake.stored == DATA
    assert fake.completed == [{"parts": [{"number": n, "etag": f'"etag-{n}"'} for n in (1, 2, 3)]}]
    assert fake.created[0]["name"] == "renamed"
    assert "content_type" not in fake.created[0]  # none given, none to guess from the name
    assert fake.polls == 3
    assert file.status == "ready"
    assert seen == [(1024, 2560), (2048, 2560), (2560, 2560)]
    assert fake.forms == []


async def test_async_upload_in_parts_and_download(gateway, async_files, local, tmp_path):
    gateway.files.verifying_polls = 1
    file = await async_files.upload(local, content_type="text/plain", poll_interval=0)
    assert file.status == "ready"
    assert gateway.files.created[0]["content_type"] == "text/plain"
    assert len(gateway.files.puts) == 3
    saved = await async_files.download(file.id, tmp_path / "back.csv")
    assert saved.read_bytes() == DATA


@pytest.mark.parametrize("verifying_polls", [0, 2], ids=["at-complete", "after-verifying"])
def test_a_rejected_upload_raises_with_the_reason(gateway, files, local, verifying_polls):
    gateway.files.verifying_polls = verifying_polls
    gateway.files.reject_with = "bigger than the largest file allowed"
    with pytest.raises(ValidationError, match="bigger than the largest file allowed"):
        files.upload(local, poll_interval=0)


def test_bytes_changed_after_hashing_are_rejected_by_the_server(gateway, files, local):
    def changed_midway(done, total):
        local.write_bytes(DATA[::-1])

    with pytest.raises(ValidationError, match="SHA-256"):
        files.upload(local, progress=changed_midway, poll_interval=0)


def test_an_upload_over_the_quota_sends_no_bytes(gateway, files, local):
    gateway.files.quota = 100
    with pytest.raises(QuotaExceededError, match="quota") as refused:
        files.upload(local)
    assert refused.value.status_code == 413
    assert (gateway.files.forms, gateway.files.puts) == ([], {})


def test_verification_that_never_ends_times_out(gateway, files, local):
    gateway.files.verifying_polls = 1000
    with pytest.raises(TimeoutError, match="verifying"):
        files.upload(local, poll_interval=0, timeout=0)


def test_storage_refusing_a_link_is_a_storage_error_with_its_message(gateway, files, local):
    gateway.files.link_expired = True
    with pytest.raises(StorageError, match="403: Request has expired"):
        files.upload(local)
    assert gateway.files.completed == []


def test_download_is_checked_and_saved_under_its_name_here(gateway, files, tmp_path, monkeypatch):
    gateway.files.serve(DATA, name="report.csv")
    monkeypatch.chdir(tmp_path)
    seen = []
    saved = files.download("file-1", progress=lambda *done: seen.append(done))
    assert saved == Path("report.csv")
    assert (tmp_path / "report.csv").read_bytes() == DATA
    assert (seen[0], seen[-1]) == ((0, 2560), (2560, 2560))
    assert [path.name for path in tmp_path.iterdir()] == ["report.csv"]
    assert all("authorization" not in headers for headers in gateway.files.storage_headers)


def test_download_into_a_folder_keeps_only_the_last_part_of_the_name(gateway, files, tmp_path):
    gateway.files.serve(DATA, name="../../etc/passwd")
    assert files.download("file-1", tmp_path) == tmp_path / "passwd"


def test_a_corrupted_download_raises_and_leaves_nothing(gateway, files, tmp_path):
    gateway.files.serve(DATA)
    gateway.files.corrupt = True
    with pytest.raises(ChecksumMismatchError, match="SHA-256"):
        files.download("file-1", tmp_path / "out.csv")
    assert list(tmp_path.iterdir()) == []


def test_a_file_not_ready_cannot_be_downloaded(gateway, files, tmp_path):
    gateway.files.view |= {"status": "uploading"}
    with pytest.raises(ConflictError, match="uploading, not ready"):
        files.download("file-1", tmp_path / "out.csv")
    assert gateway.files.storage_headers == []


def test_get_asks_for_a_link_lifetime_only_when_given(gateway, files):
    gateway.files.serve(DATA)
    assert files.get("file-1").download_url is not None
    files.get("file-1", expires_in=60)
    assert gateway.files.gets == [{}, {"expires_in": "60"}]


def test_lists_send_only_the_filters_given(gateway, files, jobs, api):
    files.list()
    files.list(job_id=api.job_id, kind="output", q="csv", limit=5)
    assert [file.id for file in jobs.files(api.job_id)] == [api.file_id]
    assert gateway.files.listed == [
        ("/v1/files", {"limit": "100"}),
        ("/v1/files", {"job_id": api.job_id, "kind": "output", "q": "csv", "limit": "5"}),
        (f"/v1/jobs/{api.job_id}/files", {}),
    ]


async def test_delete_is_a_204(gateway, files, async_files):
    assert files.delete("file-1") is None
    assert await async_files.delete("file-1") is None
    assert gateway.files.deleted == ["file-1", "file-1"]


def test_jobs_are_given_inputs_and_output_patterns_only_when_set(gateway, jobs):
    jobs.create("plain", "true")
    jobs.create("count", "wc -l inputs/*", inputs=["file-1"], outputs={"include": ["*.txt"]})
    AgentJobs(jobs).start("tidy", inputs=["file-1"], outputs={"exclude": ["tmp/**"]})
    plain, script, agent = (body for _, _, body in gateway.requests)
    assert "inputs" not in plain
    assert "outputs" not in plain
    assert (script["inputs"], script["outputs"]) == (["file-1"], {"include": ["*.txt"]})
    assert (agent["inputs"], agent["outputs"]) == (["file-1"], {"exclude": ["tmp/**"]})


def test_an_empty_input_list_is_left_out():
    assert "inputs" not in (rq.start_agent("tidy", inputs=[]).json or {})


def test_job_views_carry_inputs_file_totals_and_each_steps_files(api):
    step_file = {"id": "file-2", "path": "out/a.csv", "size": 10, "kind": "output"}
    job = Job.model_validate(
        api.job(
            inputs=[{"file_id": "file-1", "name": "data.csv", "size": 20}],
            files={"count": 2, "bytes": 30},
            plan=[api.step(0, "completed", files=[step_file])],
        )
    )
    assert job.inputs[0].name == "data.csv"
    assert (job.files.count, job.files.bytes) == (2, 30)
    assert job.plan[0].files[0].path == "out/a.csv"
    assert Job.model_validate(api.job()).files.count == 0  # older gateways: no totals
