"""The agent process: `jobyard-agent`."""

from __future__ import annotations

from jobyard_agent import handlers
from jobyard_agent.settings import AgentSettings
from jobyard_worker import Worker


def create_worker(settings: AgentSettings | None = None) -> Worker:
    settings = settings or AgentSettings()
    worker = Worker("agent", settings.infra)
    handlers.register(worker, settings.planner)
    return worker


def main() -> None:
    settings = AgentSettings()
    create_worker(settings).run(settings.health_host, settings.health_port)
