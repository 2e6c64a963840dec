"""Schemathesis against the running gateway, from its committed OpenAPI document: whatever a
client sends (valid or not, by schema and beyond it), the answer is never a 5xx. Bounded: a
few examples per operation, as a signed-in user (and a few without a key)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.generation.case import Case

from jobyard_testing.stack import Stack

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

SCHEMA = schemathesis.openapi.from_path(
    Path(__file__).parents[2] / "services" / "gateway" / "openapi.json"
)


@pytest.fixture(scope="module")
def fuzz_key(stack: Stack) -> str:
    return stack.new_user("fuzz")


@SCHEMA.parametrize()
@settings(
    max_examples=12,
    deadline=None,
    derandomize=True,  # the same cases every run: a failure reproduces
    suppress_health_check=list(HealthCheck),
)
def test_no_request_gets_a_server_error(case: Case, stack: Stack, fuzz_key: str) -> None:
    headers = {"Authorization": f"Bearer {fuzz_key}"}
    answer = case.call(base_url=stack.base_url, headers=headers, timeout=30)
    assert answer.status_code < 500, f"{case.method} {case.formatted_path}: {answer.text[:500]}"


def test_the_committed_document_is_the_one_served(stack: Stack) -> None:
    served = httpx.get(f"{stack.base_url}/schema/openapi.json", timeout=10).json()
    assert served["paths"].keys() == SCHEMA.raw_schema["paths"].keys()
