"""The one envelope every command and event travels in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Literal, Self
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

MessageKind = Literal["event", "command"]


class Payload(BaseModel):
    """Base of every command and event body.

    `TYPE` names the message on the wire and doubles as its routing key; `VERSION` is bumped only
    for a breaking change, which then ships with an upcaster (see `catalog.upcast`).
    """

    # A consumer reads a newer producer's optional fields as absent: adding one never breaks it.
    model_config = ConfigDict(frozen=True, extra="ignore")

    TYPE: ClassVar[str]
    VERSION: ClassVar[int] = 1
    KIND: ClassVar[MessageKind] = "event"


class Envelope[P: Payload](BaseModel):
    """Metadata shared by every message; the body is in `payload`."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    id: UUID = Field(description="Unique message id; consumers deduplicate on it.")
    type: str = Field(description="Message type, e.g. `job.submitted`; also its routing key.")
    version: int = Field(ge=1, description="Schema version of the payload.")
    occurred_at: AwareDatetime = Field(description="When the state change happened (UTC).")
    job_id: str = Field(min_length=1, description="The job this message is about.")
    user_id: str = Field(min_length=1, description="Owner of the job.")
    correlation_id: UUID = Field(description="Shared by every message of one job's lifecycle.")
    causation_id: UUID | None = Field(
        default=None, description="Id of the message that caused this one, if any."
    )
    sequence: int = Field(
        ge=1, description="Per-job position: events of one job are totally ordered by it."
    )
    payload: P

    @model_validator(mode="after")
    def _type_matches_payload(self) -> Self:
        expected = getattr(type(self.payload), "TYPE", None)
        if expected is not None and (self.type, self.version) != (
            expected,
            type(self.payload).VERSION,
        ):
            raise ValueError(
                f"envelope says {self.type} v{self.version} but payload is "
                f"{expected} v{type(self.payload).VERSION}"
            )
        return self


def envelope_for[P: Payload](
    payload: P,
    *,
    job_id: str,
    user_id: str,
    correlation_id: UUID,
    sequence: int,
    causation_id: UUID | None = None,
    occurred_at: datetime | None = None,
) -> Envelope[P]:
    """Wrap a payload in a fresh envelope."""
    # Parameterised with the payload's concrete class so it serialises every payload field.
    concrete: type[Envelope[P]] = Envelope.__class_getitem__(type(payload))  # type: ignore[assignment]
    return concrete(
        id=uuid4(),
        type=payload.TYPE,
        version=payload.VERSION,
        occurred_at=occurred_at or datetime.now(UTC),
        job_id=job_id,
        user_id=user_id,
        correlation_id=correlation_id,
        causation_id=causation_id,
        sequence=sequence,
        payload=payload,
    )
