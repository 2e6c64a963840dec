"""Every metric a Jobyard service exposes on its health port, in one place so that names and
labels stay consistent (Prometheus conventions: `jobyard_` prefix, base units, `_total` for
counters). Each process serves its own values at `GET /metrics`."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest

MESSAGES_HANDLED = Counter(
    "jobyard_messages_handled_total",
    "Messages a handler took from its queue, by outcome (ok: acknowledged; failed: it raised "
    "and the message went back to the queue).",
    ["service", "handler", "outcome"],
)
MESSAGE_SECONDS = Histogram(
    "jobyard_message_handling_seconds",
    "Time a handler took with one message.",
    ["service", "handler"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DEAD_LETTERS = Counter(
    "jobyard_dead_letters_total",
    "Messages that arrived in a dead-letter queue (their handler kept failing).",
    ["service", "queue"],
)


OUTBOX_PENDING = Gauge(
    "jobyard_outbox_pending_messages",
    "Messages written to a job's outbox and not yet published, over all jobs. Every worker "
    "measures the same store when scraped: aggregate replicas with max(), not sum().",
)
OUTBOX_OLDEST_AGE = Gauge(
    "jobyard_outbox_oldest_message_age_seconds",
    "How long the oldest unpublished outbox message has waited (0 when there is none); the "
    "sweeper republishes after 2 s, so a growing age means publishing keeps failing.",
)
JOBS = Gauge(
    "jobyard_jobs",
    "Jobs in the store by status, counted by the scheduler every 15 s (deleted jobs until "
    "they are purged included). Replicas report the same counts: aggregate with max().",
    ["status"],
)
SANDBOXES = Gauge(
    "jobyard_sandboxes",
    "Sandboxes a host's sandbox-manager keeps, by state: running (thawed), paused (frozen) or "
    "warm (idle in the host's pool, waiting to be claimed by a job).",
    ["host", "state"],
)
STEP_SECONDS = Histogram(
    "jobyard_step_duration_seconds",
    "Time from a step's start to its recorded end, paused time included (as the timeline "
    "shows it), by job kind, step kind (script, ask: waiting for the owner's answer, command: "
    "a model's sandbox command) and outcome (succeeded, failed).",
    ["job_kind", "step_kind", "outcome"],
    buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 1800, 3600, 7200, 14400),
)
FILE_SYNC_UPLOADED_BYTES = Counter(
    "jobyard_file_sync_uploaded_bytes_total",
    "Bytes file-sync uploaded to object storage, by file kind (output, script, log).",
    ["kind"],
)
FILE_SYNC_BACKLOG = Gauge(
    "jobyard_file_sync_backlog_files",
    "Output files changed in this host's workspaces and not saved yet (settling or uploading).",
)
WEBHOOK_ATTEMPTS = Counter(
    "jobyard_webhook_attempts_total",
    "Webhook delivery attempts by outcome: delivered (2xx), pending (failed, a retry is "
    "scheduled) or failed (failed, no retry left).",
    ["outcome"],
)
WEBSOCKET_CLIENTS = Gauge(
    "jobyard_websocket_clients",
    "WebSocket clients connected to the gateway's live feeds, by feed: job (one job's events "
    "and output lines) or user (the jobs page).",
    ["feed"],
)


def exposition() -> tuple[bytes, str]:
    """This process's metrics in the Prometheus text format, and its content type."""
    return generate_latest(), CONTENT_TYPE_LATEST


__all__ = [
    "DEAD_LETTERS",
    "FILE_SYNC_BACKLOG",
    "FILE_SYNC_UPLOADED_BYTES",
    "JOBS",
    "MESSAGES_HANDLED",
    "MESSAGE_SECONDS",
    "OUTBOX_OLDEST_AGE",
    "OUTBOX_PENDING",
    "SANDBOXES",
    "STEP_SECONDS",
    "WEBHOOK_ATTEMPTS",
    "WEBSOCKET_CLIENTS",
    "exposition",
]
