from uuid import uuid4

import pytest
from pydantic import ValidationError

from jobyard_contracts import (
    Envelope,
    FailureReason,
    JobAdmitted,
    JobFailed,
    envelope_for,
    parse_envelope,
)
from jobyard_contracts.catalog import UnknownMessageError

pytestmark = pytest.mark.unit


def make(payload=None):
    return envelope_for(
        payload or JobFailed(exit_code=3, reason=FailureReason.EXIT_CODE, stderr_tail="boom"),
        job_id="job_1",
        user_id="usr_1",
        correlation_id=uuid4(),
        sequence=4,
    )


def test_round_trip_through_json_keeps_type_and_payload():
    envelope = make()
    parsed = parse_envelope(envelope.model_dump(mode="json"))
    assert parsed == envelope
    assert parsed.type == "job.failed"
    assert parsed.version == JobFailed.VERSION
    assert isinstance(parsed.payload, JobFailed)


def test_envelope_rejects_a_type_that_does_not_match_its_payload():
    raw = make(JobAdmitted()).model_dump(mode="json")
    raw["type"] = "job.completed"
    with pytest.raises(ValidationError, match=r"envelope says job\.completed"):
        Envelope[JobAdmitted].model_validate(raw)


def test_an_unknown_optional_field_of_a_known_version_is_ignored_but_unknown_types_are_not():
    # A newer producer may add an optional field; a running consumer must keep working.
    raw = make().model_dump(mode="json")
    parsed = parse_envelope({**raw, "payload": {**raw["payload"], "surprise": 1}})
    assert parsed.payload == make().payload
    with pytest.raises(ValidationError):
        parse_envelope({**raw, "payload": {**raw["payload"], "reason": "exploded"}})
    with pytest.raises(UnknownMessageError):
        parse_envelope({**raw, "type": "job.exploded"})


def test_a_v1_message_is_upcast_to_the_current_version():
    raw = make().model_dump(mode="json")
    parsed = parse_envelope({**raw, "version": 1})
    assert (parsed.version, parsed.payload.reason) == (JobFailed.VERSION, FailureReason.EXIT_CODE)


def test_sequence_starts_at_one():
    raw = make().model_dump(mode="json")
    with pytest.raises(ValidationError, match="sequence"):
        parse_envelope({**raw, "sequence": 0})
