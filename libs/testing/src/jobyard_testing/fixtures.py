"""Pytest fixtures for real infrastructure, in one place (loaded as the `jobyard` plugin).

They never start brokers themselves (`make test` does, via scripts/stack.sh infra); they check
that each is there and fail with the command to run if not.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from jobyard import Jobyard
from jobyard_agent.domain.planning import Budgets
from jobyard_settings import InfraSettings
from jobyard_testing.cleanup import S3_STANDIN, delete_namespace_sync, empty_bucket
from jobyard_testing.containers import remove_namespace_containers
from jobyard_testing.model_server import MODEL_API_KEY, ModelServer, model_server
from jobyard_testing.replays import KEEP_HISTORIES, planner_budgets, replay_every_job
from jobyard_testing.stack import SERVICES, Stack, accepting
from jobyard_testing.webhook_receiver import webhook_receiver

__all__ = ["model_server", "webhook_receiver"]  # fixtures of this plugin, beside their servers

MONGO_STANDIN = "mongodb://127.0.0.1:27017/?directConnection=true"
REQUIRED = {"RabbitMQ": 5672, "NATS": 4222}


def unique_namespace(prefix: str = "t") -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture(scope="session")
def infra_env() -> Iterator[dict[str, str]]:
    """Environment of a fresh namespace against the shared brokers and stores; the namespace's
    queues and exchanges are deleted at the end of the session."""
    missing = [name for name, port in REQUIRED.items() if not accepting(port)]
    mongo_url = os.environ.get("MONGODB_URL", MONGO_STANDIN)
    if "MONGODB_URL" not in os.environ and not accepting(27017):
        missing.append("MongoDB stand-in")
    if "S3_ENDPOINT" not in os.environ and not accepting(9000):
        missing.append("S3 stand-in")
    if missing:
        pytest.fail(f"{', '.join(missing)} not running: run `scripts/stack.sh infra` first")
    namespace = unique_namespace()
    yield {
        "JOBYARD_NAMESPACE": namespace,
        "JOBYARD_MONGODB_URL": mongo_url,
        "JOBYARD_S3_ENDPOINT": os.environ.get("S3_ENDPOINT", S3_STANDIN),
        "JOBYARD_LOG_LEVEL": "INFO",
    }
    delete_namespace_sync(namespace)
    empty_bucket(namespace)


@pytest.fixture(scope="session")
def infra(infra_env: dict[str, str]) -> InfraSettings:
    return InfraSettings(
        namespace=infra_env["JOBYARD_NAMESPACE"], mongodb_url=infra_env["JOBYARD_MONGODB_URL"]
    )


@pytest.fixture
async def mongo_db(infra: InfraSettings) -> AsyncIterator[Any]:
    """A database of its own for one test, dropped afterwards."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(infra.mongodb_url, tz_aware=True)
    name = unique_namespace("db")
    yield client[name]
    await client.drop_database(name)
    await client.close()


@pytest.fixture(scope="session")
def docker_available() -> None:
    if subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.fail("Docker engine not running: run `scripts/stack.sh infra` first")


def stack_env(
    infra_env: dict[str, str], model_server: ModelServer, state_dir: Path
) -> dict[str, str]:
    """The services' settings in tests: quick retries and small budgets, so that failures and
    exhausted budgets show within a test; the planner talks to the scripted model server."""
    return {
        **infra_env,
        "JOBYARD_SANDBOX_POLL_SECONDS": "0.5",
        # The suite reads runc's cgroup files inside sandboxes; gVisor has its own tests.
        "JOBYARD_SANDBOX_RUNTIME": "runc",
        "JOBYARD_SANDBOX_HOST_ID": "host-a",
        "JOBYARD_SANDBOX_STATE_DIR": str(state_dir),
        "JOBYARD_SANDBOX_DISK_MB": "1024",
        "JOBYARD_LIMITS_MAX_ACTIVE_JOBS_PER_USER": "8",
        "JOBYARD_GATEWAY_ADMIN_TOKEN": secrets.token_urlsafe(24),
        "JOBYARD_LLM_BASE_URL": model_server.base_url,
        "JOBYARD_LLM_MODEL": "scripted",
        "JOBYARD_LLM_API_KEY": MODEL_API_KEY,
        "JOBYARD_LLM_TIMEOUT_SECONDS": "8",
        "JOBYARD_LLM_ATTEMPTS": "3",
        "JOBYARD_LLM_BACKOFF_SECONDS": "0.2",
        "JOBYARD_LLM_BACKOFF_MAX_SECONDS": "1",
        "JOBYARD_LLM_MAX_MODEL_CALLS": "12",
        "JOBYARD_LLM_MAX_COMMANDS_PER_STEP": "4",
        "JOBYARD_FILESYNC_SETTLE_SECONDS": "0.5",
        "JOBYARD_FILESYNC_RESCAN_SECONDS": "3",
        # Webhook receivers of the tests listen on loopback; retries within a test's time.
        "JOBYARD_WEBHOOKS_ALLOWED_NETWORKS": '["127.0.0.0/8"]',
        "JOBYARD_NOTIFICATIONS_RETRY_SCHEDULE": "[0.5, 1, 2, 4, 8, 16]",
        "JOBYARD_NOTIFICATIONS_TIMEOUT_SECONDS": "2",
        "JOBYARD_NOTIFICATIONS_POLL_SECONDS": "0.5",  # new deliveries wake it at once
        "JOBYARD_LIVE_SEND_TIMEOUT_SECONDS": "2",  # a client that stops reading, found soon
    }


@pytest.fixture(scope="session")
def stack(
    infra_env: dict[str, str],
    infra: InfraSettings,
    docker_available: None,
    model_server: ModelServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Stack]:
    """Every service as its own process (settings: `stack_env`), started once per test
    session; it ends by replaying every job it ran."""
    log_dir = Path(os.environ.get("JOBYARD_TEST_LOGS", tmp_path_factory.mktemp("stack-logs")))
    log_dir.mkdir(parents=True, exist_ok=True)
    stack = Stack(
        namespace=infra_env["JOBYARD_NAMESPACE"],
        env=stack_env(infra_env, model_server, tmp_path_factory.mktemp("sandbox-state")),
        log_dir=log_dir,
    )
    try:
        for service in SERVICES:
            stack.start(service)
        yield stack
        _check_replays(infra, planner_budgets(stack.env))
    finally:
        stack.stop_all()
        remove_namespace_containers(stack.namespace)
        _unmount_disks(tmp_path_factory.getbasetemp())


def _check_replays(infra: InfraSettings, budgets: Budgets) -> None:
    """Every job of the session, replayed through the services' rules, comes out as its
    history recorded it and as its document stores it."""
    keep = os.environ.get(KEEP_HISTORIES)
    found = asyncio.run(replay_every_job(infra, budgets, Path(keep) if keep else None))
    if found:
        lines = [f"{job_id}: {'; '.join(diff)}" for job_id, diff in sorted(found.items())]
        pytest.fail("history and document disagree:\n" + "\n".join(lines), pytrace=False)


def _unmount_disks(state_dir: Path) -> None:
    """Job disks of this session's hosts still mounted (stateful workspaces are kept for the
    next run of their name; a killed host leaves its disks)."""
    mounts = Path("/proc/mounts").read_text().splitlines()
    for target in [line.split()[1] for line in mounts]:
        if target.startswith(str(state_dir)):
            subprocess.run(["umount", "--lazy", target], capture_output=True)


@pytest.fixture(scope="session")
def api_key(stack: Stack) -> str:
    return stack.new_user(unique_namespace("user"))


@pytest.fixture
def sdk(stack: Stack, api_key: str) -> Iterator[Jobyard]:
    """The SDK as a user would construct it, against the test stack."""
    with Jobyard(api_key=api_key, base_url=stack.base_url) as client:
        yield client


@pytest.fixture
def jobyard_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where the SDK keeps SSH keys, private to one test."""
    monkeypatch.setenv("JOBYARD_HOME", str(tmp_path / "jobyard-home"))
    return tmp_path / "jobyard-home"


@pytest.fixture
async def api(stack: Stack, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {api_key}"}
    async with httpx.AsyncClient(base_url=stack.base_url, headers=headers, timeout=30) as client:
        yield client
