"""The committed JSON Schemas and AsyncAPI document are the published contract."""

import copy
import json

import pytest

from jobyard_contracts import JobFailed
from jobyard_contracts.schema import (
    SCHEMA_DIR,
    asyncapi_document,
    check_against,
    incompatibilities,
    message_schema,
    write,
)

pytestmark = pytest.mark.unit


def test_models_match_the_committed_contract():
    assert check_against(SCHEMA_DIR) == []


def payload_of(schema):
    return schema["$defs"]["JobFailed"]


def test_removing_or_retyping_a_field_or_adding_a_required_one_is_incompatible():
    old = message_schema(JobFailed)
    removed = copy.deepcopy(old)
    del payload_of(removed)["properties"]["stderr_tail"]
    assert incompatibilities(old, removed) == ["field 'stderr_tail' removed"]

    retyped = copy.deepcopy(old)
    payload_of(retyped)["properties"]["stderr_tail"] = {"type": "integer"}
    assert "field 'stderr_tail' changed" in incompatibilities(old, retyped)[0]

    required = copy.deepcopy(old)
    payload_of(required)["properties"]["host"] = {"type": "string"}
    payload_of(required)["required"].append("host")
    assert incompatibilities(old, required) == ["new required field 'host'"]


def test_adding_an_optional_field_is_compatible():
    old = message_schema(JobFailed)
    new = copy.deepcopy(old)
    payload_of(new)["properties"]["hint"] = {"type": "string", "default": ""}
    assert incompatibilities(old, new) == []


def test_check_reports_an_incompatible_change_against_committed_files(tmp_path):
    write(tmp_path)
    path = tmp_path / "job.failed.v3.json"
    published = json.loads(path.read_text())
    payload_of(published)["properties"]["legacy"] = {"type": "string"}
    path.write_text(json.dumps(published))
    assert "job.failed v3: field 'legacy' removed" in check_against(tmp_path)


def test_a_new_enum_value_is_incompatible():
    old = message_schema(JobFailed)
    new = copy.deepcopy(old)
    new["$defs"]["FailureReason"]["enum"].append("gremlins")
    assert incompatibilities(old, new) == [
        f"enum FailureReason changed from {old['$defs']['FailureReason']['enum']}"
    ]


def test_asyncapi_lists_every_message_on_the_topic_exchange():
    doc = asyncapi_document()
    assert doc["asyncapi"] == "3.0.0"
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {"job.submitted", "sandbox.run-step", "job.completed", "job.failed"} <= addresses
    binding = doc["channels"]["JobSubmitted"]["bindings"]["amqp"]["exchange"]
    assert binding == {"name": "jobyard.messages", "type": "topic", "durable": True}
