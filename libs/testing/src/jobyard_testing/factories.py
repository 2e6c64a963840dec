"""Job documents for tests of the pure domain rules."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from jobyard_contracts import Resources
from jobyard_store import JobDocument, StepState


def make_job(steps: int = 1, **overrides: Any) -> JobDocument:
    fields: dict[str, Any] = {
        "_id": f"job_{uuid4().hex[:20]}",
        "user_id": "usr_test",
        "name": "test",
        "image": "jobyard/sandbox-minimal:latest",
        "resources": Resources(vcpus=1, memory_mb=256, timeout_seconds=None),
        "steps": [StepState(index=i, title=f"step {i}", script=f"echo {i}") for i in range(steps)],
        "created_at": datetime.now(UTC),
        "correlation_id": str(uuid4()),
    }
    return JobDocument(**(fields | overrides))
