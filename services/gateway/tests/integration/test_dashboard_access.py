"""The dashboard's sign-in over HTTP: a session cookie instead of the key, the CSRF token it
needs for changes through the API, one-time sign-in links, pages only for the signed-in user
and out of the OpenAPI document."""

import re

import pytest
from litestar.testing import AsyncTestClient

from jobyard_gateway.app import create_app
from jobyard_gateway.dashboard.sessions import SESSION_COOKIE
from jobyard_gateway.settings import GatewaySettings
from jobyard_testing.cleanup import delete_namespace

pytestmark = pytest.mark.integration

ADMIN = "admin-token-for-dashboard-tests"


@pytest.fixture
async def client(infra, mongo_db):
    settings = GatewaySettings(
        infra=infra.model_copy(update={"namespace": mongo_db.name}), admin_token=ADMIN
    )
    async with AsyncTestClient(create_app(settings)) as client:
        yield client
    await delete_namespace(mongo_db.name)


async def new_key(client, name):
    answer = await client.post(
        "/v1/users", json={"name": name}, headers={"Authorization": f"Bearer {ADMIN}"}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()["api_key"]


def csrf_of(page_html):
    return re.search(r'name="csrf-token" content="([^"]+)"', page_html).group(1)


async def test_pages_need_a_session_and_the_key_becomes_one(client):
    key = await new_key(client, "ada")
    away = await client.get("/dashboard/jobs?status=failed", follow_redirects=False)
    assert away.status_code == 303
    back = "%2Fdashboard%2Fjobs%3Fstatus%3Dfailed"
    assert away.headers["location"] == f"/dashboard/sign-in?next={back}"

    wrong = await client.post("/dashboard/sign-in", data={"api_key": "jy_nope"})
    assert wrong.status_code == 401
    assert "not valid" in wrong.text

    signed = await client.post(
        "/dashboard/sign-in",
        data={"api_key": key, "next": "/dashboard/files"},
        follow_redirects=False,
    )
    assert signed.status_code == 303
    assert signed.headers["location"] == "/dashboard/files"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert key not in cookie
    page = await client.get("/dashboard/files")
    assert page.status_code == 200
    assert "ada" in page.text


async def test_the_api_takes_the_cookie_and_changes_need_its_csrf_token(client):
    key = await new_key(client, "bob")
    await client.post("/dashboard/sign-in", data={"api_key": key})
    assert (await client.get("/v1/jobs")).status_code == 200
    refused = await client.post("/v1/live-tokens")
    assert refused.status_code == 403
    token = csrf_of((await client.get("/dashboard/jobs")).text)
    allowed = await client.post("/v1/live-tokens", headers={"X-CSRF-Token": token})
    assert allowed.status_code == 201

    page = await client.get("/dashboard/jobs")
    out = await client.post(
        "/dashboard/sign-out", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False
    )
    assert out.status_code == 303
    client.cookies.clear()
    assert (await client.get("/v1/jobs")).status_code == 401


async def test_a_sign_in_link_works_once(client):
    key = await new_key(client, "cy")
    made = await client.post("/v1/sign-in-links", headers={"Authorization": f"Bearer {key}"})
    assert made.status_code == 201
    link = made.json()["url"]
    first = await client.get(f"{link}&next=/dashboard/notifications", follow_redirects=False)
    assert first.status_code == 303
    assert first.headers["location"] == "/dashboard/notifications"
    assert SESSION_COOKIE in first.headers["set-cookie"]
    client.cookies.clear()
    again = await client.get(link, follow_redirects=False)
    assert again.status_code == 401
    assert "expired or was used" in again.text


async def test_another_users_job_is_not_found_and_pages_stay_out_of_the_schema(client):
    key = await new_key(client, "dee")
    await client.post("/dashboard/sign-in", data={"api_key": key})
    missing = await client.get("/dashboard/jobs/job_someone_elses")
    assert missing.status_code == 404
    assert "Not found" in missing.text
    schema = (await client.get("/schema/openapi.json")).json()
    assert not [path for path in schema["paths"] if "dashboard" in path or "sign-in" in path]
