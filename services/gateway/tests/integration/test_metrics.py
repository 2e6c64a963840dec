"""`GET /metrics` of the gateway: served without an API key (like the health checks) and kept
out of the OpenAPI document."""

import pytest
from litestar.testing import AsyncTestClient

from jobyard_gateway.app import create_app
from jobyard_gateway.settings import GatewaySettings
from jobyard_testing.cleanup import delete_namespace
from jobyard_testing.metrics import Scrape

pytestmark = pytest.mark.integration


@pytest.fixture
async def client(infra, mongo_db):
    settings = GatewaySettings(infra=infra.model_copy(update={"namespace": mongo_db.name}))
    async with AsyncTestClient(create_app(settings)) as client:
        yield client
    await delete_namespace(mongo_db.name)


async def test_metrics_need_no_key_and_stay_out_of_the_api_document(client):
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    assert "jobyard_websocket_clients" in Scrape(response.text).families
    schema = (await client.get("/schema/openapi.json")).json()
    assert "/metrics" not in schema["paths"]
    assert "/healthz" in schema["paths"]
