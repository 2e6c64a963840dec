from __future__ import annotations

from typing import Any

from faststream.rabbit import RabbitBroker
from litestar import Response, get
from litestar.di import NamedDependency
from pymongo.asynchronous.database import AsyncDatabase

from jobyard_metrics import exposition


@get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """Liveness: the process serves requests."""
    return {"status": "ok"}


@get("/metrics", include_in_schema=False, sync_to_thread=False)
def metrics() -> Response[bytes]:
    """This process's Prometheus metrics (text exposition format)."""
    body, content_type = exposition()
    return Response(body, media_type=content_type)


@get("/readyz", tags=["health"])
async def readyz(
    db: NamedDependency[AsyncDatabase[dict[str, Any]]], broker: NamedDependency[RabbitBroker]
) -> Response[dict[str, Any]]:
    """Readiness: MongoDB and RabbitMQ answer."""
    checks: dict[str, bool] = {}
    try:
        await db.command("ping")
        checks["mongodb"] = True
    except Exception:
        checks["mongodb"] = False
    checks["rabbitmq"] = await broker.ping(timeout=2.0)
    ok = all(checks.values())
    return Response(
        {"status": "ok" if ok else "unavailable", **checks}, status_code=200 if ok else 503
    )
