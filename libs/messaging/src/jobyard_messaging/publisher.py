"""The one way to publish: envelopes to the topic exchange, persistent, with confirms awaited
together rather than one at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faststream.rabbit import RabbitBroker

from jobyard_contracts import routing_key
from jobyard_messaging.topology import Topology


class EnvelopePublisher:
    def __init__(self, broker: RabbitBroker, topology: Topology) -> None:
        self._broker = broker
        self._topology = topology

    async def publish(self, envelopes: Sequence[dict[str, Any]]) -> None:
        """Publish JSON envelopes; returns once the broker confirmed every one of them."""
        await asyncio.gather(*(self._publish_one(e) for e in envelopes))

    async def _publish_one(self, envelope: dict[str, Any]) -> None:
        await self._broker.publish(
            envelope,
            exchange=self._topology.exchange,
            routing_key=routing_key(envelope),
            persist=True,
            message_id=envelope["id"],
            correlation_id=envelope["correlation_id"],
            message_type=envelope["type"],
            content_type="application/json",
            # Unroutable messages are fine: the history stream is always bound.
            mandatory=False,
        )
