"""The download links we sign expire: checked against s3rver, an S3 server that enforces
presigned-link expiry (the moto stand-in does not, and no MinIO server installs here; s3rver
checks neither multipart nor signatures, so only expiry is tested here). `make infra` installs
it; with `S3_ENDPOINT` set, the same test runs against that real server instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from jobyard_objects import ObjectSettings, ObjectStore
from jobyard_testing.stack import free_port

pytestmark = pytest.mark.integration
S3RVER = (
    Path(os.environ.get("JOBYARD_CACHE", "/var/cache/jobyard")) / "s3rver/node_modules/.bin/s3rver"
)
BUCKET = "links"


@pytest.fixture(scope="module")
def storage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    if endpoint := os.environ.get("S3_ENDPOINT"):
        store = ObjectStore(ObjectSettings(endpoint=endpoint), BUCKET)
        store.ensure_bucket()
        yield store
        return
    if not S3RVER.exists() or shutil.which("node") is None:
        pytest.fail(f"{S3RVER} is missing: run `make infra` (it installs s3rver with npm)")
    port = free_port()
    folder = tmp_path_factory.mktemp("s3rver")
    server = subprocess.Popen(
        [
            str(S3RVER),
            "--address",
            "127.0.0.1",
            "--port",
            str(port),
            "--directory",
            str(folder),
            "--configure-bucket",
            BUCKET,
            "--silent",
        ],
    )
    try:
        settings = ObjectSettings(
            endpoint=f"http://127.0.0.1:{port}", access_key="S3RVER", secret_key="S3RVER"
        )
        store = ObjectStore(settings, BUCKET)
        deadline = time.monotonic() + 30
        while True:
            try:
                store.ensure_bucket()
                break
            except Exception:
                assert time.monotonic() < deadline, "s3rver did not start"
                assert server.poll() is None, "s3rver exited"
                time.sleep(0.2)
        yield store
    finally:
        server.terminate()
        server.wait(10)


def test_a_download_link_works_until_it_expires_then_is_refused(storage: ObjectStore) -> None:
    storage.upload_bytes("f/result.csv", b"a,b\n1,2\n", "text/csv")
    url = storage.download_url("f/result.csv", timedelta(seconds=2), "result.csv")

    fresh = httpx.get(url)
    assert fresh.status_code == 200
    assert fresh.content == b"a,b\n1,2\n"
    assert "result.csv" in fresh.headers["content-disposition"]

    time.sleep(3)
    expired = httpx.get(url)
    assert expired.status_code == 403
    assert "expired" in expired.text
