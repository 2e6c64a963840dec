"""Messaging on FastStream over aio-pika."""

from jobyard_messaging.publisher import EnvelopePublisher
from jobyard_messaging.relay import OutboxRelay
from jobyard_messaging.topology import DELIVERY_LIMIT, Topology

__all__ = ["DELIVERY_LIMIT", "EnvelopePublisher", "OutboxRelay", "Topology"]
