import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from jobyard_worker import Worker

OPS = str(Path(sys.executable).with_name("jobyard-ops"))
RunOps = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_ops() -> RunOps:
    """`jobyard-ops` as an operator runs it (a process), against a worker's deployment."""

    def run(worker: Worker, *args: str) -> subprocess.CompletedProcess[str]:
        env = os.environ | {
            "JOBYARD_NAMESPACE": worker.infra.namespace,
            "JOBYARD_MONGODB_URL": worker.infra.mongodb_url,
            "JOBYARD_RABBITMQ_URL": worker.infra.rabbitmq_url,
        }
        return subprocess.run([OPS, *args], env=env, capture_output=True, text=True)

    return run
