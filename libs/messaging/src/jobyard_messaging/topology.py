"""RabbitMQ topology: one topic exchange, a durable quorum queue per handler with its own
dead-letter queue and delivery limit, and a stream queue that retains every message."""

from __future__ import annotations

from faststream.rabbit import ExchangeType, QueueType, RabbitBroker, RabbitExchange, RabbitQueue

from jobyard_contracts import Payload, WireNames

DELIVERY_LIMIT = 5
"""Deliveries of one message before it is dead-lettered (quorum queues count redeliveries)."""

HISTORY_MAX_AGE = "30D"


class Topology:
    def __init__(self, names: WireNames) -> None:
        self.names = names
        self.exchange = RabbitExchange(names.exchange, type=ExchangeType.TOPIC, durable=True)
        self.dead_letter_exchange = RabbitExchange(
            names.dead_letter_exchange, type=ExchangeType.DIRECT, durable=True
        )
        self._consumer_queues: list[str] = []

    def consumer_queue(self, service: str, handler: str, message: type[Payload]) -> RabbitQueue:
        """A competing-consumers queue for one handler, bound to one message type."""
        return self._queue(self.names.consumer_queue(service, handler), message.TYPE)

    def host_queue(
        self, service: str, handler: str, message: type[Payload], host: str
    ) -> RabbitQueue:
        """The queue of one host's handler: commands routed to that host (`<type>.<host>`)."""
        return self._queue(self.names.host_queue(service, handler, host), f"{message.TYPE}.{host}")

    def _queue(self, name: str, routing_key: str) -> RabbitQueue:
        self._consumer_queues.append(name)
        return RabbitQueue(
            name,
            queue_type=QueueType.QUORUM,
            durable=True,
            routing_key=routing_key,
            arguments={
                "x-delivery-limit": DELIVERY_LIMIT,
                "x-dead-letter-exchange": self.names.dead_letter_exchange,
                "x-dead-letter-routing-key": name,
                # at-least-once dead-lettering needs reject-publish overflow.
                "x-dead-letter-strategy": "at-least-once",
                "x-overflow": "reject-publish",
            },
        )

    def dead_letter_queue(self, queue: str) -> RabbitQueue:
        """Where `queue`'s messages go once their deliveries are used up."""
        return RabbitQueue(self.names.dead_letter_queue(queue), queue_type=QueueType.QUORUM)

    def history_queue(self) -> RabbitQueue:
        return RabbitQueue(
            self.names.history_stream,
            queue_type=QueueType.STREAM,
            durable=True,
            arguments={"x-max-age": HISTORY_MAX_AGE},
        )

    async def declare_support(self, broker: RabbitBroker) -> None:
        """Declare what no subscriber declares: the exchanges, each dead-letter queue, history."""
        exchange = await broker.declare_exchange(self.exchange)
        dlx = await broker.declare_exchange(self.dead_letter_exchange)
        for name in self._consumer_queues:
            dlq = await broker.declare_queue(self.dead_letter_queue(name))
            await dlq.bind(dlx, routing_key=name)
        history = await broker.declare_queue(self.history_queue())
        await history.bind(exchange, routing_key="#")
