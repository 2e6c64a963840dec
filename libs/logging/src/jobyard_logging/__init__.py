"""structlog configured once: JSON lines on stdout with contextvars (job_id, correlation_id)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog


def configure_logging(service: str, level: str = "INFO", fmt: str = "json") -> None:
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.EventRenamer("msg"), renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=True,
    )
    # Libraries (FastStream, aio-pika, uvicorn) log through stdlib: same level, same stream.
    logging.basicConfig(stream=sys.stdout, level=level, format="%(name)s %(levelname)s %(message)s")
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(service=service)


def get_logger(name: str | None = None) -> Any:
    return structlog.get_logger(name)


@contextmanager
def bound(**ids: Any) -> Iterator[None]:
    """Bind ids (job_id, correlation_id, message_id) to every log line inside the block."""
    with structlog.contextvars.bound_contextvars(**{k: str(v) for k, v in ids.items()}):
        yield


__all__ = ["bound", "configure_logging", "get_logger"]
