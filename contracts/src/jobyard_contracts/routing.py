"""Names on the wire: exchanges, queues and NATS subjects, derived from one namespace.

A namespace (default `jobyard`) prefixes everything so several stacks, e.g. parallel test runs,
share one RabbitMQ, NATS and MongoDB without seeing each other.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class WireNames:
    namespace: str = "jobyard"

    @property
    def exchange(self) -> str:
        """Topic exchange every command and event is published to, keyed by message type."""
        return f"{self.namespace}.messages"

    @property
    def dead_letter_exchange(self) -> str:
        return f"{self.namespace}.dead-letter"

    @property
    def history_stream(self) -> str:
        """Stream queue bound to `#`: retains every message for replay."""
        return f"{self.namespace}.history"

    def consumer_queue(self, service: str, handler: str) -> str:
        return f"{self.namespace}.{service}.{handler}"

    def host_queue(self, service: str, handler: str, host: str) -> str:
        """A queue only one host's instance of a service consumes (commands for its sandboxes)."""
        return f"{self.namespace}.{service}.{handler}.{host}"

    @staticmethod
    def dead_letter_queue(queue: str) -> str:
        return f"{queue}.dlq"

    def live_logs_subject(self, job_id: str) -> str:
        """NATS subject carrying a job's log lines as they are stored (lossy, live only)."""
        return f"{self.namespace}.jobs.{job_id}.logs"

    def live_events_subject(self, job_id: str) -> str:
        """NATS subject carrying a job's events as they are published (lossy, live only)."""
        return f"{self.namespace}.jobs.{job_id}.events"

    def live_user_subject(self, user_id: str) -> str:
        """NATS subject carrying what one user's live feed shows: their jobs' events and their
        notifications, as `{"type": "event" | "notification", ...}` (lossy, live only)."""
        return f"{self.namespace}.users.{user_id}.live"
