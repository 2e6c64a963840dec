"""Bad input gets a clear 4xx naming the field, and stores nothing."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from litestar.testing import AsyncTestClient

from jobyard_gateway.adapters.users import UserStore
from jobyard_gateway.app import create_app
from jobyard_gateway.settings import GatewaySettings, JobLimits
from jobyard_objects import ObjectSettings
from jobyard_store import ImageRegistry
from jobyard_testing.cleanup import delete_namespace
from jobyard_testing.stack import free_port

pytestmark = pytest.mark.integration


@asynccontextmanager
async def gateway(infra, mongo_db, limits: JobLimits, user: str) -> AsyncIterator[AsyncTestClient]:
    """The app on its own database, signed in as a new `user`; the test inspects that
    database with its own client."""
    namespace = mongo_db.name
    settings = GatewaySettings(
        infra=infra.model_copy(update={"namespace": namespace}), limits=limits
    )
    _, key = await UserStore(mongo_db).create(user)
    await ImageRegistry(mongo_db).register("base", "jobyard/sandbox-base:latest", "host-a", {})
    try:
        async with AsyncTestClient(create_app(settings)) as client:
            client.headers["Authorization"] = f"Bearer {key}"
            client.db = mongo_db
            yield client
    finally:
        await delete_namespace(namespace)


@pytest.fixture
async def client(infra, mongo_db):
    async with gateway(infra, mongo_db, JobLimits(max_memory_mb=4096), "alice") as client:
        yield client


async def stored_jobs(client) -> int:
    return await client.db["jobs"].count_documents({})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"script": "echo"}, "name"),
        ({"name": "a"}, "script"),
        ({"name": "a", "script": "echo", "vcpus": 0}, "vcpus"),
        ({"name": "a", "script": "echo", "memory_mb": 8192}, "memory_mb"),
        ({"name": "a", "script": "echo", "colour": "blue"}, "colour"),
        ({"name": "a", "script": "echo", "timeout": -1}, "timeout"),
        ({"name": "a b", "script": "echo"}, "name"),
        ({"name": "a", "script": "echo", "env": {"BAD-NAME": "x"}}, "env"),
        ({"name": "a", "script": "echo", "vcpus": "four"}, "vcpus"),
        ({"name": "a", "script": "echo", "image": "no-such-image"}, "image"),
        ({"name": "a", "script": "echo", "network": "everywhere"}, "network"),
        ({"name": "a", "script": "echo", "inputs": ["file-nope"]}, "inputs[0]"),
        ({"name": "a", "script": "echo", "outputs": {"include": ["/etc/*"]}}, "outputs"),
    ],
)
async def test_invalid_fields_are_a_422_naming_the_field(client, body, field):
    response = await client.post("/v1/jobs", json=body)
    assert response.status_code == 422, response.text
    error = response.json()
    assert field in error["detail"]
    assert field in {e["field"].split(".")[0] for e in error["errors"]}
    assert await stored_jobs(client) == 0


async def test_malformed_json_is_a_400_and_stores_nothing(client):
    response = await client.post(
        "/v1/jobs",
        content=b'{"name": "a", "script": ',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert "malformed" in response.json()["detail"]
    assert await stored_jobs(client) == 0


async def test_missing_or_wrong_api_key_is_a_401(client):
    key = client.headers.pop("Authorization")
    missing = await client.get("/v1/jobs/job_x")
    assert missing.status_code == 401
    assert "missing API key" in missing.json()["detail"]
    wrong = await client.get("/v1/jobs/job_x", headers={"Authorization": "Bearer jy_nope"})
    assert wrong.status_code == 401
    assert "invalid API key" in wrong.json()["detail"]
    client.headers["Authorization"] = key


async def test_another_users_job_is_a_404_like_a_missing_one(client):
    created = await client.post("/v1/jobs", json={"name": "mine", "script": "echo"})
    assert created.status_code == 201
    job_id = created.json()["id"]
    _, bob_key = await UserStore(client.db).create("bob")
    bob = {"Authorization": f"Bearer {bob_key}"}
    assert (await client.get(f"/v1/jobs/{job_id}", headers=bob)).status_code == 404
    assert (await client.get(f"/v1/jobs/{job_id}/logs", headers=bob)).status_code == 404
    assert (await client.get("/v1/jobs/job_missing")).status_code == 404
    assert (await client.get(f"/v1/jobs/{job_id}")).json()["status"] == "pending"


async def test_health_is_public(client):
    client.headers.pop("Authorization")
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {
        "status": "ok",
        "mongodb": True,
        "rabbitmq": True,
    }


async def test_images_are_listed_with_their_manifests(client):
    images = (await client.get("/v1/images")).json()
    assert [(i["name"], i["hosts"]) for i in images] == [("base", ["host-a"])]
    assert (await client.get("/v1/images/base")).json()[
        "reference"
    ] == "jobyard/sandbox-base:latest"
    assert (await client.get("/v1/images/nope")).status_code == 404
    unknown = await client.post("/v1/jobs", json={"name": "a", "script": "x", "image": "nope"})
    assert "available: base" in unknown.json()["detail"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "a/b.csv"}, "name"),
        ({"name": ".."}, "name"),
        ({"size": -1}, "size"),
        ({"size": 5 * 1024**3 + 1}, "size"),
        ({"sha256": "A" * 64}, "sha256"),
        ({"content_type": "not a type"}, "content_type"),
        ({"colour": "blue"}, "colour"),
    ],
)
async def test_invalid_uploads_are_a_422_naming_the_field_and_store_nothing(client, body, field):
    upload = {"name": "a.csv", "size": 1, "sha256": "a" * 64} | body
    response = await client.post("/v1/files", json=upload)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}
    assert await client.db["files"].count_documents({}) == 0


async def test_unreachable_file_storage_is_a_503_and_jobs_still_work(infra, mongo_db) -> None:
    """Storage down at start and while asked: the files API says so (never a 500)."""
    dead = f"http://127.0.0.1:{free_port()}"
    settings = GatewaySettings(
        infra=infra.model_copy(update={"namespace": mongo_db.name}),
        objects=ObjectSettings(endpoint=dead),
    )
    _, key = await UserStore(mongo_db).create("bob")
    async with AsyncTestClient(create_app(settings)) as client:
        client.headers["Authorization"] = f"Bearer {key}"
        body = {"name": "data.csv", "size": 100 * 2**20, "sha256": "0" * 64}  # multipart
        response = await client.post("/v1/files", json=body)
        assert response.status_code == 503, response.text
        assert "storage" in response.json()["detail"]
        assert (await client.get("/v1/jobs")).status_code == 200
    await delete_namespace(mongo_db.name)


async def test_a_full_quota_is_a_429_after_the_requests_own_problems(infra, mongo_db) -> None:
    """The image, the inputs and the owner's active jobs are read at once; a bad field is
    still named first, and a full quota stores nothing more."""
    async with gateway(infra, mongo_db, JobLimits(max_active_jobs_per_user=1), "bob") as client:
        job = {"name": "a", "script": "echo", "image": "base"}
        assert (await client.post("/v1/jobs", json=job)).status_code == 201  # stays pending
        full = await client.post("/v1/jobs", json=job)
        assert full.status_code == 429, full.text
        assert "1 pending or running jobs" in full.json()["detail"]
        bad = await client.post("/v1/jobs", json=job | {"image": "no-such-image"})
        assert bad.status_code == 422, bad.text
        assert "image" in bad.json()["detail"]
        assert await mongo_db["jobs"].count_documents({}) == 1
