"""MongoDB through PyMongo's async API (`AsyncMongoClient`, the successor of Motor)."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from jobyard_settings import InfraSettings
from jobyard_store.conversation import (
    ChatMessage,
    PlannerState,
    Prompt,
    TodoItem,
    ToolCallState,
    Turn,
)
from jobyard_store.dead_letters import DeadLetter, DeadLetters
from jobyard_store.documents import (
    ContainerState,
    JobDocument,
    PauseInfo,
    SandboxContainer,
    SandboxRun,
    SandboxState,
    Session,
    SshEndpoint,
    StepState,
)
from jobyard_store.events import EventLog, StoredEvent
from jobyard_store.files import FileRecord, FileRepository
from jobyard_store.hosts import HostRegistry, HostReport
from jobyard_store.images import ImageRegistry, SandboxImage
from jobyard_store.jobs import Applied, Change, Decide, JobNotFoundError, JobRepository
from jobyard_store.logs import LogLine, LogStore, Stream


def connect(
    settings: InfraSettings,
) -> tuple[AsyncMongoClient[dict[str, Any]], AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        settings.mongodb_url, tz_aware=True, serverSelectionTimeoutMS=10_000
    )
    return client, client[settings.database]


async def ensure_indexes(db: AsyncDatabase[dict[str, Any]]) -> None:
    await JobRepository(db).ensure_indexes()
    await LogStore(db).ensure_indexes()
    await FileRepository(db).ensure_indexes()
    await EventLog(db).ensure_indexes()
    await DeadLetters(db).ensure_indexes()


__all__ = [
    "Applied",
    "Change",
    "ChatMessage",
    "ContainerState",
    "DeadLetter",
    "DeadLetters",
    "Decide",
    "EventLog",
    "FileRecord",
    "FileRepository",
    "HostRegistry",
    "HostReport",
    "ImageRegistry",
    "JobDocument",
    "JobNotFoundError",
    "JobRepository",
    "LogLine",
    "LogStore",
    "PauseInfo",
    "PlannerState",
    "Prompt",
    "SandboxContainer",
    "SandboxImage",
    "SandboxRun",
    "SandboxState",
    "Session",
    "SshEndpoint",
    "StepState",
    "StoredEvent",
    "Stream",
    "TodoItem",
    "ToolCallState",
    "Turn",
    "connect",
    "ensure_indexes",
]
